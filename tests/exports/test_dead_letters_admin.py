"""Fixing and re-queuing dead letters in the admin: bad edits are refused, a re-queue happens once."""

from __future__ import annotations

import json

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

    from apps.accounts.actors import Actor
    from apps.exports.services import dead_letter_requeue

    _, dead_letter = admin_client_with_dead_letter
    DeadLetter.objects.filter(pk=dead_letter.pk).update(fields={**dead_letter.fields, "outcome": "success"})
    actor = Actor.of_user(get_user_model().objects.get(username="admin"), via="admin")
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


BINARY_PAYLOAD = b"\xff\xfe\x00binary"  # not UTF-8, and NUL, which PostgreSQL's jsonb refuses


def test_a_binary_payload_survives_dead_letter_edit_and_requeue_byte_for_byte(archive, admin_client):
    from apps.exports.pipeline.policy import payload_digest
    from apps.warehouse import client as ch

    archive.redis.xadd(archive.stream, {**BROKEN, b"job_id": b"bin-1", b"payload": BINARY_PAYLOAD,
                                        b"trace_id": b"t\x00nul"})
    assert Exporter().run().dead_letters == 1
    dead_letter = DeadLetter.objects.get()
    assert "payload" not in dead_letter.fields and "trace_id" not in dead_letter.fields

    page = admin_client.get(_change_url(dead_letter)).content.decode()
    assert "payload: binary, 9 bytes, kept as sent" in page and "trace_id: binary, 5 bytes, kept as sent" in page
    fixed = {**dead_letter.fields, "outcome": "success"}
    assert admin_client.post(_change_url(dead_letter), {"fields": json.dumps(fixed)}).status_code == 302
    requeued = admin_client.post("/admin/exports/deadletter/", {"action": "requeue",
                                                                "_selected_action": [dead_letter.pk]}, follow=True)
    assert "Re-queued 1 entry" in requeued.content.decode()

    assert Exporter().run().records == 1
    expected = (payload_digest(BINARY_PAYLOAD).hex(), len(BINARY_PAYLOAD), "t\x00nul")
    warm = ch.query("SELECT payload_hash, payload_size, trace_id FROM {db}.jobs_archive WHERE job_id = 'bin-1'",
                    tag="test").result_rows
    assert warm == [expected]
    cold = archive.iceberg_rows().to_pylist()
    assert [(r["payload_hash"], r["payload_size"], r["trace_id"]) for r in cold] == [expected]


PII = ("grace.hopper@example.com", "4111 1111 1111 1111")


def test_audit_rows_of_a_dead_letter_never_hold_its_values(archive, admin_client):
    """The payload and error message hold an email and a card number, and the contract error
    (the reason) quotes one: editing and deleting it in the admin leaves neither in any audit row."""
    from auditlog.models import LogEntry
    from django.contrib.admin.models import LogEntry as AdminLogEntry

    email, card = PII
    payload = json.dumps({"to": email, "card": card}).encode()
    archive.redis.xadd(archive.stream, {**BROKEN, b"outcome": b"failed", b"retries": card.encode(),
                                        b"payload": payload, b"error_msg": f"550 {email} card {card}".encode()})
    Exporter().run()
    dead_letter = DeadLetter.objects.get()
    assert card in dead_letter.reason  # "retries: '4111 ...' is not an integer"

    fixed = {**dead_letter.fields, "retries": "0", "payload": json.dumps({"to": "someone@example.org"})}
    assert admin_client.post(_change_url(dead_letter), {"fields": json.dumps(fixed)}).status_code == 302
    delete_url = f"/admin/exports/deadletter/{dead_letter.pk}/delete/"
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 302
    assert not DeadLetter.objects.exists()

    rows = list(LogEntry.objects.get_for_object(dead_letter).order_by("timestamp"))
    assert [row.action for row in rows] == [LogEntry.Action.UPDATE, LogEntry.Action.DELETE]
    assert rows[0].changes == {"fields": ["changed keys: payload, retries", "(value not recorded)"]}
    assert rows[0].actor.username == "admin" and rows[1].actor.username == "admin"
    everything = [json.dumps([row.changes, row.changes_text, row.serialized_data, row.additional_data,
                              row.object_repr]) for row in LogEntry.objects.all()]
    everything += [f"{row.object_repr} {row.change_message}" for row in AdminLogEntry.objects.all()]
    for text in everything:
        for value in (email, card, card.replace(" ", ""), "someone@example.org"):
            assert value not in text, text


def test_requeue_is_offered_only_with_its_permission(archive, client, django_user_model):
    from django.contrib.auth.models import Permission

    archive.redis.xadd(archive.stream, {**BROKEN, b"outcome": b"success", b"tags": b"[1]"})
    Exporter().run()
    dead_letter = DeadLetter.objects.get()
    DeadLetter.objects.filter(pk=dead_letter.pk).update(fields={**dead_letter.fields, "tags": "{}"})
    staff = django_user_model.objects.create_user("sre", password="x", is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(content_type__app_label="exports",
                                                          codename__in=["view_deadletter", "change_deadletter"]))
    client.force_login(staff)
    action = {"action": "requeue", "_selected_action": [dead_letter.pk]}

    assert 'value="requeue"' not in client.get("/admin/exports/deadletter/").content.decode()
    refused = client.post("/admin/exports/deadletter/", action, follow=True).content.decode()
    assert "Re-queued" not in refused
    dead_letter.refresh_from_db()
    assert dead_letter.requeued_at is None

    staff.user_permissions.add(Permission.objects.get(codename="requeue_deadletter"))
    assert 'value="requeue"' in client.get("/admin/exports/deadletter/").content.decode()
    assert "Re-queued 1 entry" in client.post("/admin/exports/deadletter/", action, follow=True).content.decode()
    dead_letter.refresh_from_db()
    assert dead_letter.requeued_by == staff


def test_export_errors_cannot_be_deleted_in_the_admin(db, admin_client):
    from apps.exports.models import ExportError

    error = ExportError.objects.create(stage="export", message="OSError: S3 unreachable")
    assert admin_client.get(f"/admin/exports/exporterror/{error.pk}/delete/").status_code == 403
    assert admin_client.post(f"/admin/exports/exporterror/{error.pk}/delete/", {"post": "yes"}).status_code == 403
    assert 'value="delete_selected"' not in admin_client.get("/admin/exports/exporterror/").content.decode()
    assert ExportError.objects.filter(pk=error.pk).exists()
