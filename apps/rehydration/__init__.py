"""Rehydration: a date range of cold data copied back into a ClickHouse table, for a while."""
