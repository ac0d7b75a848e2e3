"""Every API endpoint against every role, with token authentication: refused (403, naming the permission)
exactly when the role lacks the endpoint's permission, and never refused otherwise. The permissions are the
roles migrations' own (tests/roles.py), so a role that gains one changes the expected answer by itself."""

from __future__ import annotations


import pytest
from rest_framework.test import APIClient

from tests.api.conftest import new_token
from tests.roles import ROLES, user_in

# (method, path, body, the permission it needs)
ENDPOINTS = [
    ("get", "/api/v1/stats/", None, "explorer.view_statssnapshot"),
    ("get", "/api/v1/health/", None, "exports.view_exportbatch"),
    ("get", "/api/v1/templates/", None, "explorer.add_queryrun"),
    ("get", "/api/v1/query-runs/", None, "explorer.view_queryrun"),
    ("post", "/api/v1/query-runs/", {"sql": "SELECT 1"}, "explorer.add_queryrun"),
    ("get", "/api/v1/jobs/?limit=1", None, "explorer.add_queryrun"),
    ("get", "/api/v1/jobs/some-job/", None, "explorer.add_queryrun"),
    ("get", "/api/v1/restores/", None, "restore.view_restore"),
    ("post", "/api/v1/restores/", {"adapter": "list", "target": "t", "job_ids": ["x"], "dry_run": True},
     "restore.add_restore"),
    ("get", "/api/v1/erasure-requests/", None, "erasure.view_erasurerequest"),
    ("post", "/api/v1/erasure-requests/", {"legal_basis": "art. 17", "reason": " "}, "erasure.add_erasurerequest"),
    ("post", "/api/v1/erasure-requests/1/approve/", {}, "approvals.approve_erasure"),
    ("post", "/api/v1/erasure-requests/1/reject/", {"reason": "no"}, "approvals.approve_erasure"),
    ("get", "/api/v1/audit-events/", None, "audit.view_auditevent"),
    ("post", "/api/v1/audit-events/verify/", None, "audit.verify_chain"),
    ("get", "/api/v1/approvals/", None, "approvals.view_approval"),
    ("get", "/api/v1/retention-policies/", None, "retention.view_retentionpolicy"),
    ("put", "/api/v1/retention-policies/", {"policies": [], "dry_run": True}, "retention.change_retentionpolicy"),
    ("post", "/api/v1/purges/", {"older_than": "soon"}, "retention.purge_records"),
    ("get", "/api/v1/purges/1/", None, "retention.view_retentionrun"),
    ("get", "/api/v1/legal-holds/", None, "compliance.view_legalhold"),
    ("post", "/api/v1/legal-holds/", {"reason": ""}, "compliance.add_legalhold"),
    ("post", "/api/v1/legal-holds/1/release/", {"reason": "x"}, "compliance.release_legalhold"),
    ("get", "/api/v1/subject-access-requests/", None, "erasure.view_subjectaccessrequest"),
    ("post", "/api/v1/subject-access-requests/", {"reason": ""}, "erasure.add_subjectaccessrequest"),
    ("get", "/api/v1/dead-letters/", None, "exports.view_deadletter"),
    ("post", "/api/v1/dead-letters/1/requeue/", None, "exports.requeue_deadletter"),
]


@pytest.mark.parametrize("role", ROLES)
def test_each_endpoint_refuses_exactly_the_roles_without_its_permission(archive, role):
    from apps.explorer.services import stats_refresh

    stats_refresh()  # else /stats/ answers 503: no figures yet
    user = user_in(role, "someone")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {new_token('someone')}")
    wrong = []
    for method, path, body, permission in ENDPOINTS:
        response = getattr(client, method)(path, body, format="json") if body is not None else \
            getattr(client, method)(path)
        allowed = user.has_perm(permission)
        refused = response.status_code == 403
        if refused == allowed or response.status_code >= 500:
            wrong.append(f"{method.upper()} {path}: {response.status_code} for {role} "
                         f"({'has' if allowed else 'lacks'} {permission})")
        if refused:
            assert response.json()["error"]["code"] == "permission_denied"
    assert not wrong, "\n".join(wrong)
    anonymous = APIClient()
    assert {anonymous.get(path).status_code for m, path, _, _ in ENDPOINTS if m == "get"} == {401}
