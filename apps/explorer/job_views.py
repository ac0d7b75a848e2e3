"""The jobs pages: search (filters to a `job_search` run) and one job (a `job_lookup` run), with restore forms.

A search or a job view given its filters records the run and redirects to the page of that run
(`?run=`), which shows it running (poll.js) and then its rows from the stored result. Reloading
that page shows the same run again; it does not query again.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from apps.accounts.actors import Actor
from apps.accounts.decorators import permission_required
from apps.explorer import jobs, selectors
from apps.explorer.allowed import QueryRefused
from apps.explorer.filters import SEARCH, JobFilter
from apps.explorer.models import QueryRun
from apps.explorer.templates import TemplateError
from apps.restore.adapters import ADAPTERS
from apps.warehouse import dispatch

RUN = "explorer.add_queryrun"
RESTORE = "restore.add_restore"
_SET = ("queue", "outcome", "from")  # a search that names these is also a set a restore may take


def _actor(request) -> Actor:
    return Actor.of_user(request.user, via="web")


def _own_run(request, template: str) -> QueryRun | None:
    run_id = request.GET.get("run")
    if not run_id:
        return None
    try:
        run = selectors.run_for(request.user, run_id)
    except (QueryRun.DoesNotExist, ValueError):
        return None
    return run if run.template == template else None


def _submitted(request, submit, page: str, **kwargs):
    try:
        dispatch.require_worker()
        run = submit(actor=_actor(request), **kwargs)
        if run.state != "refused":
            from apps.explorer.services import dispatch as send

            send(run)
    except (TemplateError, QueryRefused, dispatch.WorkerUnavailable) as exc:
        messages.error(request, str(exc))
        return None
    return redirect(f"{reverse(page)}?{urlencode({'run': run.pk})}")


@require_GET
@permission_required(RUN)
def search(request):
    """The filter form; with `search` in the query, a new search; with `run`, the search that run made."""
    if "search" in request.GET:
        given = {k: v for k, v in request.GET.items() if k in JobFilter.base_filters and v.strip()}
        done = _submitted(request, jobs.submit_search, "explorer:jobs", filters=given)
        if done is not None:
            return done
        return render(request, "explorer/jobs.html", _search_context(request, None, JobFilter(given)))
    run = _own_run(request, SEARCH)
    return render(request, "explorer/jobs.html",
                  _search_context(request, run, JobFilter(run.params if run else None)))


def _search_context(request, run, filters) -> dict:
    params = run.params if run else {}
    return {"run": run, "filters": filters.form, "found": jobs.rows_of(run) if run and run.ended else None,
            "may_restore": request.user.has_perm(RESTORE), "adapters": ADAPTERS,
            "restorable_set": all(params.get(k) for k in _SET) and not set(params) - {*_SET, "to", "limit"},
            "params": params}


@require_GET
@permission_required(RUN)
def job(request):
    """One job's attempts: with `job_id`, a new lookup; with `run`, the lookup that run made."""
    job_id = request.GET.get("job_id", "").strip()
    if job_id:
        done = _submitted(request, jobs.submit_show, "explorer:job", job_id=job_id)
        if done is not None:
            return done
        return redirect("explorer:jobs")
    run = _own_run(request, jobs.LOOKUP)
    if run is None:
        raise PermissionDenied("open a job from the jobs search, or give ?job_id=")
    rows = jobs.rows_of(run) if run.ended else None
    view = jobs.job_view(run.params.get("job_id", ""), rows or [])
    latest = view["attempts"][-1] if view["attempts"] else None
    return render(request, "explorer/job.html", {
        "run": run, "job": view, "latest": latest, "found": rows is not None,
        "may_restore": request.user.has_perm(RESTORE), "adapters": ADAPTERS,
        "recorded_task": (latest or {}).get("tags", {}).get("task", "") if latest else ""})
