"""Prometheus metrics of one API process, in its own registry (several apps can share a process).

Routes are labelled by their template (`/v1/media/{media_id}`), never by the raw path, so the
label set stays bounded; requests that match no route are labelled `unmatched`.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest
from starlette.types import Scope

from processors.cgroup import CgroupCollector
from schemas.topics import INPUT_TOPICS

LATENCY_BUCKETS = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2,
    2.5,
    5,
    10,
    30,
    60,
)  # 2: the runbook


class Metrics:
    """The API's counters and histograms."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "reelscope_api_requests",
            "HTTP requests by route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "reelscope_api_request_seconds",
            "HTTP request latency by route",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.upload_bytes = Counter(
            "reelscope_api_upload_bytes", "bytes of media accepted", registry=self.registry
        )
        self.accepted = Counter(
            "reelscope_api_media_accepted",
            "media accepted (202) by source",
            ["source"],
            registry=self.registry,
        )
        self.publish_failures = Counter(
            "reelscope_api_publish_failures",
            "records the broker did not acknowledge",
            ["topic"],
            registry=self.registry,
        )
        self.evidence_renders = Counter(
            "reelscope_api_evidence_renders",
            "evidence images drawn (not served from the bucket or a render under way)",
            registry=self.registry,
        )
        self.storage_failures = Counter(
            "reelscope_api_storage_failures",
            "bucket operations that failed",
            registry=self.registry,
        )
        self.cgroup = CgroupCollector(registry=self.registry)  # the container's CPU and memory
        for source in ("uploaded", "generated"):  # every series at 0 from start-up
            self.accepted.labels(source)
        for topic in INPUT_TOPICS:
            self.publish_failures.labels(topic)

    def expect_routes(self, routes: Iterable[tuple[str, str]]) -> None:
        """Start each route's 5xx series at 0, so the error-rate alert sees a route's first
        failure (a series born at 1 shows no increase)."""
        for method, path in routes:
            self.requests.labels(method, path, "500")

    def render(self) -> bytes:
        return generate_latest(self.registry)


def route_of(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"
