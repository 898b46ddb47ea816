"""Pick the analyzer by name from settings; the Gemini one is imported only when chosen."""

from __future__ import annotations

import importlib
from concurrent.futures import Executor
from typing import cast

from processors.analyzers.base import Analyzer
from processors.analyzers.local import LocalAnalyzer, Measure, ThumbnailSink
from processors.config import Settings
from processors.storage import Store

NAMES = ("local", "gemini")


def create_analyzer(
    settings: Settings,
    *,
    store: Store | None = None,
    executor: Executor | None = None,
    thumbnails: ThumbnailSink | None = None,
    measure: Measure | None = None,
) -> Analyzer:
    """Build the configured analyzer ('auto' resolves to gemini only when a key is set).

    `store` is the process's bucket, where the Gemini analyzer caches its answers; `measure`
    replaces the local analyzer's own measuring (the worker's shared inspection)."""
    name = settings.analyzer_name
    if name == "local":
        return LocalAnalyzer(
            settings.limits,
            executor,
            frames=settings.worker.sample_frames,
            thumbnails=thumbnails,
            thorough=settings.analyzer.profile == "thorough",
            measure=measure,
        )
    if name == "gemini":
        module = importlib.import_module("processors.analyzers.gemini.analyzer")
        return cast(Analyzer, module.GeminiAnalyzer.from_settings(settings, store=store))
    msg = f"unknown analyzer {name!r}; choose one of {', '.join(NAMES)}"
    raise ValueError(msg)
