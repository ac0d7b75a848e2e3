"""Applies the numbered ClickHouse migrations in order, records them, and (re)links the cold tier."""

from __future__ import annotations

import importlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from apps.warehouse import client as ch

logger = logging.getLogger(__name__)
_MIGRATIONS_DIR = Path(__file__).parent / "ch_migrations"
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.py$")


@dataclass(frozen=True)
class Migration:
    number: int
    name: str
    statements: tuple[str, ...]


def discover() -> list[Migration]:
    """All migrations, ordered; numbering must run 1, 2, 3... without gaps or repeats."""
    found = []
    for path in sorted(_MIGRATIONS_DIR.glob("*.py")):
        match = _NAME.match(path.name)
        if not match:
            continue
        module = importlib.import_module(f"apps.warehouse.ch_migrations.{path.stem}")
        found.append(Migration(int(match.group(1)), path.stem, tuple(module.STATEMENTS)))
    numbers = [m.number for m in found]
    if numbers != list(range(1, len(found) + 1)):
        raise ch.WarehouseError(f"ClickHouse migrations must be numbered 0001.. without gaps, found {numbers}")
    return found


def applied() -> set[str]:
    result = ch.query("SELECT name FROM {db}.schema_migrations", tag="migrate")
    return {row[0] for row in result.result_rows}


def migrate() -> list[str]:
    """Apply what is missing; returns the names applied now."""
    ch.command("CREATE DATABASE IF NOT EXISTS {db}", tag="migrate")
    ch.command(
        "CREATE TABLE IF NOT EXISTS {db}.schema_migrations "
        "(name String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) ENGINE = MergeTree ORDER BY name",
        tag="migrate",
    )
    done = applied()
    newly = []
    for migration in discover():
        if migration.name in done:
            continue
        for statement in migration.statements:
            ch.command(statement, tag=f"migrate:{migration.name}")
        ch.command(
            "INSERT INTO {db}.schema_migrations (name) VALUES ({name:String})",
            tag="migrate",
            parameters={"name": migration.name},
        )
        logger.info("applied ClickHouse migration %s", migration.name)
        newly.append(migration.name)
    return newly


def link_cold_table(location_url: str, access_key: str, secret_key: str) -> None:
    """(Re)create `jobs_cold`, the Iceberg table read through ClickHouse; metadata only, no data moves.

    Recreated on every migrate so a changed endpoint, credentials or schema is picked up.
    """
    ch.command("DROP TABLE IF EXISTS {db}.jobs_cold SYNC", tag="migrate")
    ch.command(
        "CREATE TABLE {db}.jobs_cold ENGINE = IcebergS3({url:String}, {key:String}, {secret:String})",
        tag="migrate",
        parameters={"url": location_url, "key": access_key, "secret": secret_key},
    )
