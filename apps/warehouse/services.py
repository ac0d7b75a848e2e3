"""Warehouse writes: migrating ClickHouse and the Iceberg table together; running an audited read-only query."""

from __future__ import annotations

import hashlib

from apps.accounts.actors import Actor
from apps.audit.services import audit_record
from apps.lake import table as lake_table
from apps.lake.s3 import S3Config
from apps.schemas import registry
from apps.schemas.evolution import evolve_warehouse
from apps.warehouse import logical, migrator
from apps.warehouse.allowlists import ANALYST, AllowList
from apps.warehouse.query import QueryResult, run_read_only


def warehouse_migrate() -> dict:
    """Idempotent: create the Iceberg table, apply ClickHouse migrations, link `jobs_cold`, build `jobs_all`."""
    lake_table.ensure_table()
    applied = migrator.migrate()
    evolve_warehouse()  # schema registry versions, before relinking so `jobs_cold` sees their fields
    cfg = S3Config.from_settings()
    migrator.link_cold_table(lake_table.http_location(), cfg.access_key, cfg.secret_key)
    logical.create_jobs_all(registry.load_live().columns)  # the registry's columns, not this process's cache
    return {"clickhouse_applied": applied, "iceberg_table": ".".join(lake_table.identifier())}


def query_run(*, sql: str, actor: Actor, max_rows: int | None = None, allow: AllowList | None = ANALYST,
              parameters: dict | None = None) -> QueryResult:
    """Run one read-only query (the guard of `allow` and the caps of apps.warehouse.query) and record `query.run`.

    The event names the SQL by its SHA-256 and length, never by its text, and the parameters only
    by their names: a literal or a value may be a person's e-mail address or id, and the audit
    chain is kept for years and never rewritten. Table names are the query's shape, not data.
    """
    result = run_read_only(sql, max_rows=max_rows, allow=allow, parameters=parameters)
    audit_record(actor=actor, action="query.run", target="warehouse", details={
        "sql_sha256": hashlib.sha256(sql.encode()).hexdigest(), "sql_length": len(sql), "rows": len(result.rows),
        "truncated": result.truncated, "elapsed_ms": result.elapsed_ms, "rows_read": result.rows_read,
        "bytes_read": result.bytes_read, "tables": result.tables, "allow_list": allow.name if allow else None,
        "parameters": sorted(parameters or {}),
    })
    return result
