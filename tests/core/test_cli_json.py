"""`--format json` of the commands that mirror the REST API: one JSON value on stdout, with the keys the
API answers with for the same operation (real services; the API called in the same test to compare)."""

from __future__ import annotations

import io
import json
import uuid

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from tests.roles import user_in


def archive_json(*args: str):
    """Run `archive ARGS --format json`; its stdout parsed (which fails unless it is one JSON value)."""
    out, err = io.StringIO(), io.StringIO()
    call_command("archive", *args, "--format", "json", stdout=out, stderr=err)
    return json.loads(out.getvalue())


def api(user, method: str, path: str, data=None):
    client = APIClient()
    client.force_authenticate(user)
    response = getattr(client, method)(path, data, format="json")
    assert response.status_code < 300, response.content
    return response.json()


@pytest.mark.django_db
def test_legal_hold_and_approval_commands_answer_what_the_api_answers():
    ann = user_in("Compliance Officer", "ann")
    placed = archive_json("hold", "add", "--queue", "billing", "--reason", "case 14", "--by", "ann")

    shown = archive_json("hold", "show", str(placed["id"]))
    assert shown == api(ann, "get", f"/api/v1/legal-holds/{placed['id']}/")
    assert shown["reason"] == "case 14" and shown["state"] == "active"
    listed = archive_json("hold", "list")
    assert [h["id"] for h in listed] == [placed["id"]]

    asked = archive_json("hold", "release", str(placed["id"]), "--by", "ann", "--reason", "case closed")
    assert asked["state"] == "pending" and asked["requested_by"] == "ann"
    assert asked == api(ann, "get", f"/api/v1/approvals/{asked['id']}/")
    pending = archive_json("approval", "list", "--state", "pending")
    assert [a["id"] for a in pending] == [asked["id"]]
    assert pending == api(ann, "get", "/api/v1/approvals/?state=pending")["results"]

    withdrawn = archive_json("approval", "withdraw", str(asked["id"]), "--by", "ann")
    assert withdrawn["state"] == "withdrawn"
    assert archive_json("approval", "list", "--state", "pending") == []
    assert archive_json("hold", "show", str(placed["id"]))["state"] == "active"  # nothing was released


@pytest.mark.django_db
def test_dead_letter_commands_list_and_requeue_once(settings, redis_conn):
    from apps.exports.models import DeadLetter

    settings.ARCHIVE_STREAM = f"test:{uuid.uuid4().hex[:10]}:archive:completed"
    sre = user_in("SRE", "sam")
    user_in("Viewer", "val")
    letter = DeadLetter.objects.create(stream=settings.ARCHIVE_STREAM, entry_id="1-1", reason="outcome: unknown",
                                       fields={"job_id": "j1", "queue": "emails", "outcome": "done",
                                               "enqueue_time": "1700000000000"})
    try:
        listed = archive_json("dead-letter", "list", "--by", "sam")
        assert listed == api(sre, "get", "/api/v1/dead-letters/")["results"]
        assert listed[0]["reason"] == "outcome: unknown" and "fields" not in listed[0]  # never the fields

        with pytest.raises(CommandError, match="needs the permission exports.requeue_deadletter"):
            archive_json("dead-letter", "requeue", str(letter.pk), "--by", "val")
        first = archive_json("dead-letter", "requeue", str(letter.pk), "--by", "sam")
        assert first["requeued_now"] is True and first["requeued_as"]
        assert redis_conn.xlen(settings.ARCHIVE_STREAM) == 1
        second = archive_json("dead-letter", "requeue", str(letter.pk), "--by", "sam")
        assert second["requeued_now"] is False and second["requeued_as"] == first["requeued_as"]
        assert redis_conn.xlen(settings.ARCHIVE_STREAM) == 1
    finally:
        redis_conn.delete(settings.ARCHIVE_STREAM)


@pytest.mark.django_db
def test_health_prints_the_report_of_the_api(seaweedfs):
    viewer = user_in("Viewer", "vic")
    report = archive_json("health")
    assert set(report) == {"status", "components"}
    assert {report["components"][name] for name in ("postgresql", "redis", "s3")} == {"ok"}
    assert report == api(viewer, "get", "/api/v1/health/")


@pytest.mark.django_db
def test_policy_set_in_json_has_the_keys_of_the_api_put(tmp_path):
    officer = user_in("Compliance Officer", "cleo")
    policies = tmp_path / "policies.json"
    policies.write_text('[{"queue": "emails", "warm_days": 60}]')
    answer = archive_json("policy", "set", "--file", str(policies), "--dry-run", "--by", "cleo")
    from_api = api(officer, "put", "/api/v1/retention-policies/",
                   {"policies": [{"queue": "emails", "warm_days": 60}], "dry_run": True})
    assert answer == from_api
    assert answer["dry_run"] is True and answer["approval"] is None


@pytest.mark.django_db
def test_token_create_keeps_the_token_alone_on_its_last_line_and_json_names_it():
    user_in("Analyst", "ana")
    out = io.StringIO()
    call_command("archive", "token", "create", "ana", stdout=out, stderr=io.StringIO())
    key = out.getvalue().strip().splitlines()[-1]
    assert len(key) == 40 and " " not in key
    created = archive_json("token", "create", "ana")
    assert created["username"] == "ana" and created["token"] != key
    assert archive_json("token", "revoke", "ana") == {"username": "ana", "revoked": True}


@pytest.mark.django_db
def test_lists_of_restores_query_runs_and_subject_access_requests_match_the_api():
    from apps.explorer.models import QueryRun

    admin = user_in("Administrator", "ada")
    run = QueryRun.objects.create(user=admin, actor="ada", via="api", allow_list="Administrator", sql="SELECT 1",
                                  state="refused", error="refused for the test")
    runs = archive_json("query-run", "list", "--as", "ada")
    assert runs == api(admin, "get", "/api/v1/query-runs/")["results"]
    assert [r["id"] for r in runs] == [str(run.pk)]
    assert archive_json("query-run", "show", str(run.pk), "--as", "ada") == api(admin, "get",
                                                                             f"/api/v1/query-runs/{run.pk}/")
    assert archive_json("query-run", "list") == []  # the operator's own runs: none
    with pytest.raises(CommandError, match="no query run"):
        archive_json("query-run", "show", str(run.pk))  # not the operator's
    assert archive_json("restores", "list") == api(admin, "get", "/api/v1/restores/")["results"] == []
    assert archive_json("subject", "list") == api(admin, "get", "/api/v1/subject-access-requests/")["results"] == []
