"""The audit viewer at /audit/: filters, pages, a CSV export that keeps the filters and is itself recorded."""

import csv
import io
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from apps.accounts.actors import Actor
from apps.audit import chain
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record

pytestmark = pytest.mark.django_db


def _user(name: str, *permissions: str):
    user = get_user_model().objects.create_user(name, password="pw")
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="audit", codename__in=permissions))
    return user


@pytest.fixture
def trail():
    alice, bob = Actor(user_id=None, label="alice", via="web"), Actor.system("beat")
    audit_record(actor=alice, action="purge.requested", target="run:7", details={"records": 12})
    audit_record(actor=bob, action="retention.run", target="run:8")
    audit_record(actor=alice, action="hold.placed", target="hold:3")
    audit_record(actor=bob, action="retention.run", target="run:9")


def _rows(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(text)))


def test_anonymous_users_are_sent_to_the_login(client, trail):
    response = client.get(reverse("audit:events"))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    assert client.get(reverse("audit:export")).status_code == 302


def test_a_user_without_the_permission_is_refused(client, trail):
    client.force_login(_user("viewer"))
    assert client.get(reverse("audit:events")).status_code == 403
    client.force_login(_user("reader", "view_auditevent"))  # may look, may not export
    assert client.get(reverse("audit:events")).status_code == 200
    assert client.get(reverse("audit:export")).status_code == 403
    assert not AuditEvent.objects.filter(action="audit.exported").exists()


def test_filters_by_actor_action_target_and_time(client, trail):
    client.force_login(_user("officer", "view_auditevent"))

    def shown(**query) -> list[int]:
        response = client.get(reverse("audit:events"), query)
        assert response.status_code == 200
        return [e.seq for e in response.context["page"].object_list]

    assert shown() == [5, 4, 3, 2, 1]  # 5: the officer's own login
    assert AuditEvent.objects.get(seq=5).action == "auth.login"
    assert shown(actor="ALICE") == [3, 1]
    assert shown(action="retention.") == [4, 2]
    assert shown(target="run:") == [4, 2, 1]
    assert shown(actor="beat", target="run:9") == [4]
    later = timezone.now() + timedelta(minutes=1)
    assert shown(since=later.strftime("%Y-%m-%d %H:%M")) == []
    assert shown(until=later.strftime("%Y-%m-%d %H:%M"), actor="alice") == [3, 1]
    page = client.get(reverse("audit:events"), {"since": "2030-01-02 00:00", "until": "2030-01-01 00:00"})
    assert page.context["page"].paginator.count == 0 and "must be after" in page.content.decode()


def test_pages_of_fifty_newest_first(client):
    for n in range(60):
        audit_record(actor=Actor.system("beat"), action="export.run", target=f"stream:{n}")
    client.force_login(_user("officer", "view_auditevent"))
    first = client.get(reverse("audit:events"))  # 61: the officer's login
    assert [e.seq for e in first.context["page"].object_list][:2] == [61, 60] and "page 1 of 2" in first.content.decode()
    second = client.get(reverse("audit:events"), {"page": 2})
    assert [e.seq for e in second.context["page"].object_list] == list(range(11, 0, -1))


def test_the_csv_export_keeps_the_filters_and_is_recorded(client, trail):
    officer = _user("officer", "view_auditevent", "export_auditevent")
    client.force_login(officer)
    page = client.get(reverse("audit:events"), {"actor": "alice"}).content.decode()
    assert f'href="{reverse("audit:export")}?actor=alice"' in page

    rows = _rows(client.get(reverse("audit:export"), {"actor": "alice"}))
    assert rows[0] == ["seq", "at", "actor", "actor_user_id", "via", "action", "target", "details", "prev_hash", "hash"]
    assert [(r[0], r[5], r[6]) for r in rows[1:]] == [("1", "purge.requested", "run:7"), ("3", "hold.placed", "hold:3")]
    assert rows[1][7] == '{"records": 12}'
    assert rows[1][9] == chain.event_hash(AuditEvent.objects.get(seq=1))  # the file is enough to re-check a row

    exported = AuditEvent.objects.get(action="audit.exported")
    assert (exported.actor, exported.actor_user_id) == ("officer", officer.pk)
    assert exported.details == {"rows": 2, "up_to_seq": 5, "filters": {"actor": "alice"}}  # 5: the login
    assert client.get(reverse("audit:export"), {"since": "not a time"}).status_code == 400
