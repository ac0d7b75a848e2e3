"""Warehouse writes: migrating ClickHouse and the Iceberg table together (query runs: apps.explorer.services)."""

from __future__ import annotations

from apps.lake import table as lake_table
from apps.lake.s3 import S3Config
from apps.schemas import registry
from apps.schemas.evolution import evolve_warehouse
from apps.warehouse import logical, migrator


def warehouse_migrate() -> dict:
    """Idempotent: create the Iceberg table, apply ClickHouse migrations, link `jobs_cold`, build `jobs_all`."""
    lake_table.ensure_table()
    applied = migrator.migrate()
    evolve_warehouse()  # schema registry versions, before relinking so `jobs_cold` sees their fields
    cfg = S3Config.from_settings()
    migrator.link_cold_table(lake_table.http_location(), cfg.access_key, cfg.secret_key)
    logical.create_jobs_all(registry.load_live().columns)  # the registry's columns, not this process's cache
    return {"clickhouse_applied": applied, "iceberg_table": ".".join(lake_table.identifier())}
