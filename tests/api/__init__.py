"""Tests of the HTTP API, over real HTTP against the real broker and store."""
