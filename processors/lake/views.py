"""The shipped DuckDB views (`dashboards/sql/<view>.sql`) and the order they are defined in.

Each file holds one `CREATE OR REPLACE VIEW`. The table views read `raw_<table>` relations
(see `sources.raw_name`), which the caller binds to the lake's files; every other view reads the
table views. So the SQL carries no path at all: the lake root enters only through `raw_<table>`.
To use the files without Python, define the raw relations first, e.g.
`CREATE VIEW raw_uploads AS SELECT * FROM read_parquet('<root>/lake/uploads/*/*.parquet',
hive_partitioning = true);` (hive `dt` and the in-file `dt` agree: the writer names the folder
from the column).

Where a filter has to act before a view counts (a platform: one media targets several), its file
first defines a table macro `<view>_for(...)` and the view is that macro given NULL, i.e. no
filter, so the API's filtered figures and the view's come from one query (`compliance_daily`,
`violation_counts`, `latency_daily`).
"""

from __future__ import annotations

from importlib import resources
from typing import Final

import duckdb

from schemas.lake import TABLES

DERIVED_VIEWS: Final = (
    "media_status",
    "compliance_daily",
    "violation_counts",
    "latency_daily",
    "costs_daily",
    "result_platforms",
    "media_reviews",
    "media_decisions",
)
VIEWS: Final = (*TABLES, *DERIVED_VIEWS)  # dependencies first


def view_sql(name: str) -> str:
    """Text of one shipped view (with the macro it is made of, if any), from `dashboards`."""
    if name not in VIEWS:
        msg = f"no shipped view {name!r}; known: {', '.join(VIEWS)}"
        raise ValueError(msg)
    return resources.files("dashboards").joinpath("sql", f"{name}.sql").read_text("utf-8")


def define_views(con: duckdb.DuckDBPyConnection) -> None:
    """Create or replace every shipped view; the `raw_<table>` relations must exist already."""
    for name in VIEWS:
        con.execute(view_sql(name))
