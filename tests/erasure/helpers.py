"""Shared steps for the erasure tests: one subject's records spread over every place, and a check,
written without the erasure's code, that finds a subject wherever it still is."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from io import StringIO

import pyarrow.parquet as pq
from django.core.management import call_command
from django.db import connection

from apps.exports.exporter import Exporter
from apps.lake import s3
from apps.lake.table import load_table
from apps.stream.demo import generate
from apps.warehouse import client as ch
from tests.retention.helpers import DAY_MS, T0, export

EMAIL = "Ann.Subject@Example.org"
TYPED = "email= ann.subject@example.org "  # as an officer types it: another spelling, the same person
PREFIX = "ann-"  # the subject's job ids
GROUP = "archive-exporter"


def subject_entry(i: int, ms: int, *, outcome: str = "success", tenant: str = "tenant-ann") -> dict:
    return {b"job_id": f"{PREFIX}{i}".encode(), b"queue": b"emails", b"outcome": outcome.encode(),
            b"enqueue_time": str(ms).encode(), b"retries": b"0", b"tenant_id": tenant.encode(),
            b"payload": json.dumps({"email": EMAIL, "n": i}).encode(),
            b"tags": json.dumps({"region": "eu-west-1"}).encode()}


def default_rules() -> None:
    """The migration's default subject key rules: a transactional test's flush empties the table, so
    only the first test of a run would have them otherwise."""
    from apps.compliance import subject_key_rules
    from apps.compliance.models import SubjectKeyRule
    from apps.compliance.subject_keys import DEFAULT_RULES

    for rule in DEFAULT_RULES:
        SubjectKeyRule.objects.get_or_create(source=rule.source, field=rule.field,
                                             defaults={"name": rule.name, "kind": rule.kind})
    subject_key_rules._cached["at"] = float("-inf")  # read them again now, not a flushed table's


def add(archive, entries) -> list[str]:
    pipe = archive.redis.pipeline()
    for fields in entries:
        pipe.xadd(archive.stream, fields)
    return [i.decode() for i in pipe.execute()]


def spread_subject(archive, *, background: int = 600, seed: int = 11) -> dict:
    """The subject over warm days, cold days (compacted and not), a rehydrated copy, dead letters
    and the stream (pending and unread); returns what was put where."""
    from apps.rehydration import services as rehydration
    from apps.retention.models import RetentionPolicy
    from tests.actors import TESTS

    default_rules()
    now_ms = int(T0.timestamp() * 1000)
    add(archive, generate(background, seed=seed, now_ms=now_ms, spread_ms=10 * DAY_MS - 60_000))
    add(archive, [subject_entry(i, now_ms - i * DAY_MS // 2 - 1000) for i in range(20)])  # 10 days, 2 a day
    export()
    RetentionPolicy.objects.create(warm_days=5, cold_days=0, description="global")
    call_command("archive", "run", "--as-of", T0.isoformat(), "--json", stdout=StringIO())
    # A later batch on an old, compacted day: that day's cold files are compacted and not.
    add(archive, [subject_entry(20, now_ms - 8 * DAY_MS + 5000), subject_entry(21, now_ms - 8 * DAY_MS + 6000)])
    export()
    copy = rehydration.rehydration_request(date_from=(T0 - timedelta(days=10)).date(),
                                           date_to=(T0 - timedelta(days=6)).date(), queues=[],
                                           expires_in=timedelta(days=1), actor=TESTS, via="test")
    copy.refresh_from_db()
    assert copy.state == "ready", copy.error
    # A dead letter of the subject (an outcome the contract refuses).
    add(archive, [subject_entry(30, now_ms - 1000, outcome="exploded")])
    export()
    # Entries delivered to an exporter that has not finished them, and entries nobody read yet.
    add(archive, [subject_entry(40, now_ms - 500), subject_entry(41, now_ms - 400)])
    archive.redis.xreadgroup(GROUP, "slow-exporter", {archive.stream: ">"}, count=2)
    add(archive, [subject_entry(42, now_ms - 300)])
    return {"background": background, "rehydrated_table": copy.table_name}


def stored_copy(records: int = 3):
    """A subject-access bundle of the subject in S3 (a copy the portal keeps), noted by its key hash."""
    import uuid

    from django.conf import settings
    from django.utils import timezone

    from apps.compliance.models import StoredCopy
    from apps.compliance.subject_keys import key_hash

    key = f"subject-access/{uuid.uuid4().hex}.json"
    body = json.dumps([{"job_id": f"{PREFIX}{i}", "payload": {"email": EMAIL}} for i in range(records)])
    s3.client().put_object(Bucket=settings.S3_BUCKET, Key=key, Body=body.encode())
    return StoredCopy.objects.create(kind="subject_access", bucket=settings.S3_BUCKET, keys=[key],
                                     key_hashes=[key_hash("email", EMAIL, kind="email")], records=records,
                                     expires_at=timezone.now() + timedelta(days=7))


def copies_left() -> int:
    """Object versions of every stored copy still in S3."""
    from apps.compliance.models import StoredCopy

    client, left = s3.client(), 0
    for copy in StoredCopy.objects.all():
        for key in copy.keys:
            for page in client.get_paginator("list_object_versions").paginate(Bucket=copy.bucket, Prefix=key):
                left += sum(1 for v in page.get("Versions", []) if v["Key"] == key)
    return left


# --- finding the subject without the erasure's code -----------------------------------------------
def _job_ids_bytes() -> bytes:
    return PREFIX.encode()


def found_anywhere(archive) -> dict[str, int]:
    """Where the subject still is: warm with masked rows and no inactive parts, every rehydrated
    table, every Iceberg snapshot, every object and version under the table location, the stream,
    the dead letters, and every table of the portal's database (raw identifiers)."""
    found = {}
    masked = {"apply_deleted_mask": 0}
    found["warm"] = ch.query(f"SELECT count() FROM {{db}}.jobs_archive WHERE startsWith(job_id, '{PREFIX}')",
                             tag="test", settings_=masked).result_rows[0][0]
    tables = [t for (t,) in ch.query("SELECT name FROM system.tables WHERE database = {d:String} "
                                     "AND startsWith(name, 'rehydrated_')", tag="test",
                                     parameters={"d": ch.database()}).result_rows]
    found["rehydrated"] = sum(ch.query(f"SELECT count() FROM {{db}}.{t} WHERE startsWith(job_id, '{PREFIX}')",
                                       tag="test", settings_=masked).result_rows[0][0] for t in tables)
    table = load_table()
    found["snapshots"] = 0
    for snapshot in table.snapshots():
        ids = table.scan(snapshot_id=snapshot.snapshot_id, selected_fields=("job_id",)).to_arrow()["job_id"]
        found["snapshots"] += sum(1 for j in ids.to_pylist() if j and j.startswith(PREFIX))
    bucket, _, prefix = table.location().removeprefix("s3://").partition("/")
    client = s3.client()
    found["objects"] = 0
    for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix + "/"):
        for version in page.get("Versions", []):
            extra = {"VersionId": version["VersionId"]} if version.get("VersionId") not in (None, "null") else {}
            body = client.get_object(Bucket=bucket, Key=version["Key"], **extra)["Body"].read()
            if version["Key"].endswith(".parquet"):
                ids = pq.read_table(io.BytesIO(body), columns=["job_id"])["job_id"].to_pylist()
                found["objects"] += sum(1 for j in ids if j and j.startswith(PREFIX))
            else:
                found["objects"] += int(_job_ids_bytes() in body or EMAIL.lower().encode() in body.lower())
    found["stream"] = sum(1 for _, f in archive.redis.xrange(archive.stream) if f.get(b"job_id", b"").startswith(b"ann-"))
    found["dead_stream"] = sum(1 for _, f in archive.redis.xrange(f"{archive.stream}:dead")
                               if b"ann-" in f.get(b"job_id", b""))
    found["database"] = raw_identifiers_in_database()
    found["copies"] = copies_left()
    return found


def subject_parts() -> list[tuple[str, str, str]]:
    """(table, part, path) of every part of a warm or rehydrated table holding the subject's rows, masked ones too."""
    tables = ["jobs_archive"] + [t for (t,) in ch.query(
        "SELECT name FROM system.tables WHERE database = {d:String} AND startsWith(name, 'rehydrated_')",
        tag="test", parameters={"d": ch.database()}).result_rows]
    found = []
    for table in tables:
        names = [n for (n,) in ch.query(f"SELECT DISTINCT _part FROM {{db}}.{table} WHERE startsWith(job_id, '{PREFIX}')",
                                        tag="test", settings_={"apply_deleted_mask": 0}).result_rows]
        for name, path in ch.query("SELECT name, path FROM system.parts WHERE database = {d:String} AND table = {t:String} "
                                   "AND name IN {n:Array(String)}", tag="test",
                                   parameters={"d": ch.database(), "t": table, "n": names}).result_rows:
            found.append((table, name, path))
    return found


def parts_left(parts) -> list[str]:
    """Which of these parts are still listed (active or not) or still on disk."""
    import os

    left = []
    for table, name, path in parts:
        listed = ch.query("SELECT count() FROM system.parts WHERE database = {d:String} AND table = {t:String} "
                          "AND name = {n:String}", tag="test",
                          parameters={"d": ch.database(), "t": table, "n": name}).result_rows[0][0]
        if listed or os.path.exists(path):
            left.append(f"{table}/{name}")
    return left


def raw_identifiers_in_database() -> int:
    """Rows of any table of the portal's database whose text holds the email or a job id of the subject."""
    hits = 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
                       "AND table_type = 'BASE TABLE'")
        for (name,) in cursor.fetchall():
            cursor.execute(f'SELECT count(*) FROM "{name}" t WHERE lower(t::text) LIKE %s OR t::text LIKE %s',
                           [f"%{EMAIL.lower()}%", f"%{PREFIX}%"])
            hits += cursor.fetchone()[0]
    return hits


def others_exactly_once(background: int) -> tuple[int, int]:
    n, distinct = ch.query(f"SELECT count(), uniqExact(job_id, retries) FROM {{db}}.jobs_all "
                           f"WHERE NOT startsWith(job_id, '{PREFIX}')", tag="test").result_rows[0]
    return int(n), int(distinct)


def cli(*args: str) -> str:
    out = StringIO()
    call_command("archive", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def cli_json(*args: str):
    return json.loads(cli(*args, "--format", "json"))


def export_all() -> None:
    summary = Exporter(claim_idle_ms=0).run()
    assert not summary.errors, summary.errors
