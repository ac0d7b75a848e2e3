"""Jobs: the search over `jobs_all` and one job's attempts, each an audited query run.

A search is a run of the `job_search` template with the filters of `apps.explorer.filters.JobFilter`;
a job view is a run of `job_lookup`. Both go through the same guard, caps and audit as any query
(`query.submitted`, `query.run` under the actor), and their rows are read back from the stored
result, so the page, the CLI and the API see the same thing. `submit_*` records a run for a page
(the worker executes it; the page shows it when done); `search` and `show` also wait for it (the
command line and the API).
"""

from __future__ import annotations

import json
from datetime import date, datetime, timezone

from django.conf import settings

from apps.accounts.actors import Actor
from apps.explorer import selectors, services
from apps.explorer.filters import SEARCH, JobFilter
from apps.explorer.models import QueryRun, RunState

LOOKUP = "job_lookup"


class JobsUnavailable(RuntimeError):
    """The run ended without rows to show (failed, refused); the message says why."""


def submit_search(*, actor: Actor, filters) -> QueryRun:
    """Record the search these filters (a dict or a QueryDict) ask for; TemplateError for bad ones."""
    search = JobFilter(filters).search()
    return services.query_run_submit(actor=actor, template=SEARCH, params=search.params)


def submit_show(*, actor: Actor, job_id: str) -> QueryRun:
    return services.query_run_submit(actor=actor, template=LOOKUP, params={"job_id": job_id})


def _wait(run: QueryRun, *, in_process: bool | None) -> dict:
    if run.state == RunState.REFUSED:
        raise JobsUnavailable(run.error)
    done = services.query_run_wait(run, rows_back=settings.CLICKHOUSE_QUERY_MAX_ROWS, in_process=in_process)
    summary = done["run"]
    if summary["state"] != RunState.SUCCEEDED:
        raise JobsUnavailable(summary["error"] or f"the run ended {summary['state']}")
    columns = [name for name, _ in summary["columns"]]
    kinds = dict(map(tuple, summary["columns"]))
    return {"run": summary, "rows": [_plain(dict(zip(columns, row)), kinds) for row in done["rows"]]}


def search(*, actor: Actor, filters, in_process: bool | None = None) -> dict:
    """Run the search and wait: {"run": the run, "jobs": [attempt, ...]} newest first. `in_process`
    as `run_on_warehouse` takes it: the API passes False (a web process never runs it itself)."""
    done = _wait(submit_search(actor=actor, filters=filters), in_process=in_process)
    return {"run": done["run"], "jobs": done["rows"]}


def show(*, actor: Actor, job_id: str, in_process: bool | None = None) -> dict:
    """One job's attempts, and wait: {"job_id", "run", "attempts": [attempt, ...]} by attempt number."""
    done = _wait(submit_show(actor=actor, job_id=job_id), in_process=in_process)
    return job_view(job_id, done["rows"], run=done["run"])


def rows_of(run: QueryRun) -> list[dict] | None:
    """A finished run's rows as plain values (from its stored result), or None when it has none."""
    if run.state != RunState.SUCCEEDED or run.result is None or run.result.deleted_at is not None:
        return None
    page = selectors.result_page(run, number=1, size=settings.CLICKHOUSE_QUERY_MAX_ROWS)
    kinds = dict(map(tuple, run.columns or []))
    return [_plain(dict(zip(page.columns, row)), kinds) for row in page.rows] if page else None


def job_view(job_id: str, rows: list[dict], *, run: dict | None = None) -> dict:
    """The attempts of a job as its page, `archive show` and the API show them."""
    return {"job_id": job_id, "run": run, "attempts": [_attempt(row) for row in rows]}


def _attempt(row: dict) -> dict:
    from apps.exports.pipeline.policy import payload_is_complete

    attempt = dict(row)
    day = str(attempt.get("day") or attempt["enqueue_time"][:10])
    attempt.update(day=day, warm_partition=day.replace("-", ""), cold_partition=f"enqueue_day={day}",
                   restorable=payload_is_complete(attempt.get("payload_sample", ""), attempt.get("payload_hash", ""),
                                                  attempt.get("payload_size", 0)))
    attempt["payload"] = _json_or_none(attempt.get("payload_sample", ""))
    return attempt


def _json_or_none(text: str):
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def _plain(row: dict, kinds: dict[str, str]) -> dict:
    """Values as JSON has them, whether they came from the engine, a Celery reply (times as text) or
    the stored result (maps as JSON text); `kinds` are the columns' engine types."""
    out = {}
    for name, value in row.items():
        kind = kinds.get(name, "")
        if isinstance(value, str) and value and kind.startswith("DateTime"):
            value = datetime.fromisoformat(value)
        elif isinstance(value, str) and kind.startswith("Map("):
            value = json.loads(value) if value else {}
        if isinstance(value, datetime):  # the archive's times are UTC, whether or not they say so
            value = (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).isoformat()
        elif isinstance(value, date):
            value = value.isoformat()
        elif name == "tags" and isinstance(value, list):
            value = dict(value)
        out[name] = value
    return out
