"""The digests' bucket, the real SeaweedFS of the run: locked versions cannot be deleted or replaced, and verify reads them all."""

from datetime import datetime, timedelta

import pytest
import rfc8785
from botocore.exceptions import ClientError

from apps.audit import anchors
from apps.audit.services import audit_anchor, audit_record
from apps.audit.verify import chain_verify
from apps.lake import s3
from tests.actors import TESTS


@pytest.fixture
def anchored(audit_bucket):
    for n in range(3):
        audit_record(actor=TESTS, action="export.run", target="stream:test", details={"batches": n})
    digest = audit_anchor(actor=TESTS)
    return digest, s3.client(anchors.config(), attempts=1)


@pytest.mark.django_db
def test_the_bucket_is_locked_and_the_digest_is_retained_in_compliance_mode(anchored, settings):
    digest, client = anchored
    assert client.get_object_lock_configuration(Bucket=settings.S3_AUDIT_BUCKET)[
        "ObjectLockConfiguration"]["ObjectLockEnabled"] == "Enabled"
    retention = client.get_object_retention(Bucket=settings.S3_AUDIT_BUCKET, Key=digest.key)["Retention"]
    assert retention["Mode"] == "COMPLIANCE"
    assert (retention["RetainUntilDate"] - digest_time(digest)).days >= settings.ARCHIVE_AUDIT_DIGEST_RETAIN_DAYS - 1


def digest_time(digest):
    return datetime.fromisoformat(digest.at.replace("Z", "+00:00"))


@pytest.mark.django_db
def test_deleting_the_digest_version_is_refused(anchored, settings):
    digest, client = anchored
    bucket = settings.S3_AUDIT_BUCKET
    for attempt in (lambda: client.delete_object(Bucket=bucket, Key=digest.key, VersionId=digest.version_id),
                    lambda: client.delete_object(Bucket=bucket, Key=digest.key, VersionId=digest.version_id,
                                                 BypassGovernanceRetention=True)):
        with pytest.raises(ClientError) as refused:
            attempt()
        assert refused.value.response["Error"]["Code"] == "AccessDenied"
    sooner = digest_time(digest) + timedelta(days=1)
    with pytest.raises(ClientError, match="AccessDenied"):  # nor can the lock be shortened
        client.put_object_retention(Bucket=bucket, Key=digest.key, VersionId=digest.version_id,
                                    Retention={"Mode": "COMPLIANCE", "RetainUntilDate": sooner})
    body = client.get_object(Bucket=bucket, Key=digest.key, VersionId=digest.version_id)["Body"].read()
    assert b'"seq":3' in body


@pytest.mark.django_db
def test_a_delete_marker_hides_nothing_from_verify(anchored, settings):
    digest, client = anchored
    client.delete_object(Bucket=settings.S3_AUDIT_BUCKET, Key=digest.key)  # no version: only a marker
    assert client.list_objects_v2(Bucket=settings.S3_AUDIT_BUCKET, Prefix=anchors.PREFIX)["KeyCount"] == 0

    result = chain_verify()
    assert result.digests == 1  # still read, by version
    assert [p.line() for p in result.problems] == [
        f"digest {digest.key}: someone tried to delete it (a delete marker hides it; its locked versions are still "
        "there and are checked)"]


@pytest.mark.django_db
def test_an_overwrite_is_refused_or_leaves_the_locked_version(anchored, settings):
    digest, client = anchored
    bucket = settings.S3_AUDIT_BUCKET
    with pytest.raises(ClientError, match="PreconditionFailed"):  # how the portal writes: once per key
        client.put_object(Bucket=bucket, Key=digest.key, Body=b"{}", IfNoneMatch="*")
    forged = anchors.document(seq=3, head_hash="f" * 64, at=digest_time(digest), previous=None)
    client.put_object(Bucket=bucket, Key=digest.key, Body=rfc8785.dumps(forged))  # a new version, unlocked
    original = client.get_object(Bucket=bucket, Key=digest.key, VersionId=digest.version_id)["Body"].read()
    assert f'"hash":"{digest.hash}"'.encode() in original

    lines = [p.line() for p in chain_verify().problems]
    assert f"digest {digest.key}: it was overwritten (2 versions; each is checked)" in lines
    assert any(line.startswith("event 3: it does not match digest") for line in lines)  # the forgery, checked too
    assert any("is not locked in compliance mode" in line for line in lines)


@pytest.mark.django_db
def test_digests_chain_by_their_own_hashes(anchored):
    first, _ = anchored
    second = audit_anchor(actor=TESTS)
    assert (second.previous_key, second.previous_hash) == (first.key, first.digest_hash)
    assert second.seq == first.seq + 1  # the first anchor's own event
    result = chain_verify()
    assert result.ok and result.digests == 2 and result.newest_digest.key == second.key


@pytest.mark.django_db
def test_an_existing_bucket_without_object_lock_is_refused(seaweedfs, settings):
    settings.S3_AUDIT_BUCKET = settings.S3_BUCKET  # the Iceberg bucket: created without a lock
    audit_record(actor=TESTS, action="export.run")
    with pytest.raises(anchors.DigestError, match="exists without Object Lock"):
        audit_anchor(actor=TESTS)


@pytest.mark.django_db
def test_the_hourly_anchor_runs_as_beat_on_the_default_queue(audit_bucket):
    from apps.audit.models import AuditEvent
    from apps.audit.tasks import anchor_chain_head
    from apps.core.schedule import SCHEDULE
    from archive_portal.celery import app

    entry = next(e for e in SCHEDULE if e.task == anchor_chain_head.name)
    assert entry.every_seconds == 3600
    assert app.amqp.router.route({}, entry.task)["queue"].name == "default"  # no warehouse needed

    audit_record(actor=TESTS, action="export.run")
    digest = anchor_chain_head.apply().get()
    event = AuditEvent.objects.get(action="audit.anchored")
    assert (event.actor, event.details["key"], digest["seq"]) == ("beat", digest["key"], 1)
