"""Each role may do what the roles migration gives it, and nothing else: pages, admin actions,
`--by` commands, tasks and the services behind them (apps/accounts/migrations/0001_roles.py)."""

from __future__ import annotations

import importlib
import json
from datetime import date, timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.core.management.base import CommandError
from django.http import HttpResponse
from django.test import RequestFactory

from apps.accounts import roles
from apps.accounts.actors import Actor
from apps.accounts.decorators import permission_required, role_required
from apps.exports import services as exports
from apps.exports.models import DeadLetter
from apps.rehydration import services as rehydration
from apps.rehydration.models import Rehydration, RehydrationState
from apps.retention.models import RetentionPolicy, RetentionRun
from apps.schemas.models import SchemaVersion
from tests.roles import ROLES, user_in

NEXT_SPEC = Path(__file__).resolve().parents[2] / "docs" / "schemas" / "v3.example.json"  # after the shipped v2
BROKEN = {"job_id": "j-1", "queue": "emails", "outcome": "sucess", "enqueue_time": "1764000000000"}


def _others(*allowed: str) -> list[str]:
    return [role for role in ROLES if role not in allowed]


def test_the_roles_named_in_code_are_the_migrations_roles():
    migration = importlib.import_module("apps.accounts.migrations.0001_roles")
    assert tuple(migration.ROLES) == roles.ROLES == ROLES


# --- pages --------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/status.json"])
def test_status_pages_let_every_role_and_a_superuser_in_and_refuse_a_user_in_no_role(client, path,
                                                                                     django_user_model):
    for role in ROLES:
        client.force_login(user_in(role))
        assert client.get(path).status_code == 200, role
    client.force_login(django_user_model.objects.create_superuser("root", password="x"))  # in no role
    assert client.get(path).status_code == 200

    client.force_login(user_in(None, "nobody"))
    refused = client.get(path)
    assert refused.status_code == 403
    text = refused.content.decode()
    assert "You may not open this page" in text
    assert "needs one of the roles Viewer, Analyst, SRE, Compliance Officer, Administrator" in text
    assert "nobody has none of them" in text

    client.logout()
    assert client.get(path)["Location"] == f"/login/?next={path}"


def _request(user, path="/page/"):
    request = RequestFactory().get(path)
    request.user = user
    return request


def _ok(request):
    return HttpResponse("ok")


@pytest.mark.django_db
def test_role_required_with_roles_names_them_and_permission_required_names_the_missing_permission():
    sre_only = role_required(roles.SRE)(_ok)
    assert sre_only(_request(user_in("SRE"))).status_code == 200
    with pytest.raises(PermissionDenied, match="needs the role SRE; analyst has none"):
        sre_only(_request(user_in("Analyst")))

    requeue = permission_required("exports.requeue_deadletter")(_ok)
    assert requeue(_request(user_in("Administrator"))).status_code == 200
    with pytest.raises(PermissionDenied, match="needs the permission exports.requeue_deadletter, which viewer"):
        requeue(_request(user_in("Viewer")))
    inactive = user_in("SRE", "gone")
    inactive.is_active = False
    with pytest.raises(PermissionDenied):
        sre_only(_request(inactive))
    with pytest.raises(ValueError, match="unknown roles"):
        role_required("Auditor")
    with pytest.raises(ValueError, match="app_label.codename"):
        permission_required("requeue_deadletter")


# --- admin: dead letters -------------------------------------------------------


@pytest.fixture
def dead_letter(archive):
    return DeadLetter.objects.create(stream=archive.stream, entry_id="1-1", reason="outcome: unknown", fields=BROKEN)


def test_dead_letters_in_the_admin_are_for_sres_and_administrators(archive, dead_letter, client):
    change = f"/admin/exports/deadletter/{dead_letter.pk}/change/"
    fixed = json.dumps({**BROKEN, "outcome": "success"})
    for role in _others("SRE", "Administrator"):
        client.force_login(user_in(role))
        assert client.get("/admin/exports/deadletter/").status_code == 403, role
        assert client.post(change, {"fields": fixed}).status_code == 403, role
        assert client.post("/admin/exports/deadletter/", {"action": "requeue", "_selected_action": [dead_letter.pk]}
                           ).status_code == 403, role
    dead_letter.refresh_from_db()
    assert dead_letter.fields == BROKEN and dead_letter.requeued_at is None

    sre = user_in("SRE")
    client.force_login(sre)
    assert client.post(change, {"fields": fixed}).status_code == 302
    done = client.post("/admin/exports/deadletter/", {"action": "requeue", "_selected_action": [dead_letter.pk]},
                       follow=True)
    assert "Re-queued 1 entry" in done.content.decode()
    dead_letter.refresh_from_db()
    assert dead_letter.fields["outcome"] == "success" and dead_letter.requeued_by == sre


def test_dead_letter_services_check_the_permission_whoever_calls_them(archive, dead_letter):
    viewer = Actor.of_user(user_in("Viewer"))
    with pytest.raises(PermissionDenied, match="needs the permission exports.change_deadletter"):
        exports.dead_letter_edit(dead_letter=dead_letter, fields={**BROKEN, "outcome": "success"}, actor=viewer)
    # Changing a dead letter does not make one able to re-queue it.
    editor = user_in(None, "editor")
    from django.contrib.auth.models import Permission

    editor.user_permissions.add(Permission.objects.get(codename="change_deadletter"))
    editor_actor = Actor.of_user(editor)
    assert exports.dead_letter_edit(dead_letter=dead_letter, fields={**BROKEN, "outcome": "success"},
                                    actor=editor_actor) == ["outcome"]
    with pytest.raises(PermissionDenied, match="needs the permission exports.requeue_deadletter"):
        exports.dead_letter_requeue(dead_letter=dead_letter, actor=editor_actor)
    dead_letter.refresh_from_db()
    assert dead_letter.requeued_at is None and archive.redis.xlen(archive.stream) == 0

    assert exports.dead_letter_requeue(dead_letter=dead_letter, actor=Actor.of_user(user_in("SRE")))
    assert archive.redis.xlen(archive.stream) == 1


# --- admin: rehydrations -------------------------------------------------------


def _request_form() -> dict:
    return {"date_from": "2026-01-02", "date_to": "2026-01-03", "queue_names": "", "expires_in": "1h"}


def test_analysts_sres_and_administrators_may_request_a_rehydration_in_the_admin(archive, client):
    for role in _others("Analyst", "SRE", "Administrator"):
        client.force_login(user_in(role))
        assert client.get("/admin/rehydration/rehydration/add/").status_code == 403, role
        assert client.post("/admin/rehydration/rehydration/add/", _request_form()).status_code == 403, role
    assert not Rehydration.objects.exists()

    analyst = user_in("Analyst")
    client.force_login(analyst)
    done = client.post("/admin/rehydration/rehydration/add/", _request_form(), follow=True)
    assert "Rehydration requested" in done.content.decode()
    assert Rehydration.objects.get().requested_by == analyst


def test_only_sres_and_administrators_may_drop_a_rehydration(archive, client):
    copy = rehydration.rehydration_request(date_from=date(2026, 1, 2), date_to=date(2026, 1, 3), queues=[],
                                           expires_in=timedelta(hours=1), actor=Actor.system("tests"))
    drop = {"action": "drop_now", "_selected_action": [str(copy.pk)]}
    for role in _others("SRE", "Administrator"):
        user = user_in(role)
        client.force_login(user)
        listing = client.get("/admin/rehydration/rehydration/")
        if role == "Analyst":  # may look and request, but is not offered the drop
            assert listing.status_code == 200 and 'value="drop_now"' not in listing.content.decode()
            client.post("/admin/rehydration/rehydration/", drop)
        else:
            assert listing.status_code == 403, role
            assert client.post("/admin/rehydration/rehydration/", drop).status_code == 403, role
        copy.refresh_from_db()
        assert copy.state != RehydrationState.EXPIRED, role
        with pytest.raises(PermissionDenied, match="rehydration.delete_rehydration"):
            rehydration.rehydration_drop(rehydration=copy, actor=Actor.of_user(user))

    client.force_login(user_in("SRE"))
    done = client.post("/admin/rehydration/rehydration/", drop, follow=True)
    assert "Dropping 1 rehydrated table." in done.content.decode()
    copy.refresh_from_db()
    assert copy.state == RehydrationState.EXPIRED


def test_rehydration_services_and_tasks_check_the_permission(archive):
    viewer = Actor.of_user(user_in("Viewer"))
    with pytest.raises(PermissionDenied, match="rehydration.add_rehydration"):
        rehydration.rehydration_request(date_from=date(2026, 1, 2), date_to=date(2026, 1, 3), queues=[],
                                        expires_in=timedelta(hours=1), actor=viewer)
    assert not Rehydration.objects.exists()

    from apps.rehydration.tasks import rehydration_drop_table

    copy = rehydration.rehydration_request(date_from=date(2026, 1, 2), date_to=date(2026, 1, 3), queues=[],
                                           expires_in=timedelta(hours=1), actor=Actor.of_user(user_in("Analyst")))
    with pytest.raises(PermissionDenied, match="rehydration.delete_rehydration"):
        rehydration_drop_table.apply(kwargs={"rehydration_id": str(copy.pk), "actor": viewer.as_task()}, throw=True)
    copy.refresh_from_db()
    assert copy.state != RehydrationState.EXPIRED
    sre = Actor.of_user(user_in("SRE"), via="cli")
    result = rehydration_drop_table.apply(kwargs={"rehydration_id": str(copy.pk), "actor": sre.as_task()},
                                          throw=True).get()
    assert result["state"] == RehydrationState.EXPIRED


# --- admin: retention run preview ---------------------------------------------


def test_only_sres_and_administrators_may_preview_a_retention_run_in_the_admin(archive, client):
    for role in _others("SRE", "Administrator"):
        client.force_login(user_in(role))
        assert client.post("/admin/retention/retentionrun/preview/").status_code == 403, role
    assert not RetentionRun.objects.exists()

    client.force_login(user_in("SRE"))
    sent = client.post("/admin/retention/retentionrun/preview/")
    run = RetentionRun.objects.get()
    assert sent.status_code == 302 and sent.url == f"/admin/retention/retentionrun/{run.pk}/change/"
    assert run.dry_run and run.actor == "sre" and run.state == "previewed"


# --- commands that take --by ------------------------------------------------------


def _archive(*args: str) -> str:
    out = StringIO()
    call_command("archive", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_archive_run_by_a_role_without_the_permission_is_refused(archive):
    for role in _others("SRE", "Administrator"):
        user_in(role)
        with pytest.raises(CommandError, match=r"may not do this \(needs the permission retention.start_retentionrun"):
            _archive("run", "--dry-run", "--steps", "trim", "--by", role.lower().replace(" ", "_"))
    assert not RetentionRun.objects.exists()
    user_in("SRE")
    _archive("run", "--dry-run", "--steps", "trim", "--by", "sre", "--json")
    assert RetentionRun.objects.get().actor == "sre"


def test_archive_purge_by_a_role_without_the_permission_is_refused(archive):
    for role in _others("SRE", "Administrator"):
        user_in(role)
        with pytest.raises(CommandError, match=r"may not do this \(needs the permission retention.purge_records"):
            _archive("purge", "--older-than", "30d", "--dry-run", "--by", role.lower().replace(" ", "_"))
    assert not RetentionRun.objects.exists()
    user_in("Administrator")
    _archive("purge", "--older-than", "30d", "--dry-run", "--by", "administrator", "--json")
    assert RetentionRun.objects.get().actor == "administrator"


def test_archive_policy_set_by_a_role_without_the_permission_is_refused(db, tmp_path):
    policies = tmp_path / "policies.json"
    policies.write_text('[{"queue": "emails", "warm_days": 60}]')  # longer: takes effect without an approval
    for role in _others("Compliance Officer", "Administrator"):
        user_in(role)
        with pytest.raises(CommandError, match=r"may not do this \(needs the permission retention.add_retentionpolicy"):
            _archive("policy", "set", "--file", str(policies), "--by", role.lower().replace(" ", "_"))
    assert not RetentionPolicy.objects.exists()
    # A dry run changes nothing, so anyone may preview.
    assert "created (dry run): queue=emails" in _archive("policy", "set", "--file", str(policies), "--dry-run",
                                                         "--by", "viewer")
    officer = user_in("Compliance Officer")
    _archive("policy", "set", "--file", str(policies), "--by", "compliance_officer")
    assert RetentionPolicy.objects.get().updated_by == officer


def test_archive_rehydrate_by_a_role_without_the_permission_is_refused(archive):
    span = ("--from", "2026-01-02", "--to", "2026-01-03", "--expires", "1h")
    for role in _others("Analyst", "SRE", "Administrator"):
        user_in(role)
        with pytest.raises(CommandError, match=r"needs the permission rehydration.add_rehydration"):
            _archive("rehydrate", *span, "--by", role.lower().replace(" ", "_"))
    assert not Rehydration.objects.exists()

    analyst = user_in("Analyst")
    assert "rows" in _archive("rehydrate", *span, "--by", "analyst")
    copy = Rehydration.objects.get()
    assert copy.requested_by == analyst and copy.state == RehydrationState.READY
    with pytest.raises(CommandError, match=r"analyst may not do this \(needs the permission "
                                           r"rehydration.delete_rehydration\)"):
        _archive("rehydrate", "--drop", copy.short_id, "--by", "analyst")
    copy.refresh_from_db()
    assert copy.state == RehydrationState.READY
    user_in("SRE")
    assert f"dropped {copy.table_name}" in _archive("rehydrate", "--drop", copy.short_id, "--by", "sre")


def test_archive_schema_apply_by_a_role_without_the_permission_is_refused(archive):
    for role in _others("SRE", "Administrator"):
        user_in(role)
        with pytest.raises(CommandError, match=r"needs the permission schemas.add_schemaversion"):
            _archive("schema", "apply", "--file", str(NEXT_SPEC), "--by", role.lower().replace(" ", "_"))
    assert not SchemaVersion.objects.filter(number=3).exists()
    # The task refuses too, when something sends it a portal user without the permission.
    from apps.schemas.tasks import schema_apply

    analyst = Actor.of_user(user_in("Analyst", "analyst_2"))
    with pytest.raises(PermissionDenied, match="schemas.add_schemaversion"):
        schema_apply.apply(kwargs={"spec": json.loads(NEXT_SPEC.read_text()), "actor": analyst.as_task()}, throw=True)
    assert not SchemaVersion.objects.filter(number=3).exists()

    sre = user_in("SRE")
    try:
        assert "applied version 3" in _archive("schema", "apply", "--file", str(NEXT_SPEC), "--by", "sre")
    finally:
        from apps.schemas.registry import forget_live_schema

        forget_live_schema()  # the next test's process starts from version 1 again
    assert SchemaVersion.objects.get(number=3).applied_by == sre


def test_a_refused_command_exits_non_zero_with_a_one_line_reason(archive):
    user_in("Viewer")
    result = archive.manage("archive", "run", "--dry-run", "--by", "viewer", check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "CommandError: viewer may not do this (needs the permission retention.start_retentionrun)"]
    assert not RetentionRun.objects.exists()


def test_the_command_line_without_by_and_beat_act_with_operator_rights(archive):
    """actors.py's rule: whoever can run the command (or beat) has the operator's rights."""
    _archive("run", "--dry-run", "--steps", "trim", "--json")
    assert RetentionRun.objects.get().requested_by is None
    copy = rehydration.rehydration_request(date_from=date(2026, 1, 2), date_to=date(2026, 1, 3), queues=[],
                                           expires_in=timedelta(seconds=0.001), actor=Actor.cli())
    from apps.rehydration.tasks import rehydration_expire

    assert copy.table_name in rehydration_expire.apply(throw=True).get()


# --- admin: users -------------------------------------------------------------------


def test_an_administrator_gives_roles_but_cannot_make_a_superuser_or_take_one_over(db, client, django_user_model):
    from django.contrib.auth.models import Group

    admin = user_in("Administrator")
    dave = user_in(None, "dave")
    root = django_user_model.objects.create_superuser("root", password="x")
    client.force_login(admin)
    for role in _others("Administrator"):
        other = user_in(role, f"{role.lower().replace(' ', '_')}_2")
        client.force_login(other)
        assert client.get(f"/admin/auth/user/{dave.pk}/change/").status_code == 403, role
    client.force_login(admin)

    form = {"username": "dave", "is_active": "on", "is_staff": "on", "is_superuser": "on",
            "groups": [Group.objects.get(name="Analyst").pk], "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00", "initial-date_joined_0": "2026-01-01", "initial-date_joined_1": "00:00:00"}
    assert client.post(f"/admin/auth/user/{dave.pk}/change/", form).status_code == 302
    dave.refresh_from_db()
    assert list(dave.groups.values_list("name", flat=True)) == ["Analyst"] and dave.is_staff
    assert not dave.is_superuser  # the field is read-only for an Administrator

    assert client.get(f"/admin/auth/user/{root.pk}/change/").status_code == 200  # may look (view_user)...
    assert client.post(f"/admin/auth/user/{root.pk}/password/",
                       {"password1": "a new pass phrase 42", "password2": "a new pass phrase 42"}).status_code == 403
    root.refresh_from_db()
    assert root.check_password("x")  # ...not change it
