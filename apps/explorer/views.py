"""Explorer pages: the SQL console (templates, schema, editor, results, history, saved queries), a run's
status and its downloads. Thin: the services check permissions and the guard again; the query runs
on the warehouse worker, never here — pages submit it and show it running, then its stored result."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from apps.accounts.actors import Actor
from apps.accounts.decorators import permission_required
from apps.explorer import selectors, services
from apps.records.contract import OUTCOMES
from apps.explorer.allowed import QueryRefused, allow_list_for
from apps.explorer.models import QueryRun, SavedQuery
from apps.warehouse import dispatch

RUN = "explorer.add_queryrun"


def _actor(request) -> Actor:
    return Actor.of_user(request.user, via="web")


def _run_or_404(request, run_id) -> QueryRun:
    try:
        return selectors.run_for(request.user, run_id)
    except (QueryRun.DoesNotExist, ValueError):
        raise Http404("no such query run of yours") from None


def _template_params(request, template) -> dict:
    """The template's parameters as the form sent them (empty ones left to the template's defaults)."""
    return {p.name: request.POST[f"p_{p.name}"].strip() for p in template.params
            if request.POST.get(f"p_{p.name}", "").strip()}


@require_GET
@permission_required(RUN)
def console(request):
    from apps.explorer.templates import TEMPLATES

    run = _run_or_404(request, request.GET["run"]) if request.GET.get("run") else None
    page = None
    if run is not None and run.ended:
        try:
            page = selectors.result_page(run, number=int(request.GET.get("page") or 1))
        except ValueError:
            page = selectors.result_page(run)
    try:
        allowed = allow_list_for(_actor(request))
    except QueryRefused as exc:
        raise PermissionDenied(str(exc)) from None
    saved_id = request.GET.get("saved")
    saved = selectors.saved_visible_to(request.user).filter(pk=saved_id).first() if saved_id else None
    sql = (run.sql if run and not run.template else "") or (saved.sql if saved else "") or request.GET.get("sql", "")
    return render(request, "explorer/console.html", {
        "run": run, "page": page, "sql": sql, "templates": TEMPLATES.values(),
        "chosen": (run.template if run else "") or (saved.template if saved else ""),
        "chosen_params": (run.params if run else None) or (saved.params if saved else {}),
        "schema": selectors.schema_for_console(), "tables": selectors.tables_for_console(allowed.guard),
        "rollups": selectors.rollups_for_console(allowed.guard),
        "history": selectors.history_for(request.user, limit=15),
        "saved": selectors.saved_visible_to(request.user), "roles": selectors.sharing_roles(),
        "outcomes": sorted(OUTCOMES),
    })


@require_POST
@permission_required(RUN)
def run_submit(request):
    from apps.explorer.templates import TEMPLATES, TemplateError

    name = request.POST.get("template", "").strip()
    explain = request.POST.get("action") == "explain"
    try:
        dispatch.require_worker()
        if name:
            template = TEMPLATES.get(name)
            if template is None:
                raise TemplateError(f"no template {name!r}")
            run = services.query_run_submit(actor=_actor(request), template=name,
                                            params=_template_params(request, template), explain=explain)
        else:
            run = services.query_run_submit(actor=_actor(request), sql=request.POST.get("sql", ""), explain=explain)
        services.dispatch(run)
    except (TemplateError, QueryRefused, ValueError, dispatch.WorkerUnavailable) as exc:
        messages.error(request, str(exc))
        return redirect(f"{reverse('explorer:console')}?sql={_short(request.POST.get('sql', ''))}")
    return redirect(f"{reverse('explorer:console')}?run={run.pk}")


def _short(sql: str) -> str:
    from urllib.parse import quote

    return quote(sql[:4000])


@require_GET
@permission_required(RUN)
def run_status(request, run_id):
    run = _run_or_404(request, run_id)
    return JsonResponse(selectors.run_as_dict(run))


@require_GET
@permission_required(RUN)
def run_download(request, run_id, fmt):
    run = _run_or_404(request, run_id)
    try:
        name, content_type, body = services.query_result_download(run=run, actor=_actor(request), fmt=fmt)
    except QueryRefused as exc:
        messages.error(request, str(exc))
        return redirect(f"{reverse('explorer:console')}?run={run.pk}")
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@require_GET
@permission_required(RUN)
def history(request):
    return render(request, "explorer/history.html", {"runs": selectors.history_for(request.user, limit=200)})


@require_POST
@permission_required("explorer.add_savedquery")
def saved_save(request):
    from apps.explorer.templates import TEMPLATES, TemplateError

    name = request.POST.get("template", "").strip()
    template = TEMPLATES.get(name) if name else None
    try:
        saved = services.saved_query_save(
            actor=_actor(request), name=request.POST.get("name", ""), description=request.POST.get("description", ""),
            sql="" if template else request.POST.get("sql", ""), template=name if template else "",
            params=_template_params(request, template) if template else {},
            shared_with=request.POST.get("shared_with", ""))
    except (TemplateError, QueryRefused, ValueError, PermissionDenied) as exc:
        messages.error(request, f"not saved: {exc}")
        return redirect(f"{reverse('explorer:console')}?sql={_short(request.POST.get('sql', ''))}")
    messages.success(request, f"saved “{saved.name}”" + (f", shared with {saved.shared_with}" if saved.shared_with else ""))
    return redirect(f"{reverse('explorer:console')}?saved={saved.pk}")


@require_POST
@permission_required("explorer.delete_savedquery")
def saved_delete(request, saved_id):
    saved = get_object_or_404(SavedQuery, pk=saved_id, owner=request.user)
    services.saved_query_delete(actor=_actor(request), saved=saved)
    messages.success(request, f"deleted “{saved.name}”")
    return redirect("explorer:console")


@permission_required("explorer.view_statssnapshot")
def stats(request):
    """The archive's figures as the worker last computed them (beat: every 15 minutes)."""
    if request.method == "POST":
        try:
            services.stats_request_refresh(actor=_actor(request))
        except dispatch.WorkerUnavailable as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, "The worker is computing the figures; reload in a moment.")
        return redirect("explorer:stats")
    snapshot = selectors.latest_stats()
    return render(request, "explorer/stats.html", {
        "snapshot": snapshot, "figures": snapshot.figures if snapshot else None,
        "may_refresh": request.user.has_perm("explorer.add_statssnapshot")})
