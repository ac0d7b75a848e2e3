"""The Query tab's runs: a template with parameters, or SQL, as the same audited query run as the console's.

`query_run_submit` checks the actor's permission, binds the template and applies the guard with
the actor's allow-list (a refused query is recorded, with its reason); the warehouse worker
executes the run and the dashboard waits for it (`query_run_wait`). The dashboard never runs it
itself: it is a long-lived process, and the embedded warehouse belongs to the one worker, so with
no worker serving the queue it says so and records nothing.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from apps.accounts.actors import Actor

ROWS_SHOWN = 500  # rows the table shows; the whole result stays downloadable from the portal


@dataclass
class QueryOutcome:
    ok: bool
    message: str  # one line for people: rows and time, or why not
    run_id: str = ""
    columns: list[str] = field(default_factory=list)
    rows: list[list] = field(default_factory=list)


class ParamsError(ValueError):
    """The parameters line is not `K=V K=V ...`."""


def parse_params(text: str) -> dict:
    """`queue=emails from=-7d "tag=a b"` as {"queue": "emails", "from": "-7d", "tag": "a b"}."""
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise ParamsError(f"parameters: {exc}") from None
    params = {}
    for word in words:
        key, sep, value = word.partition("=")
        if not sep or not key.strip():
            raise ParamsError(f"parameters: write K=V (e.g. queue=emails from=-7d), not {word!r}")
        params[key.strip()] = value
    return params


def query_run(*, actor: Actor, sql: str | None = None, template: str | None = None, params_text: str = "",
              rows_back: int = ROWS_SHOWN) -> QueryOutcome:
    """Submit and wait for one run; every refusal comes back as an outcome that says why."""
    from django.conf import settings
    from django.core.exceptions import PermissionDenied

    from apps.explorer.allowed import QueryRefused
    from apps.explorer.models import RunState
    from apps.explorer.services import query_run_submit, query_run_wait
    from apps.explorer.templates import TemplateError
    from apps.warehouse import dispatch

    if template is None and not (sql or "").strip():
        return QueryOutcome(False, "write a SELECT, or choose a template")
    try:
        params = parse_params(params_text) if template is not None else {}
        dispatch.require_worker()
        run = query_run_submit(actor=actor, sql=sql if template is None else None, template=template, params=params)
    except (ParamsError, QueryRefused, TemplateError, PermissionDenied, dispatch.WorkerUnavailable) as exc:
        return QueryOutcome(False, str(exc))
    if run.state == RunState.REFUSED:
        return QueryOutcome(False, f"refused: {run.error}", run_id=str(run.pk))
    done = query_run_wait(run, rows_back=min(rows_back, settings.CLICKHOUSE_QUERY_MAX_ROWS), in_process=False)
    summary, rows = done["run"], done["rows"]
    if summary["state"] != RunState.SUCCEEDED:
        return QueryOutcome(False, summary["error"] or f"the query run ended {summary['state']}", run_id=summary["id"])
    shown = f"{len(rows)} of {summary['rows']}" if (summary["rows"] or 0) > len(rows) else f"{len(rows)}"
    return QueryOutcome(True, f"{shown} rows in {summary['elapsed_ms']} ms (run {summary['id']})",
                        run_id=summary["id"], columns=[name for name, _ in summary["columns"]], rows=rows)
