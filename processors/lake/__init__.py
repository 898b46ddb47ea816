"""The Parquet lake: a replay-safe writer, compaction, DuckDB views over it, the API's queries.

Layout and file naming: `processors.lake.layout`. Import `Lake` from `processors.lake.query`
(it pulls in DuckDB) and `LakeWriter` from `processors.lake.writer`.
"""
