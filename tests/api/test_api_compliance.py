"""REST API v1, compliance: erasure requests through four eyes (an analyst cannot approve, nobody approves
their own), the certificate, and the audit events with their verification."""

from __future__ import annotations



from apps.erasure.models import ErasureState
from tests.erasure.helpers import TYPED, add, export_all, subject_entry
from tests.retention.helpers import T0
from tests.api.conftest import token_client as _client


def test_an_erasure_through_the_api_four_eyes_then_its_certificate(archive):
    now_ms = int(T0.timestamp() * 1000)
    add(archive, [subject_entry(i, now_ms - i * 3_600_000) for i in range(4)])
    export_all()
    officer_a, officer_b = _client("Compliance Officer", "officer_a"), _client("Compliance Officer", "officer_b")
    analyst = _client("Analyst", "ana")

    body = {"legal_basis": "GDPR art. 17(1)(a)", "reason": "ticket DSR-9", "subjects": [TYPED]}
    assert analyst.post("/api/v1/erasure-requests/", body, format="json").status_code == 403
    missing = officer_a.post("/api/v1/erasure-requests/", {**body, "reason": " "}, format="json")
    assert missing.status_code == 400 and missing.json()["error"]["fields"]
    filed = officer_a.post("/api/v1/erasure-requests/", body, format="json")
    assert filed.status_code == 201, filed.json()
    request_id = filed.json()["id"]
    shown = officer_a.get(f"/api/v1/erasure-requests/{request_id}/").json()
    assert shown["state"] == ErasureState.SUBMITTED and shown["approval"] and shown["preview"]  # counted by the worker

    assert analyst.post(f"/api/v1/erasure-requests/{request_id}/approve/", {}, format="json").status_code == 403
    own = officer_a.post(f"/api/v1/erasure-requests/{request_id}/approve/", {}, format="json")
    assert own.status_code == 400 and own.json()["error"]["code"] == "refused"
    approved = officer_b.post(f"/api/v1/erasure-requests/{request_id}/approve/", {}, format="json")
    assert approved.status_code == 200, approved.json()
    done = officer_b.get(f"/api/v1/erasure-requests/{request_id}/").json()
    assert done["state"] == ErasureState.COMPLETED and done["verification"]["passed"]
    cert = officer_a.get(f"/api/v1/erasure-requests/{request_id}/certificate/").json()
    assert cert["sha256"] == done["certificate_sha256"] and cert["document"]
    pdf = officer_a.get(f"/api/v1/erasure-requests/{request_id}/certificate/pdf/")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    listed = officer_a.get("/api/v1/erasure-requests/").json()
    assert [r["id"] for r in listed["results"]] == [request_id]


def test_audit_events_are_listed_newest_first_in_pages_and_verified(archive):
    officer = _client("Compliance Officer", "cora")
    for _ in range(3):
        _client("Analyst", f"ana{_}")
    first = officer.get("/api/v1/audit-events/", {"action": "token.", "page_size": 2}).json()
    assert [e["action"] for e in first["results"]] == ["token.created", "token.created"] and first["next"]
    rest = officer.get(first["next"]).json()
    seqs = [e["seq"] for e in first["results"] + rest["results"]]
    assert seqs == sorted(seqs, reverse=True) and len(seqs) == 4 and rest["next"] is None
    assert {"prev_hash", "hash", "details"} <= set(first["results"][0])
    verified = officer.post("/api/v1/audit-events/verify/").json()
    assert verified["ok"] and verified["events"] >= 4
    assert _client("Analyst", "ana9").get("/api/v1/audit-events/").status_code == 403
