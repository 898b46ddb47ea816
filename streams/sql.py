"""`reelscope sql`: DuckDB over the lake with the shipped views, for analysts."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

from processors.config import Settings
from processors.lake.query import Lake


def render(columns: list[str], rows: list[tuple[Any, ...]], most: int = 200) -> str:
    """A plain text table, as wide as its widest cell per column."""
    cells = [[("" if v is None else str(v)) for v in row] for row in rows[:most]]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    if len(rows) > most:
        lines.append(f"… {len(rows) - most} more rows")
    return "\n".join(lines)


def run_sql(settings: Settings, query: str | None) -> int:
    lake = Lake(settings.store.open())
    con = lake.connection()
    for q in [query] if query else _prompt():
        try:
            cur = con.execute(q)
        except Exception as e:  # DuckDB raises many types; show the message, keep going
            print(f"error: {e}", file=sys.stderr)
            if query:
                return 1
            continue
        if cur.description:
            print(render([d[0] for d in cur.description], cur.fetchall()))
    return 0


def _prompt() -> Iterator[str]:
    """Yield queries typed at a prompt, each ended by ';', until Ctrl-D."""
    print(
        "DuckDB over the lake; views: uploads, brand_checks, analyses, media_results, "
        "deadletters, media_status, …  (end a query with ';', Ctrl-D to quit)"
    )
    buffer = ""
    while True:
        try:
            line = input("        ...> " if buffer else "reelscope> ")
        except EOFError:
            return
        buffer += line + "\n"
        if buffer.rstrip().endswith(";"):
            yield buffer
            buffer = ""
