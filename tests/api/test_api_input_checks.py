"""What the property-based run (test_schemathesis.py) found, each pinned by a plain test: ids of the
right form that are no UUID, paths that name nothing, bad filters and cursors answer 4xx in the one
error shape; the schema documents the errors and the list envelopes; the jobs search pages with `next`."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from apps.exports.exporter import Exporter
from tests.api.conftest import token_client as _client

NO_UUID = "0" * 36  # matches the routes' pattern ([0-9a-f-]{36}) but is no UUID


def _error(response, status: int, code: str) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    return error


def test_an_id_that_matches_the_route_but_is_no_uuid_is_not_found(archive):
    admin = _client("Administrator", "root")
    _error(admin.get(f"/api/v1/query-runs/{NO_UUID}/"), 404, "not_found")
    _error(admin.get(f"/api/v1/query-runs/{NO_UUID}/results/csv/"), 404, "not_found")
    _error(admin.get(f"/api/v1/restores/{NO_UUID}/"), 404, "not_found")


def test_a_path_that_names_nothing_is_the_apis_404_in_its_one_shape(archive, client):
    admin = _client("Administrator", "root")
    _error(admin.get("/api/v1/approvals/abc/"), 404, "not_found")
    _error(admin.post("/api/v1/legal-holds/-1/release/", {"reason": "x"}, format="json"), 404, "not_found")
    _error(admin.get(f"/api/v1/query-runs/{'a' * 36}/results/xml/"), 404, "not_found")
    _error(admin.get("/api/v1/no-such-thing/"), 404, "not_found")
    _error(client.get("/api/v1/no-such-thing/"), 401, "not_authenticated")  # credentials first, as everywhere
    assert admin.get("/api/v1/stats").status_code == 301  # a missing "/" is still redirected to the real path


def test_a_state_or_cursor_that_does_not_exist_is_invalid_input(archive):
    admin = _client("Administrator", "root")
    assert _error(admin.get("/api/v1/approvals/", {"state": "bogus"}), 400, "invalid")["fields"]["state"]
    assert admin.get("/api/v1/approvals/", {"state": "all"}).status_code == 200
    assert _error(admin.get("/api/v1/erasure-requests/", {"state": "bogus"}), 400, "invalid")["fields"]["state"]
    assert admin.get("/api/v1/erasure-requests/", {"state": "submitted"}).status_code == 200
    assert _error(admin.get("/api/v1/audit-events/", {"cursor": "bogus"}), 400, "invalid")["fields"]["cursor"]


def test_the_schema_documents_each_operations_errors_and_the_list_envelopes(archive):
    schema = _client("Viewer", "vic").get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    error = {"$ref": "#/components/schemas/Error"}
    restores = schema["paths"]["/api/v1/restores/"]["get"]["responses"]
    assert restores["403"]["content"]["application/json"]["schema"] == error
    assert "503" in restores and "404" not in restores
    page = schema["components"]["schemas"][restores["200"]["content"]["application/json"]["schema"]["$ref"][21:]]
    assert page["required"] == ["next", "results"] and page["properties"]["results"]["type"] == "array"
    one = schema["paths"]["/api/v1/restores/{id}/"]["get"]["responses"]
    assert one["404"]["content"]["application/json"]["schema"] == error
    results = schema["paths"]["/api/v1/query-runs/{id}/results/{fmt}/"]["get"]["responses"]["200"]["content"]
    assert set(results) == {"text/csv", "application/json", "application/vnd.apache.parquet"}
    jobs = schema["paths"]["/api/v1/jobs/"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["components"]["schemas"][jobs["$ref"][21:]]["properties"]["next"]["nullable"] is True


def _pages(client, first: dict) -> list[dict]:
    pages, response = [], client.get("/api/v1/jobs/", first)
    while True:
        assert response.status_code == 200, response.json()
        pages.append(response.json())
        if pages[-1]["next"] is None:
            return pages
        response = client.get(pages[-1]["next"])


def test_the_jobs_search_pages_through_every_attempt_once_with_next(exported, records):
    # Five attempts enqueued at the same moment: a page boundary must not split them or skip any.
    moment = str(int(time.time() * 1000) - 60_000)
    for n in range(5):
        exported.redis.xadd(exported.stream, {"job_id": f"same-moment-{n}", "queue": "billing", "outcome": "failed",
                                              "enqueue_time": moment})
    Exporter().run()
    billing = {(r["job_id"], r["retries"]) for r in records if r["queue"] == "billing"}
    billing |= {(f"same-moment-{n}", 0) for n in range(5)}
    analyst = _client("Analyst", "ana")

    pages = _pages(analyst, {"queue": "billing", "from": "2000-01-01", "limit": "4"})
    seen = [(a["job_id"], a["retries"]) for page in pages for a in page["results"]]
    assert sorted(seen) == sorted(billing)  # every attempt, none twice
    times = [a["enqueue_time"] for page in pages for a in page["results"]]
    assert times == sorted(times, reverse=True)  # newest first across pages
    # Pages of at most 4, until the tied five need a page of 8 (which the links keep from then on).
    assert len(pages[0]["results"]) <= 4 and max(len(page["results"]) for page in pages) <= 8
    assert "queue=billing" in pages[0]["next"] and "limit=4" in pages[0]["next"]

    # A search whose every page is at one moment: those pages are empty and their `next` asks for bigger ones.
    start = datetime.fromtimestamp(int(moment) / 1000, timezone.utc)
    tied = _pages(analyst, {"queue": "billing", "from": start.isoformat(), "limit": "2",
                            "to": (start + timedelta(milliseconds=1)).isoformat()})
    assert [len(page["results"]) for page in tied] == [0, 0, 5]
    assert sorted(a["job_id"] for a in tied[-1]["results"]) == [f"same-moment-{n}" for n in range(5)]
