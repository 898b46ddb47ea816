"""Pure processing logic: media probing and sampling, brand checks, analyzers, storage, the lake.

Nothing here imports Faust or FastAPI, so every stage runs and tests on its own.
"""
