"""REST API v1, the other resources, each allowed and refused by role: purges (preview, confirm, another
person approves), legal holds (place, release through an approval), approvals (nobody decides their own),
retention policies (read, set with a dry run), dead letters (list, re-queue), subject access (file, download
only by whoever filed it)."""

from __future__ import annotations

import json


from apps.exports.exporter import Exporter
from tests.api.conftest import token_client as _client


def test_a_purge_is_previewed_confirmed_and_approved_by_somebody_else(exported):
    sre, officer, viewer = _client("SRE", "sam"), _client("Compliance Officer", "cora"), _client("Viewer", "vic")
    assert viewer.post("/api/v1/purges/", {"older_than": "1s"}, format="json").status_code == 403
    bad = sre.post("/api/v1/purges/", {"older_than": "soon"}, format="json")
    assert bad.status_code == 400 and "older_than" in bad.json()["error"]["fields"]
    preview = sre.post("/api/v1/purges/", {"older_than": "1s", "queues": ["emails"]}, format="json")
    assert preview.status_code == 201, preview.json()
    shown = sre.get(f"/api/v1/purges/{preview.json()['id']}/").json()
    emails = sum(1 for r in exported.iceberg_rows().to_pylist() if r["queue"] == "emails")
    assert shown["state"] == "previewed" and shown["plan"]["records"] == emails
    approval = sre.post(f"/api/v1/purges/{shown['id']}/confirm/", {"reason": "ticket"}, format="json").json()
    own = sre.post(f"/api/v1/approvals/{approval['id']}/approve/", {}, format="json")
    assert own.status_code == 400 and own.json()["error"]["code"] == "refused"  # nobody approves their own
    assert _client("Analyst", "ana").post(f"/api/v1/approvals/{approval['id']}/approve/", {},
                                          format="json").status_code == 403
    assert officer.get("/api/v1/approvals/").json()["results"][0]["id"] == approval["id"]
    approved = officer.post(f"/api/v1/approvals/{approval['id']}/approve/", {}, format="json")
    assert approved.status_code == 200 and approved.json()["state"] in ("approved", "done"), approved.json()
    assert exported.clickhouse_count("queue = 'emails'") == 0


def test_legal_holds_are_placed_and_released_only_through_another_persons_approval(archive):
    officer_a, officer_b = _client("Compliance Officer", "cora"), _client("Compliance Officer", "cleo")
    analyst = _client("Analyst", "ana")
    assert analyst.post("/api/v1/legal-holds/", {"reason": "case", "queue": "billing"}, format="json").status_code == 403
    hold = officer_a.post("/api/v1/legal-holds/", {"reason": "case 24-113", "queue": "billing"}, format="json")
    assert hold.status_code == 201, hold.json()
    hold_id = hold.json()["id"]
    assert analyst.get("/api/v1/legal-holds/").status_code == 403
    assert [h["id"] for h in officer_b.get("/api/v1/legal-holds/").json()["results"]] == [hold_id]
    approval = officer_a.post(f"/api/v1/legal-holds/{hold_id}/release/", {"reason": "case closed"}, format="json")
    assert approval.status_code == 201
    own = officer_a.post(f"/api/v1/approvals/{approval.json()['id']}/approve/", {}, format="json")
    assert own.status_code == 400 and own.json()["error"]["code"] == "refused"
    done = officer_b.post(f"/api/v1/approvals/{approval.json()['id']}/approve/", {}, format="json")
    assert done.status_code == 200
    assert officer_b.get(f"/api/v1/legal-holds/{hold_id}/").json()["state"] == "released"


def test_retention_policies_read_by_any_role_set_by_compliance(archive):
    viewer, officer = _client("Viewer", "vic"), _client("Compliance Officer", "cora")
    assert viewer.get("/api/v1/retention-policies/").json() == {"results": [], "next": None}
    wanted = {"policies": [{"queue": "emails", "outcome": "", "cold_days": 400}]}
    assert viewer.put("/api/v1/retention-policies/", wanted, format="json").status_code == 403
    dry = officer.put("/api/v1/retention-policies/", {**wanted, "dry_run": True}, format="json").json()
    assert dry["created"] and dry["dry_run"] and viewer.get("/api/v1/retention-policies/").json()["results"] == []
    weakening = officer.put("/api/v1/retention-policies/", wanted, format="json").json()  # keeps less: four eyes
    assert weakening["approval"] and weakening["weakened"] and viewer.get("/api/v1/retention-policies/").json()["results"] == []
    approved = _client("Compliance Officer", "cleo").post(f"/api/v1/approvals/{weakening['approval']}/approve/", {},
                                                         format="json")
    assert approved.status_code == 200, approved.json()
    assert viewer.get("/api/v1/retention-policies/").json()["results"][0]["cold_days"] == 400
    broken = officer.put("/api/v1/retention-policies/", {"policies": [{"queue": "x", "cold_days": -1}]}, format="json")
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "refused"


def test_dead_letters_are_listed_without_their_fields_and_requeued_once(archive):
    archive.redis.xadd(archive.stream, {"job_id": "j-1", "queue": "q", "outcome": "exploded",
                                        "enqueue_time": "1764000000000", "payload": json.dumps({"email": "a@b.c"})})
    Exporter().run()
    sre, viewer = _client("SRE", "sam"), _client("Viewer", "vic")
    assert viewer.get("/api/v1/dead-letters/").status_code == 403
    [letter] = sre.get("/api/v1/dead-letters/").json()["results"]
    assert "outcome" in letter["reason"] and "a@b.c" not in json.dumps(letter)
    first = sre.post(f"/api/v1/dead-letters/{letter['id']}/requeue/").json()
    again = sre.post(f"/api/v1/dead-letters/{letter['id']}/requeue/").json()
    assert first["requeued_now"] and not again["requeued_now"] and first["requeued_as"]


def test_a_subject_access_bundle_is_built_and_downloaded_only_by_whoever_filed_it(exported):
    officer_a, officer_b = _client("Compliance Officer", "cora"), _client("Compliance Officer", "cleo")
    analyst = _client("Analyst", "ana")
    body = {"subjects": ["email=nobody@example.org"], "reason": "DSR-3"}
    assert analyst.post("/api/v1/subject-access-requests/", body, format="json").status_code == 403
    filed = officer_a.post("/api/v1/subject-access-requests/", body, format="json")
    assert filed.status_code == 201, filed.json()
    shown = officer_a.get(f"/api/v1/subject-access-requests/{filed.json()['id']}/").json()
    assert shown["available"] and shown["records"] == 0
    bundle = officer_a.get(f"/api/v1/subject-access-requests/{shown['id']}/bundle/json/")
    assert bundle.status_code == 200 and json.loads(bundle.content) == []  # nobody's records: an empty bundle
    other = officer_b.get(f"/api/v1/subject-access-requests/{shown['id']}/bundle/json/")
    assert other.status_code == 400 and "only cora" in other.json()["error"]["message"]
