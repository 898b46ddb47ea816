"""Prometheus metrics of the worker (served on `worker.web_port`)."""

from collections.abc import Mapping
from datetime import date

from prometheus_client import Counter, Gauge, Histogram

from processors.analyzers.gemini.options import GeminiOptions
from processors.budget import FLEET, PERIODS, Snapshot
from processors.cgroup import CgroupCollector
from schemas.events import MediaAnalysis, MediaResult
from schemas.lake import TABLE_OF_TOPIC
from streams.codec import DECODE_ERRORS

CGROUP = CgroupCollector()  # the container's CPU and memory (pool children included), per scrape
EVENTS = Counter(
    "reelscope_worker_events_total", "Events handled, by stage and outcome", ["stage", "outcome"]
)
DEADLETTERS = Counter(
    "reelscope_deadletters_total", "Messages sent to the dead-letter topic", ["stage", "error_type"]
)
# every stage and error type a dead letter can carry, at 0 from start-up: the alert fires on the
# first dead letter, which a series born at 1 would hide from increase()
DEADLETTER_KINDS = (
    *(("intake", e) for e in DECODE_ERRORS),
    *(("join", e) for e in (*DECODE_ERRORS, "join_timeout")),
    ("lake", "unwritable"),
)
for _stage, _error_type in DEADLETTER_KINDS:
    DEADLETTERS.labels(_stage, _error_type)
STAGE_SECONDS = Histogram(
    "reelscope_stage_seconds",
    "Time spent per event in a stage",
    ["stage"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120),
)
JOIN_PENDING = Gauge("reelscope_join_pending", "Media waiting for their other half")
PUBLISH_WAITING = Gauge(
    "reelscope_publish_waiting",
    "Outputs waiting for the broker to accept them (their inputs stay unacknowledged)",
    ["topic"],
)
LAKE_ROWS = Counter("reelscope_lake_rows_total", "Rows written to the lake", ["table"])
LAKE_FILES = Counter("reelscope_lake_files_total", "Parquet objects written", ["table"])
LAKE_BYTES = Counter("reelscope_lake_bytes_total", "Parquet bytes written", ["table"])
for _table in sorted({t.name for t in TABLE_OF_TOPIC.values()}):
    for _series in (LAKE_ROWS, LAKE_FILES, LAKE_BYTES):
        _series.labels(_table)
LAKE_DELAY = Histogram(
    "reelscope_lake_delay_seconds",
    "How long the oldest record of a lake flush waited on its topic before it was durable in "
    'the lake (the flush itself is reelscope_stage_seconds{stage="lake"})',
    buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900),
)
RESULT_LATENCY = Histogram(
    "reelscope_result_latency_seconds",
    "From an upload's acceptance to its first published result, by media kind (unknown: "
    "unreadable); a resumed analysis's second result is not timed",
    ["kind"],
    buckets=(0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120, 300),
)
for _kind in ("image", "video", "unknown"):
    RESULT_LATENCY.labels(_kind)


def time_result(result: MediaResult) -> None:
    media = result.analysis.media or result.brand_check.media
    kind = media.kind if media is not None else "unknown"
    waited = (result.occurred_at - result.source.accepted_at).total_seconds()
    RESULT_LATENCY.labels(kind).observe(max(0.0, waited))


ANALYSES = Counter(
    "reelscope_analyses_total",
    "Analyses by analyzer and status (deferred: refused over budget, to be run later)",
    ["analyzer", "status"],
)
ANALYSIS_CACHE_HITS = Counter(
    "reelscope_analysis_cache_hits_total", "Analyses answered from the cache", ["analyzer"]
)
ANALYSIS_COST_USD = Counter(
    "reelscope_analysis_cost_usd_total", "Model spend in USD (from usage metadata)", ["model"]
)
ANALYSIS_TOKENS = Counter(
    "reelscope_analysis_tokens_total", "Model tokens billed", ["model", "direction"]
)


def record_analysis(analysis: MediaAnalysis) -> None:
    """Count one analysis: its outcome, a cache hit, and the tokens and dollars it cost."""
    ANALYSES.labels(analysis.analyzer, analysis.status).inc()
    if analysis.cached:
        ANALYSIS_CACHE_HITS.labels(analysis.analyzer).inc()
    if analysis.model is None:
        return
    usage = analysis.usage
    ANALYSIS_COST_USD.labels(analysis.model).inc(usage.cost_usd or 0.0)
    ANALYSIS_TOKENS.labels(analysis.model, "input").inc(usage.input_tokens or 0)
    ANALYSIS_TOKENS.labels(analysis.model, "output").inc(usage.output_tokens or 0)


BUDGET_LABELS = ["period", "brand"]  # brand "": the fleet; else a brand with a limit or spend
BUDGET_SPENT = Gauge(
    "reelscope_budget_spent_usd",
    "Gemini spend booked in the fleet's ledger this UTC day or month (reserved or settled)",
    BUDGET_LABELS,
)
BUDGET_LIMIT = Gauge(
    "reelscope_budget_limit_usd",
    "The Gemini budget of the day or month (+Inf: none)",
    BUDGET_LABELS,
)
BUDGET_REMAINING = Gauge(
    "reelscope_budget_remaining_usd",
    "What is left of the Gemini budget of the day or month (+Inf: no budget)",
    BUDGET_LABELS,
)


def report_budget(limits: GeminiOptions, spend: Snapshot | None, day: date) -> None:
    """Set the budget series of the fleet, of each brand with a limit of its own and of each
    brand that spent this month (a brand must have a profile to be uploaded for, so the label
    stays bounded by the brands configured), from the ledger's newest `spend` (None: nothing
    spent, e.g. the local analyzer)."""
    spenders = set(spend.monthly) - {FLEET} if spend is not None else set()
    brands = sorted({*limits.brand_daily_budget_usd, *limits.brand_monthly_budget_usd, *spenders})
    for period in PERIODS:
        for brand in [None, *brands]:
            limit = limits.limit(period, brand)
            cap = float("inf") if limit is None else limit
            used = spend.spent(period, day, brand) if spend is not None else 0.0
            label = brand or FLEET
            BUDGET_SPENT.labels(period, label).set(used)
            BUDGET_LIMIT.labels(period, label).set(cap)
            BUDGET_REMAINING.labels(period, label).set(max(0.0, cap - used))


GEMINI_OUTCOMES = ("ok", "rate_limited", "error")
GEMINI_REQUESTS = Counter(
    "reelscope_gemini_requests_total",
    "Gemini API requests by model and outcome (rate_limited: 429; error: any other fault)",
    ["model", "outcome"],
)
GEMINI_RETRIES = Counter(
    "reelscope_gemini_retries_total", "Gemini requests made again after a fault", ["model"]
)


def report_gemini(model: str, counts: Mapping[str, int], reported: dict[str, int]) -> None:
    """Add what the analyzer counted since the last report (`reported`, updated here)."""
    for outcome in (*GEMINI_OUTCOMES, "retry"):
        series = (
            GEMINI_RETRIES.labels(model)
            if outcome == "retry"
            else GEMINI_REQUESTS.labels(model, outcome)
        )
        now = counts.get(outcome, 0)
        series.inc(now - reported.get(outcome, 0))
        reported[outcome] = now


RECONCILED = Counter(
    "reelscope_reconciled_total",
    "Stale ledger media the reconciler handled (unrecoverable: counted once per media and process)",
    ["outcome"],
)
for _outcome in ("reemitted", "unrecoverable"):  # series exist before the first event
    RECONCILED.labels(_outcome)
STALLED_COMMITS = Gauge(
    "reelscope_commit_stalled_partitions",
    "Partitions whose group commit has not moved for the reconcile grace period (last run)",
)
STALE_PROCESSING = Gauge(
    "reelscope_media_stale_processing",
    "Ledger media past the grace period with neither a result nor a dead letter (last run)",
)


VERDICTS = Counter(
    "reelscope_verdicts_total",
    "Results by brand (a brand without a stored profile: other; no brand: none), target platform "
    "(none: no platform) and verdict (failed: the media could not be checked)",
    ["brand", "platform", "verdict"],
)
VERDICT_VALUES = ("pass", "warn", "fail", "failed")


def count_verdict(result: MediaResult) -> None:
    """Count a published result under each platform it was checked for. The brand label takes
    the brands with a profile only, so its values are bounded by the brands configured; the
    other verdicts of the same brand and platform are created at 0 with the first, so a brand's
    pass rate exists as soon as its first result."""
    check = result.brand_check
    brand_id = result.source.brand_id
    brand = "none" if brand_id is None else brand_id if check.brand_version is not None else "other"
    verdict = result.verdict if result.status == "done" and result.verdict else "failed"
    for platform in sorted(check.platforms) or ["none"]:
        for value in VERDICT_VALUES:
            VERDICTS.labels(brand, platform, value)
        VERDICTS.labels(brand, platform, verdict).inc()
