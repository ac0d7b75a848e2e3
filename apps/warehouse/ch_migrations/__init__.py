"""Numbered ClickHouse migrations; each module holds its SQL inline in `STATEMENTS` (idempotent)."""
