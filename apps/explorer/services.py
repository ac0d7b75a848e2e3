"""Query runs and saved queries: submitting (web, CLI, API), executing (the warehouse worker), downloading.

Every run is audited under its actor: `query.submitted` (or `query.refused`) when it is asked
for, `query.run` (or `query.failed`) when it ends, `query.downloaded` for each download. Events
name the SQL by its SHA-256 and length and never hold its text or the parameters' values: a
literal may be a person's identifier, and the chain is kept for years.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from apps.accounts.actors import Actor, require_permission
from apps.audit.services import audit_record
from apps.explorer import results
from apps.explorer.allowed import QueryRefused, allow_list_for, allow_list_named
from apps.explorer.models import ENDED, QueryRun, RunState, SavedQuery

logger = logging.getLogger(__name__)

RUN_PERMISSION = "explorer.add_queryrun"
SAVE_PERMISSION = "explorer.add_savedquery"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _target(run: QueryRun) -> str:
    return f"query_run:{run.pk}"


def _what(run: QueryRun) -> dict:
    return {"run": str(run.pk), "template": run.template or None, "sql_sha256": run.sql_sha256,
            "sql_length": len(run.sql), "params": sorted(run.params), "allow_list": run.allow_list,
            "explain": run.explain}


def _template(name: str):
    from apps.explorer.templates import TEMPLATES, TemplateError

    try:
        return TEMPLATES[name]
    except KeyError:
        raise TemplateError(f"no template {name!r}; `archive templates` lists them") from None


def _as_text(bound: dict) -> dict:
    """Bound parameters as text, so the worker binds exactly what was asked for (a default `from`
    of now - 7 days is fixed at submission, not at execution)."""
    return {k: v.isoformat() if hasattr(v, "isoformat") else str(v) for k, v in bound.items() if v is not None}


def query_run_submit(*, actor: Actor, sql: str | None = None, template: str | None = None,
                     params: dict | None = None, explain: bool = False) -> QueryRun:
    """Record a run of `sql`, or of `template` with `params`, for the worker to execute.

    Checks who may run queries, binds the template's parameters (TemplateError for bad ones:
    nothing is recorded) and applies the guard with the actor's allow-list; a refused query is
    recorded as a refused run, with its reason, and never reaches the worker. The caller sends
    the run to the worker (`dispatch`), once this transaction has committed.
    """
    require_permission(actor, RUN_PERMISSION)
    allow = allow_list_for(actor)
    if (sql is None) == (template is None):
        raise ValueError("give either SQL or a template")
    if template is not None:
        chosen = _template(template)
        bound = chosen.bind(params or {})
        params, sql = _as_text(bound), chosen.sql(bound)
    text = sql or ""
    run = QueryRun(user_id=actor.user_id, actor=actor.label[:150], via=actor.via[:16], allow_list=allow.name,
                   template=template or "", params=params or {}, sql=text, sql_sha256=_sha(text), explain=explain)
    with transaction.atomic():
        try:
            run.tables = allow.check(text)
        except QueryRefused as exc:
            run.state, run.error, run.finished_at = RunState.REFUSED, str(exc), timezone.now()
            run.save()
            audit_record(actor=actor, action="query.refused", target=_target(run),
                         details={**_what(run), "reason": str(exc)[:300]})
            return run
        run.save()
        audit_record(actor=actor, action="query.submitted", target=_target(run),
                     details={**_what(run), "tables": run.tables})
    return run


def dispatch(run: QueryRun) -> None:
    """Send a queued run to the warehouse worker once the transaction commits (pages and API)."""
    from apps.explorer.tasks import execute_query_run
    from apps.warehouse.dispatch import submit

    if run.state == RunState.QUEUED:
        submit(execute_query_run, run_id=str(run.pk))


def query_run_wait(run: QueryRun, *, rows_back: int, in_process: bool | None = None) -> dict:
    """For callers that wait (the CLI, the API): execute the recorded run on the warehouse worker (in
    this process only where `run_on_warehouse` allows it; the API passes False) and return what
    `query_run_execute` returns: the run as plain data and its first `rows_back` rows."""
    from apps.explorer.tasks import execute_query_run
    from apps.warehouse.dispatch import run_on_warehouse

    return run_on_warehouse(execute_query_run, timeout=settings.CLICKHOUSE_QUERY_MAX_SECONDS + 60,
                            in_process=in_process, run_id=str(run.pk), rows_back=rows_back)


def _erasure_overlapped(run: QueryRun, until) -> bool:
    """Did an erasure run while this query read the tiers? Then the result may hold what it erased,
    and the erasure's copies step may already have passed: the run withholds its own result."""
    from apps.erasure.models import ErasureRequest

    return (ErasureRequest.objects.filter(started_at__isnull=False, started_at__lte=until)
            .exclude(ended_at__lt=run.started_at).exclude(completed_at__lt=run.started_at).exists())


def query_run_execute(*, run_id: str, rows_back: int = 0) -> dict:
    """On the warehouse worker: run the query (guard again, caps, read-only), store its result, end the run.

    Returns the run as plain data and, for a caller that waits (the CLI), its first `rows_back` rows.
    """
    from apps.compliance.models import StoredCopy
    from apps.explorer.selectors import run_as_dict
    from apps.warehouse.client import WarehouseError
    from apps.warehouse.query import run_read_only

    with transaction.atomic():
        run = QueryRun.objects.select_for_update().get(pk=run_id)
        if run.state in ENDED:
            return {"run": run_as_dict(run), "rows": []}
        run.state, run.started_at = RunState.RUNNING, timezone.now()
        run.save(update_fields=["state", "started_at"])
    actor = Actor(user_id=run.user_id, label=run.actor, via=run.via)
    rows: list = []
    try:
        allow = allow_list_named(run.allow_list)
        parameters = None
        if run.template:
            chosen = _template(run.template)
            parameters = chosen.prepare(chosen.bind(run.params))
        result = run_read_only(run.sql, allow=allow.guard, parameters=parameters, explain=run.explain)
        rows = result.rows
        table = results.to_table(result.columns, result.rows)
        body = results.to_parquet(table)
        with transaction.atomic():
            copy = StoredCopy.objects.create(
                kind=results.KIND, bucket=settings.S3_BUCKET, keys=[results.object_key(run.pk)],
                records=len(result.rows),
                expires_at=timezone.now() + timedelta(days=settings.ARCHIVE_QUERY_RESULT_DAYS))
            QueryRun.objects.filter(pk=run.pk).update(result=copy)
        results.put(copy.bucket, copy.keys[0], body)
        withheld = _erasure_overlapped(run, timezone.now())
        if withheld:
            from apps.places import copies

            copies.remove(copies.Found(copy_ids=[copy.pk], records=copy.records), why="erasure during the run")
        with transaction.atomic():
            run = QueryRun.objects.select_for_update().get(pk=run.pk)
            run.finished_at = timezone.now()
            run.elapsed_ms, run.rows, run.truncated = result.elapsed_ms, len(result.rows), result.truncated
            run.rows_read, run.bytes_read = result.rows_read, getattr(result, "bytes_read", None)
            run.columns = [[name, kind] for name, kind in zip(result.columns, _types(result))]
            run.result_bytes, run.tables = len(body), result.tables
            if withheld:
                run.state, run.error, rows = RunState.FAILED, ("an erasure ran while this query read the archive, "
                                                               "so its result was not kept; run it again"), []
            else:
                run.state = RunState.SUCCEEDED
            run.save()
            audit_record(actor=actor, action="query.run" if not withheld else "query.failed", target=_target(run),
                         details={**_what(run), "state": run.state, "rows": run.rows, "truncated": run.truncated,
                                  "rows_read": run.rows_read, "bytes_read": run.bytes_read,
                                  "elapsed_ms": run.elapsed_ms, "result_bytes": run.result_bytes})
    except (QueryRefused, WarehouseError, ValueError) as exc:
        run = _ended_badly(run, actor, exc)
    except Exception as exc:  # noqa: BLE001 - the run ends failed whatever went wrong, and says so
        logger.exception("query run %s failed", run_id)
        run = _ended_badly(run, actor, exc)
    return {"run": run_as_dict(run), "rows": rows[:rows_back] if rows_back else []}


def _types(result) -> list[str]:
    return list(result.column_types) or [""] * len(result.columns)


def _ended_badly(run: QueryRun, actor: Actor, exc: Exception) -> QueryRun:
    from apps.warehouse.guard import QueryRejected

    refused = isinstance(exc, (QueryRefused, QueryRejected))
    message = str(exc).split("\n")[0][:2000] if refused or not isinstance(exc, Exception) else \
        (str(exc).split("\n")[0][:2000] or type(exc).__name__)
    with transaction.atomic():
        run = QueryRun.objects.select_for_update().get(pk=run.pk)
        run.state = RunState.REFUSED if refused else RunState.FAILED
        run.error, run.finished_at = message, timezone.now()
        run.save(update_fields=["state", "error", "finished_at"])
        audit_record(actor=actor, action="query.refused" if refused else "query.failed", target=_target(run),
                     details={**_what(run), "state": run.state, "error": type(exc).__name__})
    return run


# --- downloads --------------------------------------------------------------------------------------
def query_result_download(*, run: QueryRun, actor: Actor, fmt: str) -> tuple[str, str, bytes]:
    """(file name, content type, body) of a run's result in `fmt`, for whoever ran it; audited."""
    if fmt not in results.FORMATS:
        raise QueryRefused(f"no {fmt!r} download; choose one of {', '.join(results.FORMATS)}")
    _require_owner(run, actor)
    if run.state != RunState.SUCCEEDED or run.result is None or run.result.deleted_at is not None:
        why = run.result.deleted_why if run.result is not None and run.result.deleted_at else run.get_state_display()
        raise QueryRefused(f"this run has no stored result to download ({why.lower()}); run it again")
    copy = run.result
    body = results._s3().get_object(Bucket=copy.bucket, Key=copy.keys[0])["Body"].read()
    table = results.pq.read_table(results.io.BytesIO(body))
    data = results.render(table, fmt, body if fmt == "parquet" else None)
    audit_record(actor=actor, action="query.downloaded", target=_target(run),
                 details={"run": str(run.pk), "format": fmt, "rows": table.num_rows, "bytes": len(data)})
    content_type, ext = results.FORMATS[fmt]
    return f"query-{str(run.pk)[:8]}.{ext}", content_type, data


def _require_owner(run: QueryRun, actor: Actor) -> None:
    if actor.user_id is None:  # the operator at the command line
        return
    if run.user_id != actor.user_id:
        raise PermissionDenied(f"{actor.label} may not see another user's query results")


# --- saved queries ----------------------------------------------------------------------------------
def saved_query_save(*, actor: Actor, name: str, sql: str = "", template: str = "", params: dict | None = None,
                     description: str = "", shared_with: str = "", saved: SavedQuery | None = None) -> SavedQuery:
    """Create or update (`saved`, the owner's own) a saved query; its SQL must pass the owner's guard."""
    from apps.accounts.roles import ROLES

    require_permission(actor, SAVE_PERMISSION)
    if actor.user_id is None:
        raise PermissionDenied("a saved query belongs to a portal user: use --as USER")
    if shared_with and shared_with not in ROLES:
        raise ValueError(f"no role {shared_with!r}; one of {', '.join(ROLES)}")
    if bool(sql.strip()) == bool(template):
        raise ValueError("a saved query has either SQL or a template")
    if template:
        _template(template).bind(params or {})  # checked now; kept as given, so -7d stays relative
        params = {k: str(v).strip() for k, v in (params or {}).items() if str(v).strip()}
    else:
        allow_list_for(actor).check(sql)
    if saved is not None and saved.owner_id != actor.user_id:
        raise PermissionDenied(f"{actor.label} may only change their own saved queries")
    with transaction.atomic():
        saved = saved or SavedQuery(owner_id=actor.user_id)
        saved.name, saved.description, saved.shared_with = name.strip()[:100], description, shared_with
        saved.sql, saved.template, saved.params = sql if not template else "", template, params or {}
        saved.save()
        audit_record(actor=actor, action="saved_query.saved", target=f"saved_query:{saved.pk}",
                     details={"name": saved.name, "template": template or None, "shared_with": shared_with or None,
                              "sql_sha256": _sha(saved.sql)})
    return saved


def saved_query_delete(*, actor: Actor, saved: SavedQuery) -> None:
    if saved.owner_id != actor.user_id:
        raise PermissionDenied(f"{actor.label} may only delete their own saved queries")
    with transaction.atomic():
        audit_record(actor=actor, action="saved_query.deleted", target=f"saved_query:{saved.pk}",
                     details={"name": saved.name})
        saved.delete()


# --- expiry (beat) ----------------------------------------------------------------------------------
def query_history_expire(*, now=None) -> dict:
    """Stored results past their expiry are deleted (every version); runs past the history window
    keep only the SHA-256 of their SQL and no parameters, restores only their counts."""
    from apps.compliance.models import StoredCopy
    from apps.places import copies

    now = now or timezone.now()
    due = list(StoredCopy.objects.filter(kind=results.KIND, deleted_at__isnull=True, expires_at__lte=now)
               .values_list("pk", "records"))
    removed = copies.remove(copies.Found(copy_ids=[pk for pk, _ in due], records=sum(r for _, r in due)),
                            why="expired") if due else {"copies": 0, "object_versions_deleted": 0}
    cutoff = now - timedelta(days=settings.ARCHIVE_QUERY_HISTORY_DAYS)
    scrubbed = QueryRun.objects.filter(submitted_at__lt=cutoff).exclude(sql="", params={}).update(sql="", params={})
    from apps.restore.services import restore_history_scrub

    restores = restore_history_scrub(cutoff=cutoff)
    if due or scrubbed or restores:
        audit_record(actor=Actor.system("beat"), action="query.history_expired", target="query_runs",
                     details={"results_deleted": removed["copies"],
                              "object_versions_deleted": removed["object_versions_deleted"],
                              "runs_scrubbed": scrubbed, "restores_scrubbed": restores})
    return {"results_deleted": removed["copies"], "runs_scrubbed": scrubbed, "restores_scrubbed": restores}


STATS_KEPT = 48  # snapshots kept: the newest, and some history to compare with


def stats_refresh(queue: str | None = None) -> dict:
    """On the warehouse worker: compute the archive's figures; for every queue, also keep them as the
    newest snapshot (older ones beyond STATS_KEPT are deleted)."""
    from apps.explorer.models import StatsSnapshot
    from apps.warehouse.stats import archive_stats

    figures = archive_stats(queue)
    if queue is None:
        snapshot = StatsSnapshot.objects.create(computed_at=datetime.fromisoformat(figures["computed_at"]),
                                                figures=figures)
        old = StatsSnapshot.objects.exclude(pk__in=StatsSnapshot.objects.values("pk")[:STATS_KEPT])
        old.exclude(pk=snapshot.pk).delete()
    return figures


def stats_request_refresh(*, actor) -> None:
    """Have the worker compute the figures again now (SRE, Administrator); the page shows them when done."""
    from apps.accounts.actors import require_permission
    from apps.explorer.tasks import stats_refresh
    from apps.warehouse import dispatch

    require_permission(actor, "explorer.add_statssnapshot")
    dispatch.require_worker()
    dispatch.submit(stats_refresh)
