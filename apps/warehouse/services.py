"""Warehouse writes: migrating ClickHouse and the Iceberg table together (query runs: apps.explorer.services)."""

from __future__ import annotations

from apps.lake import table as lake_table
from apps.lake.s3 import S3Config
from apps.schemas import registry
from apps.schemas.evolution import evolve_warehouse
from apps.warehouse import held, job_index, logical, migrator, rollups


FAST_READS_MIGRATION = "0005_job_index"  # the job index, and jobs_all's bound on the cold days
ROLLUPS_MIGRATION = "0006_rollups"
HELD_MIGRATION = "0007_held"


def warehouse_migrate() -> dict:
    """Idempotent: create the Iceberg table, apply ClickHouse migrations, link `jobs_cold`, build `jobs_all`."""
    lake_table.ensure_table()
    applied = migrator.migrate()
    evolve_warehouse()  # schema registry versions, before relinking so `jobs_cold` sees their fields
    cfg = S3Config.from_settings()
    migrator.link_cold_table(lake_table.http_location(), cfg.access_key, cfg.secret_key)
    logical.create_jobs_all(registry.load_live().columns)  # the registry's columns, not this process's cache
    if FAST_READS_MIGRATION in applied:  # new now: what the cold tier held before it
        logical.mark_unmarked_cold_groups()
        job_index.backfill_cold()
    if ROLLUPS_MIGRATION in applied:  # new now: count what the archive held before (its views count what comes)
        rollups.backfill()
    if HELD_MIGRATION in applied:  # new now: every day archived before is to be summarised
        held.mark_unknown_days()
    return {"clickhouse_applied": applied, "iceberg_table": ".".join(lake_table.identifier())}
