"""`archive audit verify`: each way a database superuser can tamper with the chain is found, with the event named."""

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.audit import chain
from apps.audit.models import AuditEvent
from apps.audit.services import audit_anchor, audit_record
from apps.audit.verify import chain_verify
from tests.actors import TESTS
from tests.audit.conftest import manage, tamper


def _events(count: int, start: int = 1) -> None:
    for n in range(start, start + count):
        audit_record(actor=TESTS, action="retention.run", target=f"run:{n}", details={"records": n})


def _rehash_from(seq: int) -> None:
    """Recompute every hash and link from `seq` on, as someone covering an edit would."""
    previous = AuditEvent.objects.get(seq=seq - 1).hash if seq > 1 else "0" * 64
    for event in AuditEvent.objects.filter(seq__gte=seq).order_by("seq"):
        event.prev_hash = previous
        event.hash = chain.event_hash(event)
        tamper("UPDATE audit_auditevent SET prev_hash = %s, hash = %s WHERE seq = %s",
               [event.prev_hash, event.hash, event.seq])
        previous = event.hash


@pytest.mark.django_db
def test_an_untouched_anchored_chain_verifies(audit_bucket):
    _events(5)
    digest = audit_anchor(actor=TESTS)
    _events(2, start=6)
    result = chain_verify()
    assert result.ok, result.line()
    assert (result.events, result.digests, digest.seq) == (8, 1, 5)  # the anchored event is #6
    assert result.line().startswith("audit chain ok: 8 events, 1 digests")
    call_command("archive", "audit", "verify")  # no CommandError: exit 0


@pytest.mark.django_db
def test_an_edited_event_is_named(audit_bucket):
    _events(6)
    tamper("UPDATE audit_auditevent SET details = '{\"records\": 0}' WHERE seq = 4")
    result = chain_verify()
    assert not result.ok and result.first_bad.seq == 4
    assert "hash does not match its content" in result.first_bad.reason


@pytest.mark.django_db
def test_a_deleted_event_is_named(audit_bucket):
    _events(6)
    tamper("DELETE FROM audit_auditevent WHERE seq = 3")
    result = chain_verify()
    assert result.first_bad.seq == 3
    assert result.first_bad.line() == "event 3: missing: event 3 deleted (after event 2 comes event 4)"


@pytest.mark.django_db
def test_recomputed_hashes_are_caught_by_the_digest(audit_bucket):
    _events(3)
    audit_anchor(actor=TESTS)  # anchors event 3; the anchored event is 4
    _events(3, start=5)
    audit_anchor(actor=TESTS)  # anchors event 7
    tamper("UPDATE audit_auditevent SET target = 'run:forged' WHERE seq = 5")
    _rehash_from(5)
    # The chain alone is consistent again:
    for event in AuditEvent.objects.order_by("seq"):
        assert chain.event_hash(event) == event.hash

    result = chain_verify()
    assert not result.ok
    assert result.first_bad.seq == 7
    assert "between events 4 and 7" in result.first_bad.reason  # event 3's digest still matches


@pytest.mark.django_db
def test_a_truncated_tail_is_caught_by_the_digest(audit_bucket):
    _events(5)
    audit_anchor(actor=TESTS)  # anchors event 5; the anchored event is 6
    tamper("DELETE FROM audit_auditevent WHERE seq >= 4")
    result = chain_verify()
    assert result.first_bad.seq == 4
    assert "the chain ends at event 3" in result.first_bad.reason and "anchors event 5" in result.first_bad.reason


@pytest.mark.django_db(transaction=True)
def test_the_command_exits_non_zero_naming_the_first_bad_event(audit_bucket):
    _events(4)
    assert manage("archive", "audit", "anchor", bucket=audit_bucket).returncode == 0
    ok = manage("archive", "audit", "verify", "--format", "json", bucket=audit_bucket)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["ok"] is True and json.loads(ok.stdout)["digests_checked"] == 1

    tamper("UPDATE audit_auditevent SET actor = 'someone-else' WHERE seq = 2")
    text = manage("archive", "audit", "verify", bucket=audit_bucket)
    assert text.returncode != 0
    assert text.stderr.strip().splitlines()[-1] == (
        "CommandError: audit chain broken at event 2: its hash does not match its content (the event was changed)")
    as_json = manage("archive", "audit", "verify", "--format", "json", bucket=audit_bucket)
    assert as_json.returncode != 0
    report = json.loads(as_json.stdout)
    assert (report["ok"], report["first_bad"]["seq"]) == (False, 2)
    # Each verification is itself recorded, with its outcome.
    verified = AuditEvent.objects.filter(action="audit.verified").order_by("seq")
    assert [e.details["ok"] for e in verified] == [True, False, False]
    assert verified.last().details["first_bad_seq"] == 2


@pytest.mark.django_db
def test_an_empty_or_unanchored_chain_says_so(audit_bucket):
    with pytest.raises(CommandError, match="the audit chain is empty"):
        call_command("archive", "audit", "anchor")
    _events(2)
    result = chain_verify()
    assert result.ok and result.digests == 0
    assert "no digests yet" in result.warnings[0]
