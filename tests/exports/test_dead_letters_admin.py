"""Fixing and re-queuing dead letters in the admin: bad edits are refused, a re-queue happens once."""

from __future__ import annotations

import pytest

from apps.exports.exporter import Exporter
from apps.exports.models import DeadLetter

BROKEN = {b"job_id": b"j-9", b"queue": b"emails", b"outcome": b"sucess", b"enqueue_time": b"1764000000000"}


@pytest.fixture
def admin_client_with_dead_letter(archive, admin_client):
    archive.redis.xadd(archive.stream, BROKEN)
    Exporter().run()
    return admin_client, DeadLetter.objects.get()


def _change_url(dead_letter):
    return f"/admin/exports/deadletter/{dead_letter.pk}/change/"


def test_fields_must_stay_a_flat_object_of_strings(admin_client_with_dead_letter):
    client, dead_letter = admin_client_with_dead_letter
    for bad, message in [('{"job_id": 9}', "Every value must be a string"), ('["a"]', "Enter a JSON object")]:
        response = client.post(_change_url(dead_letter), {"fields": bad})
        assert response.status_code == 200
        assert message in response.content.decode()
    dead_letter.refresh_from_db()
    assert dead_letter.fields["outcome"] == "sucess"


def test_fixed_entry_is_requeued_once_and_archived(archive, admin_client_with_dead_letter):
    client, dead_letter = admin_client_with_dead_letter
    fixed = {**dead_letter.fields, "outcome": "success"}
    import json

    response = client.post(_change_url(dead_letter), {"fields": json.dumps(fixed)})
    assert response.status_code == 302
    action = {"action": "requeue", "_selected_action": [dead_letter.pk]}
    first = client.post("/admin/exports/deadletter/", action, follow=True).content.decode()
    assert "Re-queued 1 entry" in first
    again = client.post("/admin/exports/deadletter/", action, follow=True).content.decode()
    assert "1 entry had been re-queued already" in again

    Exporter().run()
    assert archive.clickhouse_count("job_id = 'j-9' AND outcome = 'success'") == 1
    dead_letter.refresh_from_db()
    assert dead_letter.requeued_as and dead_letter.requeued_by.username == "admin"
    # The edit is in the audit log with its diff.
    from auditlog.models import LogEntry

    entry = LogEntry.objects.get_for_object(dead_letter).filter(changes__icontains="outcome").first()
    assert entry is not None and entry.actor.username == "admin"


def test_a_requeue_whose_record_failed_does_not_add_the_entry_twice(archive, admin_client_with_dead_letter):
    """The stream append happens, then recording it in PostgreSQL fails (rolled back): the retry
    records the entry that is already there instead of adding a second one."""
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from apps.exports.services import dead_letter_requeue

    _, dead_letter = admin_client_with_dead_letter
    DeadLetter.objects.filter(pk=dead_letter.pk).update(fields={**dead_letter.fields, "outcome": "success"})
    actor = get_user_model().objects.get(username="admin")
    before = archive.redis.xlen(archive.stream)

    class RecordFailed(Exception):
        pass

    with pytest.raises(RecordFailed), transaction.atomic():
        first_id = dead_letter_requeue(dead_letter=dead_letter, actor=actor)
        raise RecordFailed  # the database write of the re-queue is lost
    dead_letter.refresh_from_db()
    assert dead_letter.requeued_at is None and archive.redis.xlen(archive.stream) == before + 1

    second_id = dead_letter_requeue(dead_letter=dead_letter, actor=actor)
    assert second_id == first_id
    assert archive.redis.xlen(archive.stream) == before + 1
    Exporter().run()
    assert archive.clickhouse_count("job_id = 'j-9' AND outcome = 'success'") == 1
