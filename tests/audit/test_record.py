"""Writing the chain: each event links to the one before, and the database refuses changes."""

import pytest
from django.db import DatabaseError, transaction

from apps.accounts.actors import Actor
from apps.audit import chain
from apps.audit.models import GENESIS, AuditEvent
from apps.audit.services import AuditDetailsError, audit_record


@pytest.mark.django_db
def test_events_link_and_hash_their_canonical_json():
    first = audit_record(actor=Actor.system("beat"), action="retention.run", target="run:1", details={"records": 3})
    second = audit_record(actor=Actor.system("beat"), action="retention.run", target="run:2", details={"x": 0.5})
    assert (first.seq, first.prev_hash) == (1, GENESIS)
    assert (second.seq, second.prev_hash) == (2, first.hash)
    stored = AuditEvent.objects.get(seq=2)
    assert chain.event_hash(stored) == stored.hash == second.hash


@pytest.mark.django_db
def test_update_and_delete_are_refused_by_the_database():
    event = audit_record(actor=Actor.system("beat"), action="retention.run", target="run:1")
    for change in (lambda: AuditEvent.objects.filter(pk=event.pk).update(action="nothing"),
                   lambda: AuditEvent.objects.filter(pk=event.pk).delete()):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            change()
    assert AuditEvent.objects.get(pk=event.pk).action == "retention.run"


@pytest.mark.django_db
def test_details_never_hold_payloads():
    with pytest.raises(AuditDetailsError, match="payload"):
        audit_record(actor=Actor.system("beat"), action="x", details={"entry": {"payload": "{}"}})
    assert not AuditEvent.objects.exists()
