"""ClickHouse migrations: numbered without gaps, idempotent, and producing the table the schema describes."""

from __future__ import annotations

import os
from pathlib import Path

from apps.schemas import registry
from apps.schemas.evolution import migration_name
from apps.warehouse import client as ch
from apps.warehouse import migrator
from apps.warehouse.services import warehouse_migrate

CASES = Path(__file__).resolve().parent.parent / "cases"


def test_numbering_runs_without_gaps():
    numbers = [m.number for m in migrator.discover()]
    assert numbers == list(range(1, len(numbers) + 1))


def _matches_snapshot(table: str, database: str) -> None:
    create = ch.command(f"SHOW CREATE TABLE {{db}}.{table}", tag="test")
    create = create.replace("\\n", "\n").replace("\\'", "'").replace(database, "{db}")
    snapshot = CASES / f"{table}.sql"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":  # after a deliberate schema change; review the diff
        snapshot.write_text(create + "\n")
    assert create + "\n" == snapshot.read_text(), f"{table} changed; rerun with UPDATE_SNAPSHOTS=1 and review"


def test_migrated_table_matches_the_schema_and_the_snapshot(archive):
    rows = ch.query(
        "SELECT name, type FROM system.columns WHERE database = {db:String} AND table = 'jobs_archive' ORDER BY position",
        tag="test", parameters={"db": archive.database},
    ).result_rows
    # The numbered migrations' columns, then those of the schema versions (the archive ships version 2).
    assert rows == [(c.name, c.clickhouse_type) for c in registry.load_live().columns]
    assert rows[-1] == ("subject_keys", "Array(String)")
    _matches_snapshot("jobs_archive", archive.database)
    _matches_snapshot("subject_index", archive.database)


def test_migrate_twice_changes_nothing(archive):
    again = warehouse_migrate()
    assert again["clickhouse_applied"] == []
    names = ch.query("SELECT name FROM {db}.schema_migrations", tag="test").result_rows
    versions = [migration_name(v) for v in range(2, registry.current().version + 1)]
    assert sorted(n for (n,) in names) == [m.name for m in migrator.discover()] + versions
    # The cold table is readable through ClickHouse under readonly=1.
    assert ch.query("SELECT count() FROM {db}.jobs_cold", tag="test", settings_={"readonly": 1}).result_rows == [(0,)]
