"""Operations outside retention and approvals leave one audit event each, with figures and ids, never data."""

import hashlib
import json
from datetime import date, timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.accounts.actors import Actor, os_user
from apps.audit.models import AuditEvent
from apps.exports.exporter import Exporter
from apps.exports.models import DeadLetter
from apps.exports.services import dead_letter_edit, dead_letter_requeue
from apps.exports.tasks import export_stream
from apps.stream.demo import generate
from tests.roles import user_in

BROKEN = {b"job_id": b"j-9", b"queue": b"emails", b"outcome": b"sucess", b"enqueue_time": b"1764000000000",
          b"payload": b'{"email": "alice@example.com"}'}


def _feed(archive, count: int) -> None:
    pipe = archive.redis.pipeline()
    for fields in generate(count, seed=3):
        pipe.xadd(archive.stream, fields)
    pipe.execute()


def _only(action: str) -> AuditEvent:
    found = list(AuditEvent.objects.filter(action=action))
    assert len(found) == 1, [str(e) for e in found]
    return found[0]


def test_an_export_command_run_is_one_event_with_its_totals(archive, settings):
    settings.ARCHIVE_EXPORT_BATCH_SIZE = 40  # several batches, still one event
    _feed(archive, 100)
    call_command("archive", "export", "--drain")
    event = _only("export.run")
    assert (event.actor, event.via, event.target) == (f"os:{os_user()}", "cli", f"stream:{archive.stream}")
    assert event.details["records"] == 100 and event.details["batches"] >= 3

    call_command("archive", "export", "--drain")  # nothing left: a command run is still recorded
    assert [e.details["batches"] for e in AuditEvent.objects.filter(action="export.run").order_by("seq")][-1] == 0


def test_a_scheduled_export_is_recorded_only_when_it_exported_something(archive):
    export_stream.apply(kwargs={"max_seconds": 5}).get()
    assert not AuditEvent.objects.exists()
    _feed(archive, 30)
    export_stream.apply(kwargs={"max_seconds": 5}).get()
    event = _only("export.run")
    assert (event.actor, event.via, event.details["records"]) == ("beat", "beat", 30)


def test_a_query_is_recorded_by_its_hash_never_its_text(archive):
    _feed(archive, 10)
    Exporter().run()
    sql = "SELECT count() FROM jobs_archive WHERE worker_id != 'alice@example.com'"
    call_command("archive", "query", sql)
    event = _only("query.run")
    assert event.actor == f"os:{os_user()}" and event.details["rows"] == 1

    assert event.details["sql_sha256"] == hashlib.sha256(sql.encode()).hexdigest()
    assert event.details["sql_length"] == len(sql)
    assert "alice" not in json.dumps(event.details) and "alice" not in event.target

    with pytest.raises(CommandError, match="refused: table system.users"):  # refused by the guard: nothing ran
        call_command("archive", "query", "SELECT * FROM system.users WHERE name = 'alice@example.com'")
    assert AuditEvent.objects.filter(action="query.run").count() == 1
    refused = _only("query.refused")
    assert "alice" not in json.dumps(refused.details) and refused.details["reason"].startswith("refused: table")


def test_dead_letter_edit_and_requeue_name_keys_and_ids_not_values(archive):
    archive.redis.xadd(archive.stream, BROKEN)
    Exporter().run()
    dead_letter = DeadLetter.objects.get()
    admin = Actor.of_user(user_in("SRE", "ops"), via="admin")
    dead_letter_edit(dead_letter=dead_letter, fields={**dead_letter.fields, "outcome": "success"}, actor=admin)
    new_id = dead_letter_requeue(dead_letter=dead_letter, actor=admin)
    assert dead_letter_requeue(dead_letter=dead_letter, actor=admin) is None  # once: no second event

    edited, requeued = _only("dead_letter.edited"), _only("dead_letter.requeued")
    assert (edited.actor, edited.target, edited.details["changed_keys"]) == ("ops", f"dead_letter:{dead_letter.pk}",
                                                                              ["outcome"])
    assert requeued.details["requeued_as"] == new_id and requeued.seq > edited.seq
    for event in (edited, requeued):
        assert "alice" not in json.dumps(event.details) and "success" not in json.dumps(event.details)


@pytest.mark.django_db
def test_rehydration_request_and_drop_are_recorded():
    from apps.rehydration import services

    user = user_in("Analyst", "analyst")
    rehydration = services.rehydration_request(date_from=date(2026, 1, 1), date_to=date(2026, 1, 7), queues=["emails"],
                                               expires_in=timedelta(days=1), actor=Actor.of_user(user, via="admin"),
                                               via="admin", dispatch=False)
    services.rehydration_drop(rehydration=rehydration, actor=Actor.cli(), dispatch=False)
    requested, dropped = _only("rehydration.requested"), _only("rehydration.dropped")
    assert (requested.actor, requested.via, requested.details["queues"]) == ("analyst", "admin", ["emails"])
    assert requested.details["table"] == rehydration.table_name == dropped.details["table"]
    assert (dropped.actor, dropped.target) == (f"os:{os_user()}", f"rehydration:{rehydration.id}")


DEPLOY = Actor(user_id=None, label="os:deploy", via="cli")  # a command run without --by, by the deploy user


def test_a_schema_apply_is_recorded_in_its_transaction(archive):
    from pathlib import Path

    from apps.schemas.registry import forget_live_schema
    from apps.schemas.services import SchemaRefused, schema_apply

    spec = json.loads((Path(__file__).resolve().parents[2] / "docs/schemas/v3.example.json").read_text())
    forget_live_schema()
    try:
        schema_apply(spec=spec, actor=DEPLOY, via="cli")
        event = _only("schema.applied")
        assert (event.actor, event.via, event.target) == ("os:deploy", "cli", f"schema:{spec['version']}")
        assert "region" in event.details["added"]
        with pytest.raises(SchemaRefused):  # the same version again is refused: nothing is recorded
            schema_apply(spec=spec, actor=DEPLOY, via="cli")
        assert AuditEvent.objects.filter(action="schema.applied").count() == 1
    finally:
        forget_live_schema()
