"""The jobs search and a job's attempts: filters (django-filter) to an audited `job_search` run, right answers."""

from __future__ import annotations

import json

import pytest

from apps.audit.models import AuditEvent
from apps.explorer import jobs
from apps.explorer.filters import JobFilter
from apps.explorer.templates import TemplateError

ALL_TIME = {"from": "2000-01-01"}


def _search(actor, **filters) -> list[dict]:
    return jobs.search(actor=actor, filters={**ALL_TIME, **filters})["jobs"]


def test_each_filter_finds_exactly_the_matching_attempts(exported, analyst, records):
    one = next(r for r in records if r["outcome"] == "failed")
    tags = dict(one["tags"])
    cases = {
        "queue": ({"queue": one["queue"]}, lambda r: r["queue"] == one["queue"]),
        "outcome": ({"outcome": "failed"}, lambda r: r["outcome"] == "failed"),
        "worker": ({"worker": one["worker_id"], "queue": one["queue"]},
                   lambda r: r["worker_id"] == one["worker_id"] and r["queue"] == one["queue"]),
        "error_type": ({"error_type": one["error_type"]}, lambda r: r["error_type"] == one["error_type"]),
        "tenant": ({"tenant": one["tenant_id"]}, lambda r: r["tenant_id"] == one["tenant_id"]),
        "tag": ({"tag": f"region={tags['region']}", "outcome": "failed"},
                lambda r: dict(r["tags"]).get("region") == tags["region"] and r["outcome"] == "failed"),
        "trace_id": ({"trace_id": one["trace_id"]}, lambda r: r["trace_id"] == one["trace_id"]),
        "job_id": ({"job_id": one["job_id"]}, lambda r: r["job_id"] == one["job_id"]),
    }
    for name, (filters, matches) in cases.items():
        found = {(j["job_id"], j["retries"]) for j in _search(analyst, limit=1000, **filters)}
        assert found == {(r["job_id"], r["retries"]) for r in records if matches(r)}, name


def test_a_key_inside_the_payload_sample_is_searchable(exported, analyst, records):
    sampled = [r for r in records if r["payload_sample"] and r["queue"] == "webhooks"]
    assert sampled, "the demo data keeps samples of failures"
    event = json.loads(sampled[0]["payload_sample"])["event"]
    found = {j["job_id"] for j in _search(analyst, payload=f"event={event}", limit=1000)}
    assert found == {r["job_id"] for r in records if r["payload_sample"]
                     and json.loads(r["payload_sample"]).get("event") == event}
    nested = json.loads(sampled[0]["payload_sample"])["body"]["id"]
    assert {j["job_id"] for j in _search(analyst, payload=f"body.id={nested}")} == {sampled[0]["job_id"]}


def test_newest_first_and_limited(exported, analyst, records):
    found = _search(analyst, limit=7)
    assert len(found) == 7
    newest = sorted((r["enqueue_time"] for r in records), reverse=True)[:7]
    assert [j["enqueue_time"] for j in found] == [t.isoformat() for t in newest]


def test_bad_filters_are_refused_with_every_reason_and_nothing_runs(exported, analyst):
    before = AuditEvent.objects.count()
    with pytest.raises(TemplateError) as refused:
        jobs.search(actor=analyst, filters={"outcome": "exploded", "limit": "0", "tag": "region", "from": "yesterday"})
    message = str(refused.value)
    for field in ("outcome", "limit", "tag", "from"):
        assert f"{field}:" in message
    assert AuditEvent.objects.count() == before


def test_the_filterset_reads_a_query_string_as_the_api_will(exported):
    from django.http import QueryDict

    search = JobFilter(QueryDict("queue=emails&outcome=failed&limit=5")).search()
    assert search.params == {"queue": "emails", "outcome": "failed", "limit": "5"}


def test_a_search_and_a_job_view_are_audited_data_accesses(exported, analyst, records):
    before = set(AuditEvent.objects.values_list("pk", flat=True))
    _search(analyst, queue="emails")
    job = jobs.show(actor=analyst, job_id=records[0]["job_id"])
    actions = list(AuditEvent.objects.exclude(pk__in=before).order_by("pk").values_list("actor", "action", "details"))
    assert [(a, act) for a, act, _ in actions] == [("ana", "query.submitted"), ("ana", "query.run")] * 2
    assert [d["template"] for _, _, d in actions] == ["job_search"] * 2 + ["job_lookup"] * 2
    assert records[0]["job_id"] not in json.dumps([d for _, _, d in actions])  # names parameters, never values
    assert job["job_id"] == records[0]["job_id"] and job["attempts"]


def test_a_job_shows_every_attempt_with_its_tier_and_day(exported, analyst, records):
    from collections import Counter

    job_id, attempts = Counter(r["job_id"] for r in records).most_common(1)[0]
    job = jobs.show(actor=analyst, job_id=job_id)
    expected = sorted(r["retries"] for r in records if r["job_id"] == job_id)
    assert [a["retries"] for a in job["attempts"]] == expected and len(expected) == attempts
    one = job["attempts"][0]
    assert one["tier"] == "warm" and one["day"] == one["enqueue_time"][:10]
    assert one["warm_partition"] == one["day"].replace("-", "") and one["cold_partition"] == f"enqueue_day={one['day']}"
    assert set(one) >= {"payload_sample", "tags", "error_msg", "worker_id", "payload_hash", "restorable"}
    assert jobs.show(actor=analyst, job_id="no-such-job")["attempts"] == []
