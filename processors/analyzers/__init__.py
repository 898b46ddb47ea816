"""Analyzers: one protocol, a registry by name (`local`, `gemini`)."""

from processors.analyzers.base import AnalysisRequest, Analyzer, source_ref

__all__ = ["AnalysisRequest", "Analyzer", "source_ref"]
