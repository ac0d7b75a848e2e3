"""The query templates: each answers its question right on real data, through the analyst's guard."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from apps.explorer import services
from apps.explorer.models import RunState
from apps.explorer.templates import TEMPLATES, TemplateError, parse_time

ALL_TIME = {"from": "2000-01-01"}
FAILED = {"failed", "timeout", "dead"}


def _rows(actor, template: str, params: dict) -> list[dict]:
    run = services.query_run_submit(actor=actor, template=template, params=params)
    done = services.query_run_execute(run_id=str(run.pk), rows_back=10_000)
    assert done["run"]["state"] == RunState.SUCCEEDED, done["run"]["error"]
    return [dict(zip([name for name, _ in done["run"]["columns"]], row)) for row in done["rows"]]


def test_every_template_answers_its_question(exported, analyst, records):
    by_pair = Counter((r["queue"], r["outcome"]) for r in records)
    health = _rows(analyst, "queue_health", ALL_TIME)
    assert {(r["queue"], r["outcome"]): r["jobs"] for r in health} == dict(by_pair)

    errors = _rows(analyst, "error_investigation", ALL_TIME)
    assert sum(r["failures"] for r in errors) == sum(1 for r in records if r["outcome"] in FAILED)
    dead = _rows(analyst, "dead_letter_reasons", ALL_TIME)
    assert Counter({(r["queue"], r["error_type"]): r["dead_jobs"] for r in dead}) == \
        Counter((r["queue"], r["error_type"]) for r in records if r["outcome"] == "dead")

    hourly = _rows(analyst, "capacity_planning", ALL_TIME)
    assert sum(r["jobs"] for r in hourly) == len(records)
    workers = _rows(analyst, "worker_performance", ALL_TIME)
    assert {(r["worker_id"], r["worker_version"]): r["jobs"] for r in workers} == \
        dict(Counter((r["worker_id"], r["worker_version"]) for r in records))
    held = _rows(analyst, "retention_status", ALL_TIME)
    assert sum(r["records"] for r in held) == len(records)

    job = records[0]["job_id"]
    attempts = _rows(analyst, "job_lookup", {"job_id": job})
    assert sorted(r["retries"] for r in attempts) == sorted(r["retries"] for r in records if r["job_id"] == job)
    assert _rows(analyst, "job_lookup", {"job_id": "no-such-job"}) == []


def test_an_empty_optional_parameter_drops_its_filter(exported, analyst, records):
    run = services.query_run_submit(actor=analyst, template="queue_health", params={**ALL_TIME, "queue": "billing"})
    assert "queue = {queue:String}" in run.sql and "outcome = " not in run.sql
    services.query_run_execute(run_id=str(run.pk))
    run.refresh_from_db()
    assert run.rows == len({r["outcome"] for r in records if r["queue"] == "billing"})
    unfiltered = services.query_run_submit(actor=analyst, template="queue_health", params={**ALL_TIME, "queue": ""})
    assert "queue = " not in unfiltered.sql


def test_relative_times_are_fixed_when_the_run_is_submitted(exported, analyst):
    run = services.query_run_submit(actor=analyst, template="queue_health", params={"from": "-2d"})
    fixed = datetime.fromisoformat(run.params["from"])
    assert abs(fixed - (datetime.now(timezone.utc) - timedelta(days=2))) < timedelta(minutes=1)
    default = services.query_run_submit(actor=analyst, template="queue_health", params={})
    assert abs(datetime.fromisoformat(default.params["from"]) - (datetime.now(timezone.utc) - timedelta(days=7))) \
        < timedelta(minutes=1)


@pytest.mark.parametrize(("params", "message"), [
    ({"from": "yesterday"}, "is not a time"),
    ({"outcome": "exploded"}, "outcome must be one of"),
    ({"queue": "billing; DROP"}, "is not a queue"),
    ({"from": "2026-02-01", "to": "2026-01-01"}, "from must be before to"),
    ({"tenant": "x"}, "has no parameter tenant"),
])
def test_bad_parameters_are_refused_before_anything_is_recorded(exported, analyst, params, message):
    from apps.explorer.models import QueryRun

    with pytest.raises(TemplateError, match=message):
        services.query_run_submit(actor=analyst, template="queue_health", params=params)
    with pytest.raises(TemplateError, match="needs job_id"):
        services.query_run_submit(actor=analyst, template="job_lookup", params={})
    assert not QueryRun.objects.exists()


def test_parse_time_forms():
    now = datetime(2026, 11, 10, 12, tzinfo=timezone.utc)
    assert parse_time("-24h", now=now) == datetime(2026, 11, 9, 12, tzinfo=timezone.utc)
    assert parse_time("-2w", now=now) == datetime(2026, 10, 27, 12, tzinfo=timezone.utc)
    assert parse_time("2026-11-01", now=now) == datetime(2026, 11, 1, tzinfo=timezone.utc)
    assert parse_time("2026-11-01T08:00:00+02:00", now=now) == datetime(2026, 11, 1, 6, tzinfo=timezone.utc)
    assert parse_time("now", now=now) == now


def test_the_catalogue_lists_the_templates_with_typed_parameters():
    assert set(TEMPLATES) == {"queue_health", "error_investigation", "capacity_planning", "job_lookup",
                              "worker_performance", "retention_status", "dead_letter_reasons", "job_search"}
    for template in TEMPLATES.values():
        assert all(p.type in {"datetime", "queue", "outcome", "text", "value", "pair", "payload", "count"}
                   for p in template.params)
        assert template.as_dict()["params"] == [p.as_dict() for p in template.params]
