"""The Gemini analyzer: vendor code (`google-genai`) in one package, with its double beside it.

`analyzer` is the `Analyzer`; `options` its settings; `prompt`, `media`, `files`, `cache`,
`cost` and `resilience` its parts; `fake_server` a local server that speaks Gemini's REST
protocol, for tests and benchmarks (never imported by product code).
"""
