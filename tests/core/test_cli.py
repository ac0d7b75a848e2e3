"""What the `archive` subcommands share: `--by` names a portal user who exists and is active."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.retention.models import RetentionPolicy
from tests.roles import user_in


@pytest.mark.django_db
def test_by_must_name_an_existing_active_user(tmp_path):
    users = get_user_model().objects
    users.create_user("former", is_active=False)
    user_in("Compliance Officer", "ops")  # the role that may change policies
    policies = tmp_path / "policies.json"
    policies.write_text('[{"queue": "emails", "warm_days": 60}]')  # longer: no approval needed

    for name, message in [("former", "portal user 'former' is inactive"), ("nobody", "no portal user 'nobody'")]:
        with pytest.raises(CommandError, match=message):
            call_command("archive", "policy", "set", "--file", str(policies), "--by", name)
    assert not RetentionPolicy.objects.exists()

    call_command("archive", "policy", "set", "--file", str(policies), "--by", "ops")
    assert RetentionPolicy.objects.get().updated_by.username == "ops"
