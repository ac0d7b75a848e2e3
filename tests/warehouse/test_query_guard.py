"""The query guard: one SELECT over the archive tables, nothing that reads or writes the machine's files.

Unit tests parse only (no warehouse); the `archive query` tests run the real CLI against a real
archive (chDB, SeaweedFS, Redis, PostgreSQL).
"""

from __future__ import annotations

import json
import time

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.exports.exporter import Exporter
from apps.warehouse.dispatch import run_on_warehouse
from apps.warehouse.guard import QueryRejected, check_query

_ONLY_ARCHIVE = (r"queries read only the archive tables \(error_patterns, held_daily, jobs_all, jobs_archive, jobs_cold, "
                 r"queue_hourly_stats, worker_daily_stats, rehydrated_\*\)")

ACCEPTED = [
    "SELECT queue, outcome, count() FROM jobs_archive GROUP BY ALL",
    "SELECT count() FROM jobs_all WHERE enqueue_time > now() - INTERVAL 7 DAY",
    "SELECT count() FROM jobs_cold",
    "SELECT count() FROM rehydrated_3f2a9c1b7d4e",
    "SELECT count() FROM archive.jobs_archive",
    "SELECT count() FROM jobs_archive WHERE job_id LIKE '%--%'",
    "SELECT ';' AS semicolon",
    "SELECT 'INTO OUTFILE /tmp/x', 'file(''/etc/passwd'')', 'system.tables'",
    "SELECT 1;",
    "SELECT 1; -- a comment after the statement",
    "SELECT count() FROM jobs_archive -- warm only",
    "SELECT /* warm */ count() FROM jobs_archive",
    "SELECT 1 # a shell-style comment",
    "(SELECT count() FROM jobs_archive)",
    "WITH warm AS (SELECT job_id FROM jobs_archive) SELECT count() FROM warm",
    "WITH a AS (SELECT job_id FROM jobs_archive), b AS (SELECT * FROM a) SELECT count() FROM b",
    "WITH 7 AS days SELECT count() FROM jobs_archive WHERE enqueue_time > now() - toIntervalDay(days)",
    "WITH RECURSIVE t AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM t WHERE n < 3) SELECT * FROM t",
    "WITH tier_moves AS (SELECT queue FROM jobs_archive) SELECT * FROM tier_moves",
    "SELECT count() FROM jobs_archive UNION ALL SELECT count() FROM jobs_cold",
    "SELECT queue FROM jobs_archive UNION DISTINCT SELECT queue FROM jobs_cold",
    "SELECT * FROM (SELECT queue, count() AS n FROM jobs_archive GROUP BY queue) WHERE n > 1",
    "SELECT job_id FROM jobs_archive WHERE job_id IN (SELECT job_id FROM jobs_cold)",
    "SELECT job_id FROM jobs_archive WHERE job_id GLOBAL IN (SELECT job_id FROM jobs_cold)",
    "SELECT job_id FROM jobs_archive WHERE job_id NOT IN ('a', 'b')",
    "SELECT count() FROM jobs_archive WHERE job_id IN jobs_cold",
    "SELECT k, count() FROM jobs_archive ARRAY JOIN mapKeys(tags) AS k GROUP BY k",
    "SELECT queue, job_id FROM jobs_archive ORDER BY enqueue_time DESC LIMIT 1 BY queue",
    "SELECT queue, count() OVER (PARTITION BY queue ORDER BY enqueue_time) FROM jobs_archive",
    "SELECT arrayMap(x -> x * 2, [1, 2]), arrayFilter(t -> t != '', mapValues(tags)) FROM jobs_archive",
    "SELECT a.job_id FROM jobs_archive AS a JOIN jobs_cold AS c USING (job_id)",
    "SELECT formatDateTime(enqueue_time, '%Y-%m') AS month, count() FROM jobs_archive GROUP BY month",
    "SELECT JSONExtractString(payload_sample, 'id'), CAST(enqueue_time AS Date) FROM jobs_archive FINAL",
    "SELECT * EXCEPT (payload_sample) FROM jobs_archive LIMIT 10",
    # A nested comment hides the same text from sqlglot as from ClickHouse, which runs `SELECT 2`.
    "/* /* */ SELECT file('/etc/passwd') -- */ SELECT 2",
]

REFUSED = [
    ("", "refused: the query is empty"),
    ("-- nothing but a comment", "refused: the query is empty"),
    ("SELECT file('/etc/passwd')", r"refused: function file\(\) — it reads files of the warehouse machine"),
    ("SELECT length(file('/proc/self/environ'))", r"refused: function file\(\)"),
    ("SELECT `file`('/etc/passwd')", r"refused: function file\(\)"),
    ("SELECT * FROM (SELECT file('/etc/passwd') AS f)", r"refused: function file\(\)"),
    ("SELECT $a$ x $a$, file('/etc/passwd')", r"refused: function file\(\)"),
    ("SELECT 1 INTO OUTFILE '/tmp/x'", "refused: INTO OUTFILE — a query never writes files"),
    ("SELECT * FROM jobs_archive INTO OUTFILE 'x.csv' FORMAT CSV", "refused: INTO OUTFILE"),
    ("SELECT * FROM file('/etc/passwd', 'LineAsString')", rf"refused: table function file\(\) — {_ONLY_ARCHIVE}"),
    ("SELECT count() FROM numbers(1e12)", rf"refused: table function numbers\(\) — {_ONLY_ARCHIVE}"),
    ("SELECT * FROM jobs_archive AS j JOIN s3('http://127.0.0.1:1/b/x', 'CSV') AS s ON 1", r"table function s3\(\)"),
    ("SELECT * FROM jobs_archive, url('http://127.0.0.1:1/x', 'CSV')", r"table function url\(\)"),
    ("SELECT * FROM remote('127.0.0.1', system.one)", r"table function remote\(\)"),
    ("SELECT * FROM input('x String')", r"table function input\(\)"),
    ("SELECT * FROM view(SELECT 1 AS x)", r"table function view\(\)"),
    ("SELECT * FROM merge('archive', '.*')", r"table function merge\(\)"),
    ("SELECT * FROM VALUES('a UInt8', 1)", "table function VALUES"),
    ("SELECT * FROM system.tables", rf"refused: table system.tables — {_ONLY_ARCHIVE}"),
    ("SELECT number FROM system.numbers LIMIT 3", "refused: table system.numbers"),
    ('SELECT * FROM "system".`tables`', "refused: table system.tables"),
    ("SELECT * FROM INFORMATION_SCHEMA.TABLES", "refused: table INFORMATION_SCHEMA.TABLES"),
    ("SELECT * FROM tier_moves", "refused: table tier_moves"),
    ("SELECT * FROM schema_migrations", "refused: table schema_migrations"),
    ("SELECT day FROM subject_index WHERE key_hash = 'x'", "refused: table subject_index"),
    ("SELECT * FROM archive.tier_moves", "refused: table archive.tier_moves"),
    ("SELECT * FROM other.jobs_archive", "refused: table other.jobs_archive"),
    ("SELECT * FROM a.b.c", "refused: table a.b.c"),
    ("SELECT * FROM JOBS_ARCHIVE", "refused: table JOBS_ARCHIVE"),
    ("SELECT * FROM rehydrated_3F2A9C1B7D4E", "refused: table rehydrated_3F2A9C1B7D4E"),
    ("SELECT * FROM rehydrated_123", "refused: table rehydrated_123"),
    ("SELECT (SELECT count() FROM system.tables)", "refused: table system.tables"),
    ("SELECT 1 FROM jobs_archive WHERE EXISTS (SELECT 1 FROM schema_migrations)", "refused: table schema_migrations"),
    # ClickHouse reads the real table t in these, so the guard must not take t for the CTE.
    ("WITH tier_moves AS (SELECT * FROM tier_moves) SELECT * FROM tier_moves", "refused: table tier_moves"),
    ("WITH 1 AS tier_moves SELECT * FROM tier_moves", "refused: table tier_moves"),
    ("WITH (SELECT 1) AS tier_moves SELECT * FROM tier_moves", "refused: table tier_moves"),
    ("SELECT * FROM tier_moves WHERE 1 IN (WITH tier_moves AS (SELECT 1) SELECT * FROM tier_moves)",
     "refused: table tier_moves"),
    # `x IN t` reads table t.
    ("SELECT 7 IN tier_moves", "refused: table tier_moves"),
    ("SELECT 7 NOT IN (tier_moves)", "refused: table tier_moves"),
    ("SELECT 7 IN (((system.tables)))", "refused: table system.tables"),
    ("SELECT notIn(7, tier_moves)", r"refused: function notIn\(\) — it names a table"),
    ("SELECT `in`(7, tier_moves)", r"refused: function in\(\)"),
    ("SELECT dictGet('d', 'a', toUInt64(1))", r"refused: function dictGet\(\) — it reads a dictionary"),
    ("SELECT dictGetStringOrDefault('d', 'a', toUInt64(1), '')", r"refused: function dictGetStringOrDefault\(\)"),
    ("SELECT dictHas('d', toUInt64(1))", r"refused: function dictHas\(\)"),
    ("SELECT joinGet('j', 'a', 1)", r"refused: function joinGet\(\) — it reads a Join table"),
    ("SELECT joinGetOrNull('j', 'a', 1)", r"refused: function joinGetOrNull\(\)"),
    ("SELECT hasColumnInTable('system', 'tables', 'name')", r"refused: function hasColumnInTable\(\)"),
    ("SELECT catboostEvaluate('/m.bin', 1)", r"refused: function catboostEvaluate\(\) — it loads a model file"),
    ("SELECT addressToSymbol(toUInt64(1))", r"refused: function addressToSymbol\(\)"),
    ("SELECT 1 SETTINGS readonly = 0", "refused: SETTINGS clause"),
    ("SELECT * FROM (SELECT 1 SETTINGS max_threads = 1)", "refused: SETTINGS clause"),
    ("SELECT 1 FORMAT JSON", "refused: FORMAT clause"),
    ("SELECT 1; SELECT 2", "refused: more than one statement — only one SELECT is allowed"),
    ("SELECT 1; DROP TABLE jobs_archive", "refused: more than one statement"),
    ("SHOW CREATE TABLE jobs_archive", "refused: SHOW — only one SELECT is allowed"),
    ("SHOW TABLES", "refused: SHOW"),
    ("DESCRIBE jobs_archive", "refused: DESCRIBE"),
    ("EXPLAIN SELECT 1", "refused: EXPLAIN"),
    ("SET readonly = 0", "refused: SET"),
    ("SYSTEM FLUSH LOGS", "refused: SYSTEM"),
    ("INSERT INTO jobs_archive (job_id) VALUES ('x')", "refused: INSERT"),
    ("DROP TABLE jobs_archive", "refused: DROP"),
    ("CREATE TABLE x (a UInt8) ENGINE = Memory", "refused: CREATE"),
    ("ALTER TABLE jobs_archive DELETE WHERE 1", "refused: ALTER"),
    ("SELECT 'a\\' , 1", "refused: the guard cannot parse this as ClickHouse SQL"),
    ("SELECT 1 /* never closed", "refused: the guard cannot parse this"),
    ("SELECT FROM WHERE", "refused: the guard cannot parse this"),
]


@pytest.mark.parametrize("sql", ACCEPTED)
def test_guard_accepts_one_select_over_the_archive(sql):
    check_query(sql)


@pytest.mark.parametrize(("sql", "message"), REFUSED)
def test_guard_refuses_with_a_reason(sql, message):
    with pytest.raises(QueryRejected, match=message) as refused:
        check_query(sql)
    assert "\n" not in str(refused.value)


def test_guard_qualified_names_take_the_configured_database(settings):
    settings.CLICKHOUSE_DATABASE = "analytics"
    check_query("SELECT count() FROM analytics.jobs_archive")
    check_query("SELECT count() FROM analytics.rehydrated_3f2a9c1b7d4e")
    with pytest.raises(QueryRejected, match="refused: table archive.jobs_archive"):
        check_query("SELECT count() FROM archive.jobs_archive")
    with pytest.raises(QueryRejected, match="refused: table analytics.tier_moves"):
        check_query("SELECT count() FROM analytics.tier_moves")


# --- through `archive query`, against a real archive -------------------------------------------


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT file('/etc/passwd')", r"refused: function file\(\) — it reads files of the warehouse machine"),
        ("SELECT file('/proc/self/environ')", r"refused: function file\(\)"),
        ("SELECT * FROM file('/etc/passwd', 'LineAsString')", rf"refused: table function file\(\) — {_ONLY_ARCHIVE}"),
        ("SELECT count() FROM numbers(1e12)", rf"refused: table function numbers\(\) — {_ONLY_ARCHIVE}"),
        ("SHOW CREATE TABLE jobs_archive", "refused: SHOW — only one SELECT is allowed"),
        ("SELECT * FROM system.query_log", r"refused: table system.query_log — .*refused to every role: it holds other people's query texts"),
        ("SELECT * FROM tier_moves", rf"refused: table tier_moves — {_ONLY_ARCHIVE}"),
    ],
)
def test_archive_query_refuses_what_reaches_outside_the_archive(exported, capsys, sql, message):
    with pytest.raises(CommandError, match=message):
        call_command("archive", "query", "--format", "json", sql)
    out = capsys.readouterr()
    assert out.out == "" and "root:" not in out.err


def test_archive_query_into_outfile_writes_no_file(exported, tmp_path):
    target = tmp_path / "leak.csv"
    with pytest.raises(CommandError, match="refused: INTO OUTFILE — a query never writes files"):
        call_command("archive", "query", f"SELECT job_id FROM jobs_archive INTO OUTFILE '{target}'")
    assert not target.exists()


def test_the_worker_checks_again_whoever_sent_the_task(exported, tmp_path):
    """The task refuses on its own, for a caller that skipped the CLI's early check."""
    target = tmp_path / "leak"
    from apps.explorer.tasks import execute_query_run
    from tests.explorer.helpers import unchecked_run

    for sql, allow_list in (("SELECT file('/etc/passwd')", "Administrator"),
                            (f"SELECT 1 INTO OUTFILE '{target}'", "Administrator"),
                            ("SELECT * FROM system.tables", "Analyst")):
        run = unchecked_run(sql, allow_list=allow_list)
        done = run_on_warehouse(execute_query_run, in_process=True, run_id=str(run.pk))
        assert done["run"]["state"] == "refused" and done["run"]["error"].startswith("refused: ")
    assert not target.exists()


@pytest.mark.parametrize(
    ("sql", "rows"),
    [
        ("SELECT count() AS n FROM jobs_archive WHERE job_id LIKE '%--%'", [{"n": 1}]),
        ("SELECT ';' AS semicolon", [{"semicolon": ";"}]),
        ("SELECT 'a -- b' AS text, '/* c */' AS block", [{"text": "a -- b", "block": "/* c */"}]),
        ("SELECT '{db}' AS placeholder", [{"placeholder": "{db}"}]),
        ("SELECT count() AS n FROM jobs_archive -- every warm row", [{"n": 301}]),
        ("SELECT /* warm */ count() AS n FROM jobs_archive", [{"n": 301}]),
        ("SELECT count() AS n FROM jobs_archive;", [{"n": 301}]),
        ("WITH warm AS (SELECT job_id FROM jobs_archive) SELECT count() AS n FROM warm", [{"n": 301}]),
        ("SELECT count() AS n FROM (SELECT job_id FROM jobs_archive UNION ALL SELECT job_id FROM jobs_cold)",
         [{"n": 602}]),
        # What the guard skips as a nested comment, ClickHouse skips too: it runs `SELECT 2`.
        ("/* /* */ SELECT file('/etc/passwd') -- */ SELECT 2 AS two", [{"two": 2}]),
    ],
)
def test_archive_query_runs_the_text_as_written(exported, capsys, sql, rows):
    exported.redis.xadd(exported.stream, {"job_id": "retry--7", "queue": "emails", "outcome": "success",
                                          "enqueue_time": str(int(time.time() * 1000))})
    Exporter().run()
    call_command("archive", "query", "--format", "json", sql)
    assert json.loads(capsys.readouterr().out) == rows
