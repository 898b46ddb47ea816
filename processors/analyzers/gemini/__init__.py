"""The Gemini analyzer: vendor code (`google-genai`) in one package, with its double beside it.

`analyzer` is the `Analyzer`; `options` its settings; `prompt`, `media`, `files`, `cache`,
`cost` and `resilience` its parts. `fake_server` (its HTTP side in `fake_http`, its answers in
`fake_protocol`) is a local server that speaks Gemini's REST protocol, for tests and benchmarks;
product code never imports it (`tests/test_architecture.py`).
"""
