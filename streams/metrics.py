"""Prometheus metrics of the worker (served on `worker.web_port`)."""

from prometheus_client import Counter, Gauge, Histogram

EVENTS = Counter(
    "reelscope_worker_events_total", "Events handled, by stage and outcome", ["stage", "outcome"]
)
DEADLETTERS = Counter(
    "reelscope_deadletters_total", "Messages sent to the dead-letter topic", ["stage", "error_type"]
)
STAGE_SECONDS = Histogram(
    "reelscope_stage_seconds",
    "Time spent per event in a stage",
    ["stage"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120),
)
JOIN_PENDING = Gauge("reelscope_join_pending", "Media waiting for their other half")
LAKE_ROWS = Counter("reelscope_lake_rows_total", "Rows written to the lake", ["table"])
LAKE_FILES = Counter("reelscope_lake_files_total", "Parquet objects written", ["table"])
