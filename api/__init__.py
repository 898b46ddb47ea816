"""The HTTP API: upload, register, brands, status, results and analytics."""
