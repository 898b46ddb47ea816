"""The Parquet lake: a replay-safe writer, DuckDB views over it, and the queries the API asks.

Layout: `lake/<table>/dt=<YYYY-MM-DD>/<topic>+<partition>+<first_offset>.parquet`, one explicit
Arrow schema per table (`schemas.lake`). Import `Lake` from `processors.lake.query` (it pulls in
DuckDB) and `LakeWriter` from `processors.lake.writer`.
"""

from processors.lake.writer import LakeWriter, object_key

__all__ = ["LakeWriter", "object_key"]
