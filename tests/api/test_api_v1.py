"""REST API v1 (first resources): tokens and sessions, roles per endpoint, one error shape, jobs, query
runs, stats, health, and an OpenAPI schema that validates."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from apps.audit.models import AuditEvent
from tests.api.conftest import new_token
from tests.api.conftest import token_client as _client
from tests.roles import user_in

COUNT = "SELECT queue, count() AS jobs FROM jobs_all GROUP BY queue ORDER BY queue"


def test_a_token_is_printed_alone_on_the_last_line_works_and_stops_working_when_revoked(archive):
    user_in("Analyst", "ana")
    key = new_token("ana")
    assert len(key) == 40 and key.isalnum()
    client = APIClient()
    assert client.get("/api/v1/templates/").status_code == 401
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/templates/").status_code == 200
    call_command("archive", "token", "revoke", "ana", stdout=io.StringIO())
    refused = client.get("/api/v1/templates/")
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "authentication_failed"
    events = AuditEvent.objects.filter(action__startswith="token.").order_by("seq").values_list("action", "details")
    assert [a for a, _ in events] == ["token.created", "token.revoked"] and key not in str(list(events))


def test_only_an_administrator_or_the_operator_makes_tokens(archive):
    user_in("SRE", "sam")
    with pytest.raises(CommandError, match="permission auth.change_user"):
        call_command("archive", "token", "create", "sam", "--by", "sam", stdout=io.StringIO())
    user_in("Administrator", "root")
    call_command("archive", "token", "create", "sam", "--by", "root", stdout=io.StringIO(), stderr=io.StringIO())


def test_a_viewer_cannot_run_sql_and_an_analyst_can(exported):
    viewer = _client("Viewer", "vic")
    refused = viewer.post("/api/v1/query-runs/", {"sql": COUNT}, format="json")
    assert refused.status_code == 403
    assert "needs the permission explorer.add_queryrun" in refused.json()["error"]["message"]

    analyst = _client("Analyst", "ana")
    created = analyst.post("/api/v1/query-runs/", {"sql": COUNT}, format="json")
    assert created.status_code == 201, created.json()
    run = analyst.get(f"/api/v1/query-runs/{created.json()['id']}/").json()
    assert run["state"] == "succeeded" and run["rows"] >= 1  # the (eager) worker ran it
    body = analyst.get(f"/api/v1/query-runs/{run['id']}/results/csv/").content.decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert sum(int(r["jobs"]) for r in rows) == 300
    assert analyst.get(f"/api/v1/query-runs/{run['id']}/results/json/").json()[0].keys() == {"queue", "jobs"}
    # Someone else's run does not exist for them.
    other = _client("SRE", "sam")
    assert other.get(f"/api/v1/query-runs/{run['id']}/").status_code == 404
    listed = analyst.get("/api/v1/query-runs/").json()
    assert [r["id"] for r in listed["results"]] == [run["id"]] and listed["next"] is None


def test_a_template_run_and_a_refused_query_answer_in_the_one_error_shape(exported):
    analyst = _client("Analyst", "ana")
    ok = analyst.post("/api/v1/query-runs/", {"template": "queue_health", "params": {"from": "2000-01-01"}},
                      format="json")
    assert ok.status_code == 201 and ok.json()["template"] == "queue_health"
    hostile = analyst.post("/api/v1/query-runs/", {"sql": "SELECT * FROM system.users"}, format="json")
    assert hostile.status_code == 400
    error = hostile.json()["error"]
    assert error["code"] == "refused" and "system.users" in error["message"] and error["run"]
    bad = analyst.post("/api/v1/query-runs/", {"template": "queue_health", "params": {"from": "yesterday"}},
                       format="json")
    assert bad.status_code == 400 and "is not a time" in bad.json()["error"]["message"]
    both = analyst.post("/api/v1/query-runs/", {"sql": COUNT, "template": "queue_health"}, format="json")
    assert both.status_code == 400 and both.json()["error"]["code"] == "invalid"
    actions = set(AuditEvent.objects.filter(actor="ana").values_list("action", flat=True))
    assert {"query.submitted", "query.run", "query.refused"} <= actions


def test_jobs_search_and_detail_are_audited_reads(exported, records):
    analyst = _client("Analyst", "ana")
    emails = analyst.get("/api/v1/jobs/", {"queue": "emails", "outcome": "success", "from": "2000-01-01",
                                           "limit": "1000"}).json()
    expected = {(r["job_id"], r["retries"]) for r in records if r["queue"] == "emails" and r["outcome"] == "success"}
    assert {(j["job_id"], j["retries"]) for j in emails["results"]} == expected and emails["next"] is None
    job_id = records[0]["job_id"]
    job = analyst.get(f"/api/v1/jobs/{job_id}/").json()
    assert job["job_id"] == job_id and job["attempts"][0]["tier"] == "warm"
    assert analyst.get("/api/v1/jobs/no-such-job/").status_code == 404
    bad = analyst.get("/api/v1/jobs/", {"outcome": "exploded"})
    assert bad.status_code == 400 and "outcome:" in bad.json()["error"]["message"]
    templates = AuditEvent.objects.filter(actor="ana", action="query.run").values_list("details", flat=True)
    assert sorted(d["template"] for d in templates) == ["job_lookup", "job_lookup", "job_search"]
    assert _client("Viewer", "vic").get("/api/v1/jobs/").status_code == 403


def test_stats_and_health_for_any_role_with_session_authentication(exported, client):
    from apps.explorer.services import stats_refresh

    client.force_login(user_in("Viewer", "vic"))
    waiting = client.get("/api/v1/stats/")
    assert waiting.status_code == 503 and waiting.json()["error"]["code"] == "unavailable"
    stats_refresh()
    stats = client.get("/api/v1/stats/").json()
    assert stats["tiers"]["warm"]["records"] == stats["tiers"]["cold"]["records"] == 300
    health = client.get("/api/v1/health/").json()
    assert health["status"] == "ok" and health["components"]["postgresql"] == health["components"]["s3"] == "ok"
    # A session's unsafe request needs the CSRF token, as on the pages.
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user_in("Analyst", "ana"))
    assert strict.post("/api/v1/query-runs/", {"sql": COUNT}, content_type="application/json").status_code == 403


def test_the_openapi_schema_validates_and_the_docs_need_no_cdn(archive, client):
    from openapi_spec_validator import validate

    client.force_login(user_in("Viewer", "vic"))
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    validate(schema)
    assert {"/api/v1/jobs/", "/api/v1/query-runs/", "/api/v1/stats/"} <= set(schema["paths"])
    docs = client.get("/api/docs/").content.decode()
    assert "swagger-ui" in docs and "cdn" not in docs.lower() and "/static/drf_spectacular_sidecar/" in docs
    assert client.get("/api/docs/redoc/").status_code == 200


def test_restores_dry_run_first_and_only_for_sre_and_administrator(exported, records):
    from datetime import datetime, timedelta, timezone

    key = f"{exported.stream}:live"
    body = {"adapter": "list", "target": key, "queue": "emails", "outcome": "failed",
            "start": "2000-01-01T00:00:00Z", "end": (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat(),
            "dry_run": True}
    assert _client("Analyst", "ana").post("/api/v1/restores/", body, format="json").status_code == 403
    sre = _client("SRE", "sam")
    preview = sre.post("/api/v1/restores/", body, format="json")
    assert preview.status_code == 201
    done = sre.get(f"/api/v1/restores/{preview.json()['id']}/").json()
    failed = {r["job_id"] for r in records if r["queue"] == "emails" and r["outcome"] == "failed"}
    assert done["state"] == "previewed" and done["selected"] == len(failed)
    assert done["reasons"] == ({"the kept payload is a redacted or cut sample, not the payload as sent": len(failed)}
                               if failed else {})  # demo payloads hold emails: redacted
    assert exported.redis.llen(key) == 0
    bad = sre.post("/api/v1/restores/", {**body, "adapter": "kafka"}, format="json")
    assert bad.status_code == 400 and bad.json()["error"]["fields"]["adapter"]
    assert [r["id"] for r in sre.get("/api/v1/restores/").json()["results"]] == [done["id"]]
