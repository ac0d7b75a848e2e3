"""The guard per role: a corpus of hostile queries, each refused with what and why, and tricky legitimate ones
that run unchanged against a real archive with the answers computed independently.

The hostile corpus is parse-only (no warehouse); the legitimate queries run through
`run_read_only` on real chDB over 300 exported demo jobs plus three with awkward ids and texts.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from datetime import datetime, timezone

import pytest

from apps.accounts import roles
from apps.exports.exporter import Exporter
from apps.stream.demo import generate
from apps.warehouse import client as ch
from apps.warehouse.allowlists import (
    ADMINISTRATOR, ANALYST, INTERNAL_TABLES, SRE, SYSTEM_TABLES, AllowList, allow_list_for_roles, allow_list_for_user,
)
from apps.warehouse.guard import QueryRejected, check_query, inspect_query
from apps.warehouse.query import FORCED_SETTINGS, run_read_only
from tests.warehouse.test_query_guard import ACCEPTED

A, S, ADMIN = ANALYST, SRE, ADMINISTRATOR
_TABLE_FUNCTION = "refused: table function {}\\(\\) — queries read only the archive tables"
_SRE_ONLY = "system tables are for the SRE and Administrator roles"
_EVERY_ROLE = "is refused to every role"
_BOOKKEEPING = "is the portal's own bookkeeping"
_ONLY_SELECT = "— only one SELECT is allowed"
_INVISIBLE = "refused: invisible character U\\+{} "

# (sql, allow-list of the user who tries, what the one-line refusal must say). Most are tried as an
# Administrator, the widest list: what an Administrator may not run, nobody may.
HOSTILE = [
    # Table functions: they read files, the network, other servers or generate unbounded rows.
    ("SELECT * FROM numbers(10)", ADMIN, _TABLE_FUNCTION.format("numbers")),
    ("SELECT * FROM numbers_mt(1e12)", ADMIN, _TABLE_FUNCTION.format("numbers_mt")),
    ("SELECT * FROM zeros(10)", ADMIN, _TABLE_FUNCTION.format("zeros")),
    ("SELECT * FROM s3('http://127.0.0.1:8333/archive/iceberg/x.parquet')", ADMIN, _TABLE_FUNCTION.format("s3")),
    ("SELECT * FROM s3Cluster('c', 'http://x/y')", ADMIN, _TABLE_FUNCTION.format("s3Cluster")),
    ("SELECT * FROM url('http://169.254.169.254/latest/meta-data/', 'LineAsString')", ADMIN,
     _TABLE_FUNCTION.format("url")),
    ("SELECT * FROM file('/etc/passwd', 'LineAsString')", ADMIN, _TABLE_FUNCTION.format("file")),
    ("SELECT * FROM remote('127.0.0.1', system.query_log)", ADMIN, _TABLE_FUNCTION.format("remote")),
    ("SELECT * FROM remoteSecure('127.0.0.1', archive.tier_moves)", ADMIN, _TABLE_FUNCTION.format("remoteSecure")),
    ("SELECT * FROM cluster('default', archive.subject_index)", ADMIN, _TABLE_FUNCTION.format("cluster")),
    ("SELECT * FROM clusterAllReplicas('default', system.one)", ADMIN, _TABLE_FUNCTION.format("clusterAllReplicas")),
    ("SELECT * FROM mysql('127.0.0.1:3306', 'db', 't', 'u', 'p')", ADMIN, _TABLE_FUNCTION.format("mysql")),
    ("SELECT * FROM postgresql('127.0.0.1:5432', 'archive_portal', 'auth_user', 'postgres', '')", ADMIN,
     _TABLE_FUNCTION.format("postgresql")),
    ("SELECT * FROM icebergS3('http://127.0.0.1:8333/archive/iceberg/archive/jobs', 'k', 's')", ADMIN,
     _TABLE_FUNCTION.format("icebergS3")),
    ("SELECT * FROM iceberg('http://127.0.0.1:8333/archive/iceberg/archive/jobs')", ADMIN,
     _TABLE_FUNCTION.format("iceberg")),
    ("SELECT * FROM icebergLocal('/work/main/var/iceberg')", ADMIN, _TABLE_FUNCTION.format("icebergLocal")),
    ("SELECT * FROM deltaLake('http://x/y')", ADMIN, _TABLE_FUNCTION.format("deltaLake")),
    ("SELECT * FROM merge('archive', '^tier')", ADMIN, _TABLE_FUNCTION.format("merge")),
    ("SELECT * FROM merge(REGEXP('.*'), '.*')", ADMIN, _TABLE_FUNCTION.format("merge")),
    ("SELECT * FROM input('x String')", ADMIN, _TABLE_FUNCTION.format("input")),
    ("SELECT * FROM generateRandom('a String', 1, 10)", ADMIN, _TABLE_FUNCTION.format("generateRandom")),
    ("SELECT * FROM view(SELECT * FROM tier_moves)", ADMIN, _TABLE_FUNCTION.format("view")),
    ("SELECT * FROM executable('cat /etc/passwd', 'LineAsString', 'x String')", ADMIN,
     _TABLE_FUNCTION.format("executable")),
    ("SELECT * FROM jdbc('jdbc:mysql://x', 't')", ADMIN, _TABLE_FUNCTION.format("jdbc")),
    ("SELECT * FROM odbc('DSN=x', 't')", ADMIN, _TABLE_FUNCTION.format("odbc")),
    ("SELECT * FROM sqlite('/work/main/db.sqlite3', 'auth_user')", ADMIN, _TABLE_FUNCTION.format("sqlite")),
    ("SELECT * FROM redis('127.0.0.1:6379', 'k', 'k String')", ADMIN, _TABLE_FUNCTION.format("redis")),
    ("SELECT * FROM hdfs('hdfs://x/y', 'CSV')", ADMIN, _TABLE_FUNCTION.format("hdfs")),
    ("SELECT * FROM azureBlobStorage('x', 'y', 'z')", ADMIN, _TABLE_FUNCTION.format("azureBlobStorage")),
    ("SELECT * FROM mergeTreeIndex('archive', 'jobs_archive')", ADMIN, _TABLE_FUNCTION.format("mergeTreeIndex")),
    ("SELECT * FROM loop(numbers(3))", ADMIN, _TABLE_FUNCTION.format("loop")),
    ("SELECT * FROM format('CSV', 'a\n1')", ADMIN, _TABLE_FUNCTION.format("FORMAT")),
    ("SELECT * FROM jobs_all(since = 1)", ADMIN, _TABLE_FUNCTION.format("jobs_all")),
    ("SELECT * FROM VALUES('a UInt8', 1)", ADMIN, "refused: table function VALUES"),
    # ... also where they hide: a join, a subquery, a CTE, IN (SELECT ...), a scalar subquery.
    ("SELECT * FROM jobs_archive AS j JOIN s3('http://x/y', 'CSV') AS s ON 1", ADMIN, _TABLE_FUNCTION.format("s3")),
    ("SELECT * FROM (SELECT * FROM url('http://x/y', 'CSV'))", ADMIN, _TABLE_FUNCTION.format("url")),
    ("WITH w AS (SELECT * FROM file('/proc/self/environ', 'LineAsString')) SELECT * FROM w", ADMIN,
     _TABLE_FUNCTION.format("file")),
    ("SELECT count() FROM jobs_archive WHERE job_id IN (SELECT * FROM file('ids.txt', 'LineAsString'))", ADMIN,
     _TABLE_FUNCTION.format("file")),
    ("SELECT (SELECT count() FROM numbers(1e12))", ADMIN, _TABLE_FUNCTION.format("numbers")),
    ("SELECT 1 UNION ALL SELECT * FROM url('http://x/y', 'CSV')", ADMIN, _TABLE_FUNCTION.format("url")),
    # System tables: none for an analyst; for SRE and Administrator only the documented ones.
    ("SELECT * FROM system.parts", A, f"refused: table system.parts — .*; {_SRE_ONLY}"),
    ("SELECT name, engine_full FROM system.tables", A, f"refused: table system.tables — .*; {_SRE_ONLY}"),
    ("SELECT * FROM system.columns WHERE table = 'subject_index'", A, f"refused: table system.columns .*{_SRE_ONLY}"),
    ("SELECT * FROM system.merges", A, f"refused: table system.merges .*{_SRE_ONLY}"),
    ("SELECT * FROM system.disks", A, f"refused: table system.disks .*{_SRE_ONLY}"),
    ("SELECT * FROM jobs_archive WHERE 1 IN system.tables", A, "refused: table system.tables"),
    ("SELECT job_id NOT IN (system.parts) FROM jobs_archive", A, "refused: table system.parts"),
    ("SELECT query FROM system.query_log", ADMIN, f"refused: table system.query_log .*{_EVERY_ROLE}: it holds other "
     "people's query texts"),
    ("SELECT query FROM system.processes", ADMIN, f"refused: table system.processes .*{_EVERY_ROLE}"),
    ("SELECT message FROM system.text_log", ADMIN, f"refused: table system.text_log .*{_EVERY_ROLE}"),
    ("SELECT command FROM system.mutations", ADMIN, f"refused: table system.mutations .*{_EVERY_ROLE}: a mutation "
     "keeps its predicate"),
    ("SELECT last_error_message FROM system.errors", ADMIN, f"refused: table system.errors .*{_EVERY_ROLE}"),
    ("SELECT * FROM system.users", ADMIN, f"refused: table system.users .*{_EVERY_ROLE}: access control"),
    ("SELECT * FROM system.grants", ADMIN, f"refused: table system.grants .*{_EVERY_ROLE}"),
    ("SELECT * FROM system.settings", ADMIN, f"refused: table system.settings .*{_EVERY_ROLE}"),
    ("SELECT * FROM system.dictionaries", ADMIN, f"refused: table system.dictionaries .*{_EVERY_ROLE}: a dictionary"),
    ("SELECT * FROM system.named_collections", ADMIN, "refused: table system.named_collections .*credentials"),
    ("SELECT * FROM system.numbers", ADMIN, f"refused: table system.numbers .*{_EVERY_ROLE}"),
    ("SELECT * FROM system.one", ADMIN, "refused: table system.one — queries read only the archive tables"),
    ("SELECT 'x' IN (SELECT query FROM system.query_log)", ADMIN, "refused: table system.query_log"),
    ("SELECT * FROM SYSTEM.parts", ADMIN, "refused: table SYSTEM.parts"),
    ("SELECT * FROM system.Parts", ADMIN, "refused: table system.Parts"),
    ('SELECT * FROM "system"."query_log"', ADMIN, "refused: table system.query_log"),
    ("SELECT * FROM `system`.`processes`", ADMIN, "refused: table system.processes"),
    ("SELECT * FROM INFORMATION_SCHEMA.TABLES", ADMIN, "refused: table INFORMATION_SCHEMA.TABLES"),
    ("SELECT * FROM information_schema.columns", ADMIN, "refused: table information_schema.columns"),
    # The portal's bookkeeping: nobody, Administrator included, however it is spelled.
    ("SELECT * FROM tier_moves", ADMIN, f"refused: table tier_moves — .*; tier_moves {_BOOKKEEPING}"),
    ("SELECT key_hash FROM subject_index", ADMIN, f"refused: table subject_index .*{_BOOKKEEPING}"),
    ("SELECT * FROM schema_migrations", ADMIN, f"refused: table schema_migrations .*{_BOOKKEEPING}"),
    ("SELECT * FROM job_index", ADMIN, f"refused: table job_index .*{_BOOKKEEPING}"),
    ("SELECT * FROM job_index_in", ADMIN, f"refused: table job_index_in .*{_BOOKKEEPING}"),
    ("SELECT * FROM archive.tier_moves", ADMIN, f"refused: table archive.tier_moves .*{_BOOKKEEPING}"),
    ('SELECT * FROM "subject_index"', ADMIN, f"refused: table subject_index .*{_BOOKKEEPING}"),
    ("SELECT * FROM `archive`.`subject_index`", ADMIN, f"refused: table archive.subject_index .*{_BOOKKEEPING}"),
    ("SELECT * FROM jobs_archive AS j JOIN tier_moves AS m ON j.queue = m.queue", ADMIN, "refused: table tier_moves"),
    ("SELECT (SELECT count() FROM subject_index)", ADMIN, "refused: table subject_index"),
    ("SELECT 1 IN subject_index", ADMIN, "refused: table subject_index"),
    ("SELECT job_id FROM jobs_archive WHERE queue GLOBAL IN tier_moves", ADMIN, "refused: table tier_moves"),
    ("SELECT notIn(queue, tier_moves) FROM jobs_archive", ADMIN, r"refused: function notIn\(\) — it names a table"),
    ("WITH t AS (SELECT * FROM tier_moves) SELECT * FROM t", ADMIN, "refused: table tier_moves"),
    # WITH t AS (SELECT * FROM t): ClickHouse reads the real table t inside, not the CTE.
    ("WITH subject_index AS (SELECT * FROM subject_index) SELECT * FROM subject_index", ADMIN,
     "refused: table subject_index"),
    ("WITH 1 AS tier_moves SELECT * FROM tier_moves", ADMIN, "refused: table tier_moves"),
    ("WITH a AS (SELECT * FROM b), b AS (SELECT * FROM tier_moves) SELECT * FROM a", ADMIN, "refused: table b"),
    # Other databases.
    ("SELECT * FROM default.jobs_archive", ADMIN, "refused: table default.jobs_archive"),
    ("SELECT * FROM other_tenant.jobs_archive", ADMIN, "refused: table other_tenant.jobs_archive"),
    ("SELECT * FROM system.jobs_archive", ADMIN, "refused: table system.jobs_archive"),
    ("SELECT * FROM cat.archive.jobs_archive", ADMIN, "refused: table cat.archive.jobs_archive"),
    ("SELECT * FROM JOBS_ARCHIVE", ADMIN, "refused: table JOBS_ARCHIVE"),
    ("SELECT * FROM rehydrated_3F2A9C1B7D4E", ADMIN, "refused: table rehydrated_3F2A9C1B7D4E"),
    ("SELECT * FROM rehydrated_3f2a9c1b7d4e0", ADMIN, "refused: table rehydrated_3f2a9c1b7d4e0"),
    # SETTINGS: the portal's limits and apply_deleted_mask are not the query's to change.
    ("SELECT count() FROM jobs_archive SETTINGS apply_deleted_mask = 0", ADMIN, "refused: SETTINGS clause — the "
     "portal sets a query's limits"),
    ("SELECT 1 SETTINGS readonly = 0", ADMIN, "refused: SETTINGS clause"),
    ("SELECT 1 SETTINGS max_execution_time = 0, max_rows_to_read = 0", ADMIN, "refused: SETTINGS clause"),
    ("SELECT * FROM (SELECT count() FROM jobs_archive SETTINGS apply_deleted_mask = 0)", ADMIN,
     "refused: SETTINGS clause"),
    ("WITH w AS (SELECT job_id FROM jobs_archive SETTINGS apply_deleted_mask = 0) SELECT count() FROM w", ADMIN,
     "refused: SETTINGS clause"),
    ("SELECT engine_full FROM system.tables SETTINGS format_display_secrets_in_show_and_select = 1", ADMIN,
     "refused: SETTINGS clause"),
    # FORMAT and INTO OUTFILE.
    ("SELECT * FROM jobs_archive FORMAT JSONEachRow", ADMIN, "refused: FORMAT clause — the portal chooses"),
    ("SELECT 1 FORMAT TabSeparatedRaw", ADMIN, "refused: FORMAT clause"),
    ("SELECT payload_sample FROM jobs_archive INTO OUTFILE '/tmp/leak.csv'", ADMIN,
     "refused: INTO OUTFILE — a query never writes files"),
    ("SELECT 1 INTO OUTFILE '/tmp/x' TRUNCATE", ADMIN, "refused: INTO OUTFILE"),
    ("SELECT 1 INTO OUTFILE '/tmp/x' AND STDOUT FORMAT CSV", ADMIN, "refused: INTO OUTFILE"),
    # Dictionaries, file-touching and by-name functions.
    ("SELECT dictGet('secrets', 'value', 1)", ADMIN, r"refused: function dictGet\(\) — it reads a dictionary"),
    ("SELECT dictGetOrDefault('d', 'v', 1, '')", ADMIN, r"refused: function dictGetOrDefault\(\)"),
    ("SELECT dictHas('d', toUInt64(1))", ADMIN, r"refused: function dictHas\(\)"),
    ("SELECT * FROM dictionary('d')", ADMIN, _TABLE_FUNCTION.format("dictionary")),
    ("SELECT file('/etc/passwd')", ADMIN, r"refused: function file\(\) — it reads files of the warehouse machine"),
    ("SELECT FILE('/proc/self/environ')", ADMIN, r"refused: function FILE\(\) — it reads files"),
    ("SELECT length(file('/work/main/.env')) FROM jobs_archive", ADMIN, r"refused: function file\(\)"),
    ("SELECT joinGet('archive.j', 'v', 1)", ADMIN, r"refused: function joinGet\(\) — it reads a Join table"),
    ("SELECT catboostEvaluate('/tmp/m.bin', 1)", ADMIN, r"refused: function catboostEvaluate\(\) — it loads a model"),
    ("SELECT hasColumnInTable('archive', 'subject_index', 'key_hash')", ADMIN, r"refused: function hasColumnInTable"),
    ("SELECT getServerSetting('user_files_path')", ADMIN, r"refused: function getServerSetting\(\)"),
    ("SELECT addressToLine(toUInt64(1))", ADMIN, r"refused: function addressToLine\(\) — it reads the engine"),
    # Placeholders bind values, never names.
    ("SELECT * FROM {t:Identifier}", ADMIN, "refused: table {t: Identifier} — a parameter binds a value, never a"),
    ("SELECT {c:Identifier} FROM jobs_archive", ADMIN, "refused: parameter {c: Identifier} — a parameter binds"),
    ("SELECT count() FROM jobs_archive WHERE 1 IN {t:Identifier}", ADMIN, "refused: parameter {t: Identifier}"),
    ("SELECT * FROM jobs_archive WHERE queue = ?", ADMIN, r"refused: placeholder \{\?: \} — write parameters as"),
    # One SELECT only: several statements, comments hiding statements.
    ("SELECT 1; DROP TABLE jobs_archive", ADMIN, f"refused: more than one statement {_ONLY_SELECT}"),
    ("SELECT 1 /* */; DROP TABLE jobs_archive", ADMIN, "refused: more than one statement"),
    ("SELECT 1 -- a comment\n; DROP TABLE jobs_archive", ADMIN, "refused: more than one statement"),
    ("SELECT 1 # a comment\n; TRUNCATE TABLE jobs_archive", ADMIN, "refused: more than one statement"),
    ("SELECT 1 /* ; */; SELECT * FROM tier_moves", ADMIN, "refused: more than one statement"),
    ("/* SELECT 1 */ DROP TABLE jobs_archive", ADMIN, f"refused: DROP {_ONLY_SELECT}"),
    ("SELECT 1;\n;\nSELECT 2", ADMIN, "refused: more than one statement"),
    ("SELECT 1 /* unclosed; DROP TABLE jobs_archive", ADMIN, "refused: the guard cannot parse this .* — only SQL"),
    # Anything but SELECT.
    ("EXPLAIN SELECT * FROM tier_moves", ADMIN, f"refused: EXPLAIN {_ONLY_SELECT}"),
    ("EXPLAIN SYNTAX SELECT 1", ADMIN, "refused: EXPLAIN"),
    ("SHOW TABLES", ADMIN, f"refused: SHOW {_ONLY_SELECT}"),
    ("SHOW CREATE TABLE jobs_cold", ADMIN, "refused: SHOW"),
    ("SHOW PROCESSLIST", ADMIN, "refused: SHOW"),
    ("DESCRIBE TABLE subject_index", ADMIN, f"refused: DESCRIBE {_ONLY_SELECT}"),
    ("DESC jobs_archive", ADMIN, "refused: DESCRIBE"),
    ("SET apply_deleted_mask = 0", ADMIN, f"refused: SET {_ONLY_SELECT}"),
    ("KILL QUERY WHERE 1", ADMIN, f"refused: KILL {_ONLY_SELECT}"),
    ("SYSTEM RELOAD DICTIONARIES", ADMIN, f"refused: SYSTEM {_ONLY_SELECT}"),
    ("OPTIMIZE TABLE jobs_archive FINAL", ADMIN, f"refused: OPTIMIZE {_ONLY_SELECT}"),
    ("ATTACH TABLE x FROM '/tmp/x' (a String) ENGINE = File(CSV)", ADMIN, f"refused: ATTACH {_ONLY_SELECT}"),
    ("DETACH TABLE jobs_archive", ADMIN, f"refused: DETACH {_ONLY_SELECT}"),
    ("RENAME TABLE jobs_archive TO x", ADMIN, "refused: RENAME"),
    ("TRUNCATE TABLE jobs_archive", ADMIN, "refused: TRUNCATE"),
    ("GRANT ALL ON *.* TO default", ADMIN, "refused: GRANT"),
    ("USE system", ADMIN, "refused: USE"),
    ("EXISTS TABLE subject_index", ADMIN, "refused: EXISTS"),
    ("CHECK TABLE jobs_archive", ADMIN, "refused: CHECK"),
    ("INSERT INTO jobs_archive (job_id) VALUES ('x')", ADMIN, f"refused: INSERT {_ONLY_SELECT}"),
    ("INSERT INTO FUNCTION file('/tmp/leak.csv', 'CSV') SELECT * FROM jobs_archive", ADMIN, "refused: INSERT"),
    ("CREATE TABLE x ENGINE = Memory AS SELECT * FROM tier_moves", ADMIN, "refused: CREATE"),
    ("DROP TABLE jobs_archive", ADMIN, "refused: DROP"),
    ("ALTER TABLE jobs_archive DELETE WHERE 1", ADMIN, "refused: ALTER"),
    ("DELETE FROM jobs_archive WHERE 1", ADMIN, "refused: DELETE"),
    # Unicode look-alikes and invisible characters.
    ("SELECT * FROM jobs_archiv\u0435", ADMIN, "refused: table jobs_archiv\u0435 — queries read only"),  # Cyrillic е
    ("SELECT * FROM j\u043ebs_all", ADMIN, "refused: table j\u043ebs_all"),  # Cyrillic о
    ("SELECT * FROM tier_m\u043eves", ADMIN, "refused: table tier_m\u043eves"),  # Cyrillic о
    ("ＳＥＬＥＣＴ * FROM jobs_archive", ADMIN, "refused: the guard cannot parse this"),  # fullwidth letters
    ("SELECT * FROM ｊｏｂｓ_archive", ADMIN, "refused: table ｊｏｂｓ_archive"),
    ("SELECT\u200b*\u200bFROM\u200btier_moves", ADMIN, _INVISIBLE.format("200B") + r"\(ZERO WIDTH SPACE\) at line 1, "
     "column 7"),
    ("SELECT 1 -- harmless\u2028, file('/etc/passwd')", ADMIN, _INVISIBLE.format("2028")),
    ("SELECT\u00a01", ADMIN, _INVISIBLE.format("00A0") + r"\(NO-BREAK SPACE\)"),
    ("\ufeffSELECT 1", ADMIN, _INVISIBLE.format("FEFF")),
    ("SELECT '\u202egnp.exe' AS name", ADMIN, _INVISIBLE.format("202E")),
    ("SELECT 1\x00; DROP TABLE jobs_archive", ADMIN, _INVISIBLE.format("0000")),
    ("SELECT 1\x0b, 2", ADMIN, _INVISIBLE.format("000B")),
    ("SELECT\n1,\n\u3000file('/etc/passwd')", ADMIN, _INVISIBLE.format("3000") + r".* at line 3, column 1"),
    # Quoted identifiers.
    ("SELECT `file`('/etc/passwd')", ADMIN, r"refused: function file\(\)"),
    ('SELECT * FROM "tier_moves"', ADMIN, "refused: table tier_moves"),
    ("SELECT * FROM `rehydrated_3f2a9c1b7d4e`.`x`", ADMIN, "refused: table rehydrated_3f2a9c1b7d4e.x"),
    # What the guard cannot read, it refuses.
    ("SELECT 'a\\' , 1", ADMIN, "refused: the guard cannot parse this as ClickHouse SQL"),
    ("SELECT FROM WHERE", ADMIN, "refused: the guard cannot parse this"),
    ("SELECT " + "(" * 3000 + "1" + ")" * 3000, ADMIN, "refused: the guard cannot"),
    ("", ADMIN, "refused: the query is empty"),
    ("  -- only a comment\n", ADMIN, "refused: the query is empty"),
    # Roles that run no queries at all.
    ("SELECT count() FROM jobs_archive", None, "refused: running a query — your role may not run queries"),
    ("SELECT 1", allow_list_for_roles([roles.VIEWER, roles.COMPLIANCE_OFFICER]),
     "refused: running a query — your role may not run queries"),
]


def test_the_corpus_is_large():
    assert len(HOSTILE) >= 70
    assert len({sql for sql, _, _ in HOSTILE}) == len(HOSTILE)


@pytest.mark.parametrize(("sql", "allow", "message"), HOSTILE, ids=[f"{i:03d}" for i in range(len(HOSTILE))])
def test_hostile_queries_are_refused_with_what_and_why(sql, allow, message):
    with pytest.raises(QueryRejected, match=message) as refused:
        check_query(sql, allow)
    text = str(refused.value)
    assert text.startswith("refused: ") and " — " in text
    assert "\n" not in text and "\r" not in text


# --- allow-lists ------------------------------------------------------------------------------


def test_allow_lists_per_role():
    assert allow_list_for_roles([roles.VIEWER]) is None
    assert allow_list_for_roles([roles.COMPLIANCE_OFFICER]) is None
    assert allow_list_for_roles([]) is None
    assert allow_list_for_roles([roles.ANALYST]) == ANALYST
    assert allow_list_for_roles([roles.VIEWER, roles.ANALYST]) == ANALYST
    assert allow_list_for_roles([roles.SRE]) == SRE
    assert allow_list_for_roles([], superuser=True) == ADMINISTRATOR
    both = allow_list_for_roles([roles.ANALYST, roles.SRE])
    assert both.tables == SRE.tables and both.system_tables == SRE.system_tables
    assert ANALYST.tables == {"jobs_all", "jobs_archive", "jobs_cold", "queue_hourly_stats", "error_patterns",
                              "worker_daily_stats", "held_daily"} and not ANALYST.system_tables
    assert SRE.system_tables == ADMINISTRATOR.system_tables == set(SYSTEM_TABLES)
    assert not {"query_log", "processes", "text_log", "mutations", "users", "grants"} & SRE.system_tables


def test_an_allow_list_can_never_name_the_portals_bookkeeping():
    for table in INTERNAL_TABLES:
        with pytest.raises(ValueError, match=f"names {table}"):
            AllowList(name="leaky", tables=frozenset({table}))
    with pytest.raises(ValueError, match="names tier_moves"):
        AllowList(name="leaky", patterns=(r"tier_.*",))


@pytest.mark.django_db
def test_allow_list_of_a_user():
    from tests.roles import user_in

    assert allow_list_for_user(user_in(roles.VIEWER)) is None
    assert allow_list_for_user(user_in(roles.ANALYST)) == ANALYST
    assert allow_list_for_user(user_in(roles.SRE)) == SRE
    root = user_in(None, "root")
    assert allow_list_for_user(root) is None
    root.is_superuser = True
    assert allow_list_for_user(root) == ADMINISTRATOR
    root.is_active = False
    assert allow_list_for_user(root) is None


@pytest.mark.parametrize("table", sorted(SYSTEM_TABLES))
def test_sre_and_administrator_read_the_documented_system_tables(table):
    sql = f"SELECT * FROM system.{table}"
    assert check_query(sql, SRE) == check_query(sql, ADMINISTRATOR) == [f"system.{table}"]
    with pytest.raises(QueryRejected, match=f"refused: table system.{table} .*{_SRE_ONLY}"):
        check_query(sql, ANALYST)


def test_the_guard_returns_the_tables_a_query_reads():
    sql = ("WITH w AS (SELECT job_id FROM jobs_archive) SELECT count() FROM w "
           "WHERE job_id IN (SELECT job_id FROM archive.jobs_cold) "
           "UNION ALL SELECT count() FROM rehydrated_3f2a9c1b7d4e JOIN system.parts ON 1")
    assert check_query(sql, SRE) == ["jobs_archive", "jobs_cold", "rehydrated_3f2a9c1b7d4e", "system.parts"]
    assert check_query("SELECT 1") == []
    assert check_query("SELECT count() FROM jobs_all") == ["jobs_all"]  # the Analyst's list by default


def test_placeholders_parse_and_are_reported():
    checked = inspect_query("SELECT count() FROM jobs_all WHERE enqueue_time >= {since:DateTime64(6, 'UTC')} "
                            "AND queue IN {queues:Array(String)} AND outcome = {outcome:LowCardinality(String)}")
    assert checked.tables == ["jobs_all"] and checked.parameters == ["outcome", "queues", "since"]


# --- the guard never fails with anything but a refusal ------------------------------------------

_SOUP = ["SELECT", "FROM", "WHERE", "(", ")", ",", ";", "'", '"', "`", "--", "/*", "*/", "#", "\n", "1", "x",
         "jobs_archive", "system.tables", "file", "IN", "WITH", "AS", "UNION", "ALL", "SETTINGS", "FORMAT",
         "INTO", "OUTFILE", "{", "}", ":", "String", "ARRAY", "JOIN", "OVER", "$$", "\\", "=", "*", ".", "é", "∑"]


def _fuzz_inputs():
    rng = random.Random(12)
    for sql in ACCEPTED + [sql for sql, _, _ in HOSTILE[:60]]:
        for end in range(0, len(sql), 3):
            yield sql[:end]
    for _ in range(300):
        yield bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 80))).decode("utf-8", "replace")
        yield bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 80))).decode("latin-1")
        yield " ".join(rng.choice(_SOUP) for _ in range(rng.randint(1, 25)))


def test_weird_input_is_refused_never_an_error():
    tried = 0
    for sql in _fuzz_inputs():
        tried += 1
        try:
            tables = check_query(sql, ADMINISTRATOR)
        except QueryRejected as exc:
            assert str(exc).startswith("refused: ") and "\n" not in str(exc), sql
        else:
            assert isinstance(tables, list), sql
    assert tried > 2000
    for odd in (None, 42, b"SELECT 1"):
        with pytest.raises(QueryRejected, match="refused: the query is"):
            check_query(odd)


# --- tricky legitimate queries, run unchanged against a real archive ------------------------------

_EXTRA = [
    {"job_id": "retry--7", "queue": "emails", "outcome": "success"},
    {"job_id": "semi;colon", "queue": "billing", "outcome": "failed", "error_type": "ValueError",
     "error_msg": "/* not a comment */"},
    {"job_id": "hash#tag", "queue": "reports", "outcome": "success", "error_msg": "-- nor is this"},
]


@pytest.fixture
def corpus(archive):
    """300 demo jobs and three awkward ones in both tiers; the same records as Python dicts, for the answers."""
    now_ms = int(time.time() * 1000)
    entries = generate(300, seed=3, now_ms=now_ms)
    for i, extra in enumerate(_EXTRA):
        entries.append({k.encode(): v.encode() for k, v in {
            **extra, "enqueue_time": str(now_ms - 10 * (i + 1)), "tags": '{"env": "demo", "odd": "yes"}'}.items()})
    pipe = archive.redis.pipeline()
    for fields in entries:
        pipe.xadd(archive.stream, fields)
    pipe.execute()
    Exporter().run()
    import json

    records = []
    for fields in entries:
        row = {k.decode(): v.decode() for k, v in fields.items()}
        row["tags"] = json.loads(row.get("tags", "{}"))
        row["enqueue_ms"] = int(row["enqueue_time"])
        records.append(row)
    assert len(records) == 303
    return records


def _run(sql: str, allow=ANALYST, **kw) -> list[list]:
    result = run_read_only(sql, allow=allow, **kw)
    return result.rows


def test_tricky_legitimate_queries_give_the_right_answers(corpus):
    by_queue = Counter(r["queue"] for r in corpus)
    assert _run("SELECT job_id FROM jobs_archive WHERE job_id LIKE '%--%'") == [["retry--7"]]
    assert _run("SELECT job_id FROM jobs_all WHERE job_id = 'semi;colon'") == [["semi;colon"]]
    assert _run("SELECT job_id FROM jobs_archive WHERE error_msg = '/* not a comment */'") == [["semi;colon"]]
    assert _run("SELECT job_id FROM jobs_archive WHERE error_msg LIKE '-- nor%' AND job_id = 'hash#tag' -- end") == \
        [["hash#tag"]]
    assert _run("SELECT ';' AS s, '/* not a comment */' AS c, '-- nor this' AS d, '#' AS h") == \
        [[";", "/* not a comment */", "-- nor this", "#"]]
    # Where comments and quotes end, the guard and the engine agree (nested comments, heredocs).
    assert _run("SELECT 1 /* /* */, file('/etc/passwd') */") == [[1]]
    assert _run("SELECT 1 /* /* */ */, 2") == [[1, 2]]
    assert _run("SELECT $$ ' $$ AS x, 1 --'") == [[" ' ", 1]]
    # CTEs, nested subqueries, UNION ALL.
    assert _run("WITH per_queue AS (SELECT queue, count() AS n FROM jobs_archive GROUP BY queue) "
                "SELECT queue, n FROM per_queue ORDER BY queue") == sorted([q, n] for q, n in by_queue.items())
    assert _run("SELECT queue FROM (SELECT queue, n FROM (SELECT queue, count() AS n FROM jobs_all GROUP BY queue) "
                "WHERE n > 40) ORDER BY queue") == [[q] for q in sorted(q for q, n in by_queue.items() if n > 40)]
    assert sorted(_run("SELECT 'warm' AS tier, count() FROM jobs_archive UNION ALL "
                       "SELECT 'cold', count() FROM jobs_cold")) == [["cold", 303], ["warm", 303]]
    # IN (SELECT ...).
    not_success = sum(r["outcome"] != "success" for r in corpus)
    assert _run("SELECT count() FROM jobs_archive WHERE job_id IN "
                "(SELECT job_id FROM jobs_cold WHERE outcome != 'success')") == [[not_success]]
    # ARRAY JOIN over tags.
    tags = Counter((k, v) for r in corpus for k, v in r["tags"].items())
    assert _run("SELECT k, v, count() FROM jobs_archive ARRAY JOIN mapKeys(tags) AS k, mapValues(tags) AS v "
                "GROUP BY k, v ORDER BY k, v") == sorted([k, v, n] for (k, v), n in tags.items())
    # Window functions.
    expected = {}
    for queue in by_queue:
        ordered = sorted((r for r in corpus if r["queue"] == queue), key=lambda r: (r["enqueue_ms"], r["job_id"]))
        expected.update({r["job_id"]: [queue, i + 1] for i, r in enumerate(ordered)})
    rows = _run("SELECT job_id, queue, row_number() OVER (PARTITION BY queue ORDER BY enqueue_time, job_id) AS rn "
                "FROM jobs_archive")
    assert {job_id: [queue, rn] for job_id, queue, rn in rows} == expected


def test_bound_parameters_run_with_the_text_unchanged(corpus):
    times = sorted(r["enqueue_ms"] for r in corpus)
    since_ms = times[150]
    since = datetime.fromtimestamp(since_ms / 1000, tz=timezone.utc).replace(tzinfo=None)
    expected = sum(r["queue"] in ("emails", "billing") and r["enqueue_ms"] >= since_ms for r in corpus)
    sql = ("SELECT count() FROM jobs_all WHERE enqueue_time >= {since:DateTime64(6, 'UTC')} "
           "AND queue IN {queues:Array(String)} AND job_id NOT LIKE '%--%'")
    dashes = sum(r["queue"] in ("emails", "billing") and r["enqueue_ms"] >= since_ms and "--" in r["job_id"]
                 for r in corpus)
    assert _run(sql, parameters={"since": since, "queues": ["emails", "billing"]}) == [[expected - dashes]]
    # A value is a value: quotes in it neither end the literal nor change the query.
    assert _run("SELECT count() FROM jobs_archive WHERE job_id = {id:String}",
                parameters={"id": "semi;colon' OR '1' = '1"}) == [[0]]
    with pytest.raises(QueryRejected, match="refused: no value for since — each {name:Type} placeholder needs one"):
        _run(sql, parameters={"queues": ["emails"]})
    with pytest.raises(QueryRejected, match="refused: parameter extra — the query has no {name:Type} placeholder"):
        _run("SELECT count() FROM jobs_archive WHERE job_id LIKE '%(extra)s'", parameters={"extra": "x"})
    with pytest.raises(QueryRejected, match="refused: binary parameter id"):
        _run("SELECT {id:String}", parameters={"id": b"x"})


def test_system_tables_for_sre_and_administrator_not_the_analyst(corpus, settings):
    warm = _run("SELECT count() FROM jobs_archive")[0][0]
    sql = ("SELECT sum(rows) FROM system.parts WHERE database = currentDatabase() AND table = 'jobs_archive' "
           "AND active")
    assert _run(sql, allow=SRE) == _run(sql, allow=ADMINISTRATOR) == [[warm]] == [[303]]
    with pytest.raises(QueryRejected, match=f"refused: table system.parts .*{_SRE_ONLY}"):
        _run(sql, allow=ANALYST)
    # system.tables shows the IcebergS3 definition of jobs_cold, but not its secret.
    rows = _run("SELECT engine_full, create_table_query FROM system.tables "
                "WHERE database = currentDatabase() AND name = 'jobs_cold'", allow=SRE)
    assert len(rows) == 1 and all("[HIDDEN]" in text for text in rows[0])
    assert settings.AWS_SECRET_ACCESS_KEY not in repr(rows)
    result = run_read_only("SELECT name FROM system.columns WHERE database = currentDatabase() "
                           "AND table = 'jobs_archive' AND name = 'queue'", allow=SRE)
    assert result.rows == [["queue"]] and result.tables == ["system.columns"]


def test_apply_deleted_mask_is_forced_and_cannot_be_switched_off(corpus):
    assert _run("SELECT getSetting('apply_deleted_mask'), getSetting('readonly')") == [[True, 1]]
    ch.command("DELETE FROM {db}.jobs_archive WHERE job_id = 'retry--7'", tag="test")
    assert _run("SELECT count() FROM jobs_archive WHERE job_id LIKE '%--%'") == [[0]]
    with pytest.raises(QueryRejected, match="refused: SETTINGS clause"):
        _run("SELECT count() FROM jobs_archive WHERE job_id LIKE '%--%' SETTINGS apply_deleted_mask = 0")
    # Past the guard, the engine refuses the change too: readonly=1 rides with the forced settings.
    with pytest.raises(Exception, match="READONLY|readonly"):
        ch.query_as_written("SELECT count() FROM {db}.jobs_archive SETTINGS apply_deleted_mask = 0"
                            .replace("{db}", ch.database()), tag="test", settings_=dict(FORCED_SETTINGS))


def test_the_run_and_its_audit_events_name_the_tables(corpus):
    from apps.accounts.actors import Actor
    from apps.audit.models import AuditEvent
    from apps.explorer import services
    from tests.roles import user_in

    sre = Actor.of_user(user_in(roles.SRE, "sam"))
    run = services.query_run_submit(actor=sre, sql="SELECT count() FROM jobs_archive WHERE queue = 'emails'")
    done = services.query_run_execute(run_id=str(run.pk))["run"]
    assert done["tables"] == ["jobs_archive"] and done["bytes_read"] > 0 and done["rows_read"] > 0
    event = AuditEvent.objects.filter(action="query.run").latest("seq")
    assert event.details["allow_list"] == "SRE" and "emails" not in repr(event.details)
    assert AuditEvent.objects.filter(action="query.submitted").latest("seq").details["tables"] == ["jobs_archive"]


def test_the_worker_applies_the_runs_allow_list(corpus):
    from apps.explorer.services import query_run_execute
    from tests.explorer.helpers import unchecked_run

    sql = "SELECT count() FROM system.parts WHERE database = currentDatabase()"
    done = query_run_execute(run_id=str(unchecked_run(sql, allow_list=roles.SRE).pk))["run"]
    assert done["state"] == "succeeded" and done["tables"] == ["system.parts"]
    for allow_list in (roles.ANALYST, f"{roles.ANALYST}+{roles.VIEWER}"):
        done = query_run_execute(run_id=str(unchecked_run(sql, allow_list=allow_list).pk))["run"]
        assert done["state"] == "refused" and done["error"].startswith("refused: table system.parts")
    done = query_run_execute(run_id=str(unchecked_run("SELECT 1", allow_list=roles.VIEWER).pk))["run"]
    assert done["state"] == "refused" and "refused: no allow-list" in done["error"]


def test_the_docs_name_every_table_the_lists_decide_on():
    from pathlib import Path

    from apps.warehouse.allowlists import REFUSED_SYSTEM_TABLES

    docs = (Path(__file__).resolve().parents[2] / "docs" / "explorer.md").read_text()
    section = docs.split("## The guard and its allow-lists", 1)[1].split("\n## ", 1)[0]
    for table in [*SYSTEM_TABLES, *REFUSED_SYSTEM_TABLES, *INTERNAL_TABLES, *ANALYST.tables]:
        assert f"{table}`" in section, table
