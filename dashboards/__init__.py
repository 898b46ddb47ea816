"""Shipped dashboards, DuckDB views and alert rules, as package data."""
