"""`archive audit list`: filters, a JSON array, CSV (recorded as an export), and --by needs the permission."""

import csv
import io
import json
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from apps.accounts.actors import Actor
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record

pytestmark = pytest.mark.django_db


def _run(*args) -> str:
    out = io.StringIO()
    call_command("archive", "audit", "list", *args, stdout=out)
    return out.getvalue()


def test_list_filters_and_formats():
    audit_record(actor=Actor.system("beat"), action="retention.run", target="run:1")
    audit_record(actor=Actor(user_id=None, label="alice", via="web"), action="hold.placed", target="hold:1")
    audit_record(actor=Actor.system("beat"), action="retention.purged", target="run:1", details={"records": 4})

    rows = json.loads(_run("--action", "retention.", "--format", "json"))
    assert [(r["seq"], r["action"]) for r in rows] == [(1, "retention.run"), (3, "retention.purged")]
    assert rows[1]["details"] == {"records": 4} and len(rows[1]["hash"]) == 64
    assert json.loads(_run("--actor", "nobody", "--format", "json")) == []
    assert json.loads(_run("--since", (timezone.now() + timedelta(hours=1)).isoformat(), "--format", "json")) == []
    table = _run("--actor", "alice")
    assert "hold.placed" in table and "retention.run" not in table

    exported = list(csv.DictReader(io.StringIO(_run("--format", "csv"))))
    assert [r["seq"] for r in exported] == ["1", "2", "3"]  # up to the head when it started, not its own event
    assert AuditEvent.objects.get(action="audit.exported").details["rows"] == 3


def test_by_needs_the_permission():
    get_user_model().objects.create_user("intern")
    with pytest.raises(CommandError, match="needs the permission audit.view_auditevent"):
        _run("--by", "intern")
    with pytest.raises(CommandError, match="needs the permission audit.verify_chain"):
        call_command("archive", "audit", "verify", "--by", "intern")
