"""Subject keys: identifiers normalised and kept only as keyed hashes; the rules configured by
compliance officers, from the command line and the admin, each change audited."""

from __future__ import annotations

import json
import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.audit.models import AuditEvent
from apps.compliance import subject_keys
from apps.compliance.models import SubjectKeyRule
from apps.compliance.subject_keys import DEFAULT_RULES, SubjectKeyError, extract, key_hash, parse_pair
from tests.roles import user_in


def test_one_person_one_hash_whatever_the_spelling():
    assert key_hash("email", " Ann@Example.ORG ", kind="email") == key_hash("email", "ann@example.org", kind="email")
    assert key_hash("user_id", "7") != key_hash("customer_id", "7")  # the key's name is part of it
    assert key_hash("user_id", "7") == key_hash("user_id", 7)
    digest = key_hash("email", "ann@example.org", kind="email")
    assert re.fullmatch(r"[0-9a-f]{32}", digest)
    with pytest.raises(SubjectKeyError, match="names nobody"):
        key_hash("email", "  ", kind="email")


def test_the_hash_is_keyed(settings):
    before = key_hash("email", "ann@example.org", kind="email")
    settings.ARCHIVE_SUBJECT_KEY_SECRET = "another-secret"
    assert key_hash("email", "ann@example.org", kind="email") != before
    settings.ARCHIVE_SUBJECT_KEY_SECRET = ""
    with pytest.raises(Exception, match="ARCHIVE_SUBJECT_KEY_SECRET"):
        key_hash("email", "ann@example.org", kind="email")


def test_keys_come_from_the_full_payload_and_the_tags():
    payload = json.dumps({"email": "Ann@Example.org", "user_id": 42, "nested": {"email": "x@y.z"}, "flag": True})
    found = extract(DEFAULT_RULES, payload=payload, tags={"user_id": "42", "region": "eu"})
    assert found == sorted({key_hash("email", "ann@example.org", kind="email"), key_hash("user_id", "42")})
    # Not JSON: the tags still count; nothing at all: no keys.
    assert extract(DEFAULT_RULES, payload="not json", tags={"user_id": "9"}) == [key_hash("user_id", "9")]
    assert extract(DEFAULT_RULES, payload=None, tags=None) == []
    assert "Ann@Example.org" not in "".join(found)


def test_a_typed_pair_becomes_its_hash():
    assert parse_pair("email=ANN@example.org", DEFAULT_RULES) == key_hash("email", "ann@example.org", kind="email")
    for bad, why in (("email", "KEY=VALUE"), ("phone=1", "no subject key 'phone'"), ("email= ", "KEY=VALUE")):
        with pytest.raises(SubjectKeyError, match=why):
            parse_pair(bad, DEFAULT_RULES)


@pytest.mark.django_db
def test_the_defaults_are_configured_and_a_compliance_officer_changes_them(tmp_path):
    out = StringIO()
    call_command("archive", "subject-keys", "get", stdout=out)
    assert json.loads(out.getvalue()) == sorted((r.as_dict() for r in DEFAULT_RULES),
                                                key=lambda r: (r["name"], r["source"], r["field"]))
    user_in("Compliance Officer", "officer")
    user_in("SRE", "sre")
    wanted = [{"name": "email", "source": "payload", "field": "email", "kind": "email"},
              {"name": "email", "source": "payload", "field": "contact_email", "kind": "email"}]
    rules_file = tmp_path / "keys.json"
    rules_file.write_text(json.dumps(wanted))
    with pytest.raises(CommandError, match="may not do this"):
        call_command("archive", "subject-keys", "set", "--file", str(rules_file), "--by", "sre")
    out = StringIO()
    call_command("archive", "subject-keys", "set", "--file", str(rules_file), "--by", "officer", stdout=out)
    assert "added: email from payload contact_email (email)" in out.getvalue()
    assert "removed: customer_id from payload customer_id (text)" in out.getvalue()
    assert SubjectKeyRule.objects.count() == 2
    event = AuditEvent.objects.get(action="subject_keys.changed")
    assert event.actor == "officer" and len(event.details["removed"]) == 3

    rules_file.write_text(json.dumps([{"name": "E-mail", "source": "payload", "field": "x"}]))
    with pytest.raises(CommandError, match="lower-case letters.*nothing was changed"):
        call_command("archive", "subject-keys", "set", "--file", str(rules_file), "--by", "officer")
    assert SubjectKeyRule.objects.count() == 2


@pytest.mark.django_db
def test_the_admin_changes_rules_through_the_service(client):
    client.force_login(user_in("Compliance Officer", "officer"))
    response = client.post("/admin/compliance/subjectkeyrule/add/",
                           {"name": "account", "source": "tag", "field": "account_id", "kind": "text"})
    assert response.status_code == 302
    assert SubjectKeyRule.objects.filter(name="account", source="tag").exists()
    assert AuditEvent.objects.get(action="subject_keys.changed").details["added"][0]["field"] == "account_id"
    client.force_login(user_in("Viewer", "viewer"))
    assert client.get("/admin/compliance/subjectkeyrule/").status_code == 403
    assert subject_keys.Rule("account", "tag", "account_id").as_dict()["source"] == "tag"
