"""Commands that change data always record who acted: the portal user `--by` names, else the OS user."""

from __future__ import annotations

import getpass
import json
from io import StringIO

import pytest
from auditlog.models import LogEntry
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.retention.models import RetentionPolicy, RetentionRun


def test_a_run_without_by_records_the_os_user_and_with_by_the_portal_user(archive):
    call_command("archive", "run", "--dry-run", "--steps", "trim", "--json", stdout=StringIO())
    assert RetentionRun.objects.get().actor == f"os:{getpass.getuser()}"

    alice = get_user_model().objects.create_user("alice", is_superuser=True)
    call_command("archive", "run", "--dry-run", "--steps", "trim", "--by", "alice", "--json", stdout=StringIO())
    run = RetentionRun.objects.latest("started_at")
    assert (run.actor, run.requested_by) == ("alice", alice)


def test_a_policy_import_without_by_names_the_os_user_in_the_audit_log(archive, tmp_path):
    policies = tmp_path / "policies.json"
    policies.write_text(json.dumps([{"queue": "emails", "outcome": "", "warm_days": 60}]))

    call_command("archive", "policy", "set", "--file", str(policies), stdout=StringIO())

    entry = LogEntry.objects.get_for_object(RetentionPolicy.objects.get()).get()
    assert entry.actor is None and entry.additional_data["actor"] == f"os:{getpass.getuser()}"


def test_by_must_name_an_active_user_with_the_permission(archive):
    get_user_model().objects.create_user("gone", is_active=False)
    get_user_model().objects.create_user("clerk")
    with pytest.raises(CommandError, match="inactive"):
        call_command("archive", "run", "--dry-run", "--by", "gone")
    with pytest.raises(CommandError, match="no portal user"):
        call_command("archive", "run", "--dry-run", "--by", "nobody")
    with pytest.raises(CommandError, match="may not do this"):
        call_command("archive", "purge", "--older-than", "1d", "--dry-run", "--by", "clerk")
    assert not RetentionRun.objects.exists()
