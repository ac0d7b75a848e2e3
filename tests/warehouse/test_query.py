"""`archive query`: one read-only SELECT over jobs_archive and jobs_cold, capped, JSON or a table."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError


def test_json_rows_from_warm_and_cold(exported, capsys):
    call_command("archive", "query", "--format", "json",
                 "SELECT (SELECT count() FROM jobs_archive) AS warm, (SELECT count() FROM jobs_cold) AS cold")
    assert json.loads(capsys.readouterr().out) == [{"warm": 300, "cold": 300}]


def test_table_format_and_row_cap(exported, capsys, settings):
    settings.CLICKHOUSE_QUERY_MAX_ROWS = 5
    call_command("archive", "query", "SELECT job_id, queue FROM jobs_archive ORDER BY job_id")
    out = capsys.readouterr()
    lines = out.out.strip().splitlines()
    assert lines[0].split() == ["job_id", "queue"] and len(lines) == 2 + 5
    assert "truncated" in out.err


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("DROP TABLE jobs_archive", "refused: DROP — only one SELECT"),
        ("SELECT 1; SELECT 2", "refused: more than one statement — only one SELECT"),
        ("INSERT INTO jobs_archive (job_id) VALUES ('x')", "refused: INSERT — only one SELECT"),
        ("SELECT * FROM s3('http://127.0.0.1:1/bucket/x.csv', 'CSV')", r"refused: table function s3\(\)"),
        ("SELECT count() FROM no_such_table", "refused: table no_such_table — queries read only the archive tables"),
        # The guard passes an archive-shaped name; ClickHouse's own error comes back.
        ("SELECT count() FROM rehydrated_0123456789ab", "(?s)rehydrated_0123456789ab.*(UNKNOWN_TABLE|does not exist)"),
    ],
)
def test_refuses_writes_and_explains_errors(exported, sql, message):
    with pytest.raises(CommandError, match=message):
        call_command("archive", "query", sql)
    assert exported.clickhouse_count() == 300


def test_caps_hold_whatever_the_text_ends_with(exported, capsys, settings):
    """The caps ride after the user's text; a trailing `;` or comment must not drop them."""
    call_command("archive", "query", "--format", "json",
                 "SELECT getSetting('readonly') AS ro, getSetting('max_rows_to_read') AS rows_cap, "
                 "getSetting('max_bytes_to_read') AS bytes_cap; -- end")
    assert json.loads(capsys.readouterr().out) == [{
        "ro": 1,
        "rows_cap": settings.CLICKHOUSE_QUERY_MAX_ROWS_TO_READ,
        "bytes_cap": settings.CLICKHOUSE_QUERY_MAX_BYTES_TO_READ,
    }]


@pytest.mark.parametrize(
    ("cap", "message"),
    [
        ("CLICKHOUSE_QUERY_MAX_ROWS_TO_READ", "max_rows_to_read"),
        ("CLICKHOUSE_QUERY_MAX_BYTES_TO_READ", "TOO_MANY_BYTES"),
    ],
)
def test_a_query_that_reads_past_a_cap_stops(exported, settings, cap, message):
    setattr(settings, cap, 100)
    with pytest.raises(CommandError, match=message):
        call_command("archive", "query", "SELECT uniqExact(job_id) FROM jobs_archive")
