"""Subject access (GDPR art. 15): a person's archived records, from the warm and the cold tier, as a
bundle only the officer who asked can download, until it expires; an erasure of the person deletes it."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.accounts.actors import Actor
from apps.audit.models import AuditEvent
from apps.compliance.models import StoredCopy, SubjectKeyRule
from apps.compliance.subject_keys import DEFAULT_RULES, key_hash
from apps.erasure import access, access_bundle
from apps.erasure.models import AccessState, SubjectAccessRequest
from apps.erasure.tombstones import job_hash
from apps.lake import s3
from apps.records.schema import COLUMN_NAMES
from apps.retention.models import RetentionPolicy
from apps.retention.services import retention_run
from apps.stream.demo import generate
from apps.warehouse import client as ch
from tests.actors import TESTS
from tests.retention.helpers import DAY_MS, T0, export
from tests.roles import user_in

PEOPLE = {"ann": ("Ann.Access@Example.org", "u-ann-7"), "bob": ("bob.other@example.net", "u-bob-9")}
ANN = ["email= ann.access@example.org ", "user_id=u-ann-7"]  # as an officer types them
LEGACY = "ann-legacy-1"  # a job of Ann's whose record carries no subject key: named by its job id


def _entry(job_id: str, ms: int, *, email: str | None, user_id: str | None) -> dict:
    payload = {"n": job_id, **({"email": email} if email else {})}
    return {b"job_id": job_id.encode(), b"queue": b"emails", b"outcome": b"success", b"enqueue_time": str(ms).encode(),
            b"retries": b"0", b"payload": json.dumps(payload).encode(),
            b"tags": json.dumps({"region": "eu", **({"user_id": user_id} if user_id else {})}).encode()}


def default_rules() -> None:
    """The migration's default subject key rules (a flushed test database has none)."""
    for rule in DEFAULT_RULES:
        SubjectKeyRule.objects.get_or_create(source=rule.source, field=rule.field,
                                             defaults={"name": rule.name, "kind": rule.kind})


def two_subjects(archive) -> dict[str, set[str]]:
    """Ann's and Bob's records over ten days among others, old days tiered to cold (warm keeps five
    days); some of Ann's records carry only her email, some only her user id, one neither."""
    default_rules()
    now_ms = int(T0.timestamp() * 1000)
    entries = generate(300, seed=3, now_ms=now_ms, spread_ms=10 * DAY_MS - 60_000)
    ann, bob = set(), set()
    for i in range(10):
        ms = now_ms - i * DAY_MS - 5000
        email, user_id = PEOPLE["ann"]
        entries.append(_entry(f"ann-{i}", ms, email=email if i % 3 != 1 else None,
                              user_id=user_id if i % 3 != 2 else None))
        ann.add(f"ann-{i}")
    entries.append(_entry(LEGACY, now_ms - 8 * DAY_MS, email=None, user_id=None))
    ann.add(LEGACY)
    for i in range(6):
        email, user_id = PEOPLE["bob"]
        entries.append(_entry(f"bob-{i}", now_ms - i * DAY_MS * 3 // 2 - 7000, email=email, user_id=user_id))
        bob.add(f"bob-{i}")
    pipe = archive.redis.pipeline()
    for fields in entries:
        pipe.xadd(archive.stream, fields)
    pipe.execute()
    export()
    RetentionPolicy.objects.create(warm_days=5, cold_days=0, description="global")
    retention_run(actor=TESTS, dry_run=False, as_of=T0, steps=("tiering",))
    warm = _job_ids("jobs_archive", "ann-")
    cold_only = _job_ids("jobs_cold", "ann-") - warm
    assert warm and cold_only, (warm, cold_only)  # Ann is in both tiers
    return {"ann": ann, "bob": bob, "ann_cold_only": cold_only, "ann_warm": warm}


def _job_ids(table: str, prefix: str) -> set[str]:
    rows = ch.query(f"SELECT job_id FROM {{db}}.{table} WHERE startsWith(job_id, {{p:String}})", tag="test",
                    parameters={"p": prefix}).result_rows
    return {j for (j,) in rows}


def _officers():
    return user_in("Compliance Officer", "officer_a"), user_in("Compliance Officer", "officer_b")


def _bundle_keys(request: SubjectAccessRequest) -> list[dict]:
    """Every version and delete marker under the request's prefix."""
    client = s3.client()
    found = []
    bucket = request.bundle.bucket if request.bundle else settings.S3_BUCKET
    for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket,
                                                                      Prefix=f"subject-access/{request.pk}/"):
        found += page.get("Versions", []) + page.get("DeleteMarkers", [])
    return found


def _records(download) -> list[dict]:
    return json.loads(download.body)


def _cli(*args: str) -> str:
    out = StringIO()
    call_command("archive", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def _raw_in_portal_database(*needles: str) -> int:
    from django.db import connection

    hits = 0
    with connection.cursor() as cursor:
        for table in ("erasure_subjectaccessrequest", "audit_auditevent", "compliance_storedcopy"):
            for needle in needles:
                cursor.execute(f'SELECT count(*) FROM "{table}" t WHERE lower(t::text) LIKE %s', [f"%{needle.lower()}%"])
                hits += cursor.fetchone()[0]
    return hits


# --- a bundle, its download, its audit trail ---------------------------------------------------------
def test_a_bundle_holds_exactly_the_subjects_records_from_both_tiers_for_its_requester_only(archive):
    spread = two_subjects(archive)
    officer_a, officer_b = _officers()
    request = access.access_request(actor=Actor.of_user(officer_a), subjects=ANN, job_ids=[LEGACY],
                                    reason="DSR-15 by e-mail", basis="GDPR art. 15")
    request.refresh_from_db()  # built on commit (tests run the worker's task in-process)
    assert request.state == AccessState.READY, request.error
    assert request.records == len(spread["ann"]) and request.job_ids == []  # raw job ids gone once built
    email_hash = key_hash("email", PEOPLE["ann"][0], kind="email")
    assert request.key_hashes == sorted({email_hash, key_hash("user_id", PEOPLE["ann"][1])})
    assert request.job_id_hashes == [job_hash(LEGACY)]
    assert _raw_in_portal_database(PEOPLE["ann"][0], LEGACY) == 0  # only hashes were kept

    as_json = _records(access.access_download(request=request, actor=Actor.of_user(officer_a), fmt="json"))
    assert {r["job_id"] for r in as_json} == spread["ann"]  # every tier, nobody else's
    assert spread["ann_cold_only"] <= {r["job_id"] for r in as_json}
    assert set(as_json[0]) >= set(COLUMN_NAMES)  # every column of the record
    assert as_json[0]["enqueue_time"].endswith("+00:00") and isinstance(as_json[0]["tags"], dict)
    assert sorted(r["enqueue_time"] for r in as_json) == [r["enqueue_time"] for r in as_json]
    keyed = {r["job_id"]: r for r in as_json}
    assert email_hash in keyed["ann-0"]["subject_keys"] and keyed[LEGACY]["subject_keys"] == []
    csv_download = access.access_download(request=request, actor=Actor.of_user(officer_a), fmt="csv")
    rows = list(csv.DictReader(io.StringIO(csv_download.body.decode())))
    assert {r["job_id"] for r in rows} == spread["ann"] and list(rows[0]) == list(as_json[0])
    assert json.loads(rows[0]["tags"]) == as_json[0]["tags"]

    copy = StoredCopy.objects.get(pk=request.bundle_id)
    assert (copy.kind, copy.bucket, copy.records) == ("subject_access", settings.S3_BUCKET, len(spread["ann"]))
    assert sorted(copy.keys) == [f"subject-access/{request.pk}/records.csv", f"subject-access/{request.pk}/records.json"]
    assert set(request.key_hashes) <= set(copy.key_hashes)
    assert key_hash("email", PEOPLE["bob"][0], kind="email") not in copy.key_hashes
    assert set(copy.job_id_hashes) == {job_hash(j) for j in spread["ann"]}
    assert copy.expires_at == SubjectAccessRequest.objects.get(pk=request.pk).expires_at

    # Another officer sees the request but cannot download its bundle; nobody else sees it.
    with pytest.raises(access.AccessRefused, match="only officer_a"):
        access.access_download(request=request, actor=Actor.of_user(officer_b), fmt="json")
    with pytest.raises(PermissionDenied):
        access.access_download(request=request, actor=Actor.of_user(user_in("SRE", "sre")), fmt="json")

    request.refresh_from_db()
    assert request.state == AccessState.DOWNLOADED and request.downloaded_at
    events = list(AuditEvent.objects.filter(target=f"subject_access:{request.pk}").order_by("seq"))
    assert [e.action for e in events] == ["subject_access.requested", "subject_access.built",
                                          "subject_access.downloaded", "subject_access.downloaded"]
    assert events[0].actor == "officer_a" and events[0].details["subject_keys"] == request.key_hashes
    assert events[1].details["records"] == len(spread["ann"]) and events[1].details["copy"] == copy.pk
    assert [e.details["format"] for e in events[2:]] == ["json", "csv"]
    assert not any(PEOPLE["ann"][0].lower() in json.dumps(e.details).lower() or LEGACY in json.dumps(e.details)
                   for e in events)

    # Bob's own bundle has none of Ann's records.
    bob = access.access_request(actor=Actor.of_user(officer_b), subjects=[f"email={PEOPLE['bob'][0]}"],
                                reason="DSR-16")
    bob_records = _records(access.access_download(request=bob, actor=Actor.of_user(officer_b)))
    assert {r["job_id"] for r in bob_records} == spread["bob"]


def test_the_pages_file_a_request_and_only_its_requester_downloads(archive, client):
    spread = two_subjects(archive)
    officer_a, officer_b = _officers()
    client.force_login(officer_a)
    assert client.get("/compliance/access/").status_code == 200
    assert client.get("/compliance/access/new/").status_code == 200
    refused = client.post("/compliance/access/new/", {"subjects": "phone=1", "basis": "GDPR art. 15", "reason": "x"})
    assert refused.status_code == 200 and "no subject key &#x27;phone&#x27;" in refused.content.decode()
    filed = client.post("/compliance/access/new/", {"subjects": "\n".join(ANN), "job_ids": LEGACY,
                                                    "basis": "GDPR art. 15", "reason": "DSR-17"})
    assert filed.status_code == 302, filed.content.decode().split("<main>")[1][:1500]
    request = SubjectAccessRequest.objects.get()
    assert filed["Location"] == f"/compliance/access/{request.pk}/"
    page = client.get(filed["Location"]).content.decode()
    assert "Ready to download" in page and 'id="download-json"' in page and 'id="download-csv"' in page
    assert PEOPLE["ann"][0].lower() not in page.lower()
    got = client.post(f"/compliance/access/{request.pk}/download/json/")
    assert got.status_code == 200 and got["Content-Disposition"] == f'attachment; filename="{request.reference}-records.json"'
    assert {r["job_id"] for r in json.loads(got.content)} == spread["ann"]
    assert client.get(f"/compliance/access/{request.pk}/download/json/").status_code == 405  # a button, not a link

    client.force_login(officer_b)
    page = client.get(f"/compliance/access/{request.pk}/").content.decode()
    assert 'id="download-json"' not in page and 'id="not-yours"' in page
    assert client.post(f"/compliance/access/{request.pk}/download/json/").status_code == 403
    client.force_login(user_in("SRE", "sre"))
    assert client.get("/compliance/access/").status_code == 403
    assert client.get(f"/compliance/access/{request.pk}/").status_code == 403


# --- expiry ------------------------------------------------------------------------------------------------
def _versioned_bucket() -> str:
    name = f"sar-{uuid.uuid4().hex[:10]}"
    client = s3.client()
    client.create_bucket(Bucket=name)
    client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def test_an_expired_bundle_is_gone_every_version_of_it(archive, settings):
    spread = two_subjects(archive)
    officer_a, _ = _officers()
    settings.S3_BUCKET = _versioned_bucket()  # the bundle's bucket keeps versions
    request = access.access_request(actor=Actor.of_user(officer_a), subjects=ANN, reason="DSR-18")
    request.refresh_from_db()
    assert request.state == AccessState.READY, request.error
    assert request.bundle.bucket == settings.S3_BUCKET
    # Older versions of a file, as a rebuilt bundle leaves them.
    client = s3.client()
    key = access.object_key(request.pk, "json")
    client.put_object(Bucket=settings.S3_BUCKET, Key=key, Body=b"[]\n")
    client.put_object(Bucket=settings.S3_BUCKET, Key=key, Body=access_bundle.as_json([{"job_id": "ann-0"}]))
    assert len(_bundle_keys(request)) == 4
    expires_at = request.expires_at
    assert timedelta(hours=71) < expires_at - request.ready_at <= timedelta(hours=72)

    assert access.access_expire_due(now=expires_at - timedelta(seconds=1)) == {"expired": [],
                                                                               "object_versions_deleted": 0}
    done = access.access_expire_due(now=expires_at + timedelta(seconds=1))
    assert done == {"expired": [request.reference], "object_versions_deleted": 4}
    request.refresh_from_db()
    assert request.state == AccessState.EXPIRED and request.expired_at
    assert _bundle_keys(request) == []
    copy = StoredCopy.objects.get(pk=request.bundle_id)
    assert copy.deleted_at is not None and copy.deleted_why == "expired"
    with pytest.raises(access.AccessRefused, match="expired"):
        access.access_download(request=request, actor=Actor.of_user(officer_a))
    event = AuditEvent.objects.get(action="subject_access.expired")
    assert (event.actor, event.details["object_versions_deleted"]) == ("beat", 4)
    assert request.records == len(spread["ann"]) - 1  # named by keys only: not the record that has none

    # The beat task runs it, every 15 minutes.
    from apps.core.schedule import SCHEDULE
    from apps.erasure.tasks import subject_access_expire

    entry = next(e for e in SCHEDULE if e.task == subject_access_expire.name)
    assert entry.every_seconds == 900
    assert subject_access_expire.apply().get() == {"expired": [], "object_versions_deleted": 0}


# --- the command line --------------------------------------------------------------------------------------
def test_the_command_line_writes_the_bundle_files(archive, tmp_path):
    spread = two_subjects(archive)
    _officers()
    user_in("SRE", "sre")
    args = ["subject", "export", "--subject", ANN[0], "--subject", ANN[1], "--job-id", LEGACY]
    out = json.loads(_cli(*args, "--by", "officer_a", "--out", str(tmp_path / "dsr"), "--format", "json"))
    request = SubjectAccessRequest.objects.get(pk=out["id"])
    assert out["records"] == len(spread["ann"]) == request.records
    assert request.state == AccessState.DOWNLOADED
    records = json.loads((tmp_path / "dsr" / "records.json").read_text())
    assert {r["job_id"] for r in records} == spread["ann"]
    rows = list(csv.DictReader((tmp_path / "dsr" / "records.csv").open()))
    assert {r["job_id"] for r in rows} == spread["ann"]
    text = _cli("subject", "export", "--subject", f"email={PEOPLE['bob'][0]}", "--by", "officer_b",
                "--out", str(tmp_path / "bob"))
    assert text.startswith("SAR-") and f"{len(spread['bob'])} records" in text

    for bad, why in ((["--subject", ANN[0], "--by", "sre"], "may not do this"),
                     (["--by", "officer_a"], "at least one subject"),
                     (["--subject", "phone=1", "--by", "officer_a"], "no subject key 'phone'"),
                     (["--subject", ANN[0], "--by", "nobody"], "no portal user")):
        with pytest.raises(CommandError, match=why):
            _cli("subject", "export", *bad, "--out", str(tmp_path / "refused"))
    assert not (tmp_path / "refused").exists()
    assert SubjectAccessRequest.objects.count() == 2


# --- an erasure of the person deletes the bundle --------------------------------------------------------
def test_an_erasure_of_the_subject_deletes_their_bundle_and_verifies(archive):
    spread = two_subjects(archive)
    officer_a, officer_b = _officers()
    ann = access.access_request(actor=Actor.of_user(officer_a), subjects=ANN, reason="DSR-19")
    bob = access.access_request(actor=Actor.of_user(officer_b), subjects=[f"user_id={PEOPLE['bob'][1]}"],
                                reason="DSR-20")
    ann.refresh_from_db()
    bob.refresh_from_db()
    assert ann.state == bob.state == AccessState.READY
    assert len(_bundle_keys(ann)) == 2

    filed = json.loads(_cli("erasure", "file", "--subject", ANN[0], "--subject", ANN[1], "--basis",
                            "GDPR art. 17(1)(a)", "--reason", "DSR-21", "--by", "officer_a", "--format", "json"))
    preview = json.loads(_cli("erasure", "preview", str(filed["id"]), "--format", "json"))
    assert preview["counts"]["copies"] == ann.records and preview["copies"] == 1
    _cli("erasure", "approve", str(filed["id"]), "--by", "officer_b")
    done = json.loads(_cli("erasure", "run", str(filed["id"]), "--format", "json"))
    assert done["state"] == "completed", done
    assert done["verification"]["passed"] is True
    assert done["verification"]["places"]["copies"]["clean"] is True
    assert done["counts"]["copies"] == ann.records

    copy = StoredCopy.objects.get(pk=ann.bundle_id)
    assert copy.deleted_at is not None and copy.deleted_why == "erasure"
    assert _bundle_keys(ann) == []
    with pytest.raises(access.AccessRefused, match="deleted"):
        access.access_download(request=ann, actor=Actor.of_user(officer_a))
    # Bob's bundle is untouched, and still his own records only.
    assert StoredCopy.objects.get(pk=bob.bundle_id).deleted_at is None
    assert {r["job_id"] for r in _records(access.access_download(request=bob, actor=Actor.of_user(officer_b)))} \
        == spread["bob"]
    # A new request for Ann finds what the erasure left: the record named by a job id only.
    again = access.access_request(actor=Actor.of_user(officer_a), subjects=ANN, job_ids=[LEGACY], reason="DSR-22")
    again.refresh_from_db()
    assert [r["job_id"] for r in _records(access.access_download(request=again, actor=Actor.of_user(officer_a)))] \
        == [LEGACY]


# --- without the warehouse ---------------------------------------------------------------------------------
@pytest.mark.django_db
def test_a_request_is_refused_plainly_and_keeps_no_raw_identifier():
    default_rules()
    officer = user_in("Compliance Officer", "officer")
    who = Actor.of_user(officer)
    for kwargs, why in (({"subjects": [], "job_ids": []}, "at least one subject"),
                        ({"subjects": ["email"]}, "KEY=VALUE"),
                        ({"subjects": ["phone=+44 1"]}, "no subject key 'phone'"),
                        ({"subjects": ANN, "reason": " "}, "needs a reason"),
                        ({"subjects": ANN, "basis": ""}, "legal basis"),
                        ({"job_ids": ["x" * 129]}, "at most 128")):
        with pytest.raises(access.AccessRefused, match=why):
            access.access_request(actor=who, **{"reason": "DSR", **kwargs}, submit=False)
    with pytest.raises(PermissionDenied, match="add_subjectaccessrequest"):
        access.access_request(actor=Actor.of_user(user_in("Analyst", "analyst")), subjects=ANN, reason="x",
                              submit=False)
    with pytest.raises(access.AccessRefused, match="portal user"):
        access.access_request(actor=TESTS, subjects=ANN, reason="x", submit=False)
    filed = access.access_request(actor=who, subjects=ANN, job_ids="j-1, j-2", reason="DSR", submit=False)
    assert filed.key_names == ["email", "user_id"] and filed.job_ids == ["j-1", "j-2"]
    assert filed.reference == f"SAR-{filed.pk:05d}" and filed.state == AccessState.REQUESTED
    assert timedelta(hours=71) < filed.expires_at - filed.created_at <= timedelta(hours=72)
    assert _raw_in_portal_database("ann.access@example.org", "u-ann-7") == 0
    with pytest.raises(access.AccessRefused, match="requested, waiting"):
        access.access_download(request=filed, actor=who)
    # Never built: it expires all the same, and its raw job ids go.
    result = access.access_expire_due(now=filed.expires_at + timedelta(seconds=1))
    assert result["expired"] == [filed.reference]
    filed.refresh_from_db()
    assert filed.state == AccessState.EXPIRED and filed.job_ids == [] and filed.bundle is None


def test_the_bundle_files_say_every_value_plainly():
    from datetime import datetime, timezone

    bundle = access_bundle.from_rows(["job_id", "enqueue_time", "tags", "subject_keys", "start_time"],
                                     [("j-1", datetime(2026, 3, 1, 12, 0, 0, 250000, tzinfo=timezone.utc),
                                       {"region": "eu"}, ["ab" * 16], None)])
    assert json.loads(bundle.file("json")) == [{"job_id": "j-1", "enqueue_time": "2026-03-01T12:00:00.250000+00:00",
                                                "tags": {"region": "eu"}, "subject_keys": ["ab" * 16],
                                                "start_time": None}]
    assert bundle.file("csv").decode().splitlines() == [
        "job_id,enqueue_time,tags,subject_keys,start_time",
        'j-1,2026-03-01T12:00:00.250000+00:00,"{""region"": ""eu""}","[""' + "ab" * 16 + '""]",']
    assert access_bundle.as_json([]) == b"[]\n"
