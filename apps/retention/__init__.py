"""Retention: policies per queue and outcome, tiering warm to cold, compaction, purge, Redis trimming."""
