"""ClickHouse migrations: numbered without gaps, idempotent, and producing the table the schema describes."""

from __future__ import annotations

import os
from pathlib import Path

from apps.records.schema import COLUMNS
from apps.warehouse import client as ch
from apps.warehouse import migrator
from apps.warehouse.services import warehouse_migrate

SNAPSHOT = Path(__file__).resolve().parent.parent / "cases" / "jobs_archive.sql"


def test_numbering_runs_without_gaps():
    numbers = [m.number for m in migrator.discover()]
    assert numbers == list(range(1, len(numbers) + 1))


def test_migrated_table_matches_the_schema_and_the_snapshot(archive):
    rows = ch.query(
        "SELECT name, type FROM system.columns WHERE database = {db:String} AND table = 'jobs_archive' ORDER BY position",
        tag="test", parameters={"db": archive.database},
    ).result_rows
    assert rows == [(c.name, c.clickhouse_type) for c in COLUMNS]

    create = ch.command("SHOW CREATE TABLE {db}.jobs_archive", tag="test")
    create = create.replace("\\n", "\n").replace("\\'", "'").replace(archive.database, "{db}")
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":  # after a deliberate schema change; review the diff
        SNAPSHOT.write_text(create + "\n")
    assert create + "\n" == SNAPSHOT.read_text(), "jobs_archive changed; rerun with UPDATE_SNAPSHOTS=1 and review"


def test_migrate_twice_changes_nothing(archive):
    again = warehouse_migrate()
    assert again["clickhouse_applied"] == []
    names = ch.query("SELECT name FROM {db}.schema_migrations", tag="test").result_rows
    assert sorted(n for (n,) in names) == [m.name for m in migrator.discover()]
    # The cold table is readable through ClickHouse under readonly=1.
    assert ch.query("SELECT count() FROM {db}.jobs_cold", tag="test", settings_={"readonly": 1}).result_rows == [(0,)]
