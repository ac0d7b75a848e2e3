"""Warehouse writes: migrating ClickHouse and the Iceberg table together."""

from __future__ import annotations

from apps.lake import table as lake_table
from apps.lake.s3 import S3Config
from apps.warehouse import migrator


def warehouse_migrate() -> dict:
    """Idempotent: create the Iceberg table, apply ClickHouse migrations, link `jobs_cold`."""
    lake_table.ensure_table()
    applied = migrator.migrate()
    cfg = S3Config.from_settings()
    migrator.link_cold_table(lake_table.http_location(), cfg.access_key, cfg.secret_key)
    return {"clickhouse_applied": applied, "iceberg_table": ".".join(lake_table.identifier())}
