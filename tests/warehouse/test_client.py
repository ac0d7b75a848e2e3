"""The ClickHouse entry point: how the embedded engine is started."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from apps.warehouse import client as ch


def test_embedded_engine_has_an_empty_user_files_directory_of_its_own(archive):
    """chDB ignores it for file() (clickhouse-local), but the engine must not point at a system path."""
    value = ch.query("SELECT value FROM system.server_settings WHERE name = 'user_files_path'",
                     tag="test").result_rows[0][0]
    files = Path(settings.CLICKHOUSE_USER_FILES_PATH)
    assert Path(value) == files
    assert files.is_dir() and not any(files.iterdir())
