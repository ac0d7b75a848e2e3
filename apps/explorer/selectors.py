"""Reads for the explorer: a user's runs and saved queries, a run's result page, the schema to show."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import Q

from apps.explorer import results
from apps.explorer.models import QueryRun, RunState, SavedQuery
from apps.warehouse.rollups import ROLLUPS

PAGE_SIZE = 50


def run_as_dict(run: QueryRun) -> dict:
    return {
        "id": str(run.pk), "state": run.state, "actor": run.actor, "via": run.via, "allow_list": run.allow_list,
        "template": run.template or None, "params": run.params, "sql": run.sql, "explain": run.explain,
        "error": run.error or None, "submitted_at": run.submitted_at.isoformat() if run.submitted_at else None,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "queued_ms": round((run.started_at - run.submitted_at).total_seconds() * 1000, 1)
        if run.started_at and run.submitted_at else None,
        "elapsed_ms": run.elapsed_ms, "total_ms": run.total_ms, "rows": run.rows, "truncated": run.truncated,
        "rows_read": run.rows_read, "bytes_read": run.bytes_read, "result_bytes": run.result_bytes,
        "columns": run.columns, "tables": run.tables,
        "result_kept": bool(run.result_id) and run.state == RunState.SUCCEEDED,
    }


def history_for(user, *, limit: int = 50):
    """The user's own runs, newest first (the command line's operator runs have no user)."""
    return QueryRun.objects.filter(user=user).order_by("-submitted_at")[:limit]


def run_for(user, run_id) -> QueryRun:
    """A run its owner may look at; QueryRun.DoesNotExist for anyone else's (not even its existence shows)."""
    run = QueryRun.objects.select_related("result").get(pk=run_id)
    if run.user_id != user.pk:
        raise QueryRun.DoesNotExist
    return run


def saved_visible_to(user):
    """The user's own saved queries and those shared with one of their roles."""
    from apps.accounts.roles import roles_of

    return SavedQuery.objects.filter(Q(owner=user) | Q(shared_with__in=roles_of(user))).select_related("owner")


def result_page(run: QueryRun, *, number: int = 1, size: int = PAGE_SIZE) -> results.Page | None:
    """One page of the run's stored result (read from S3), or None when it has none (any more)."""
    if run.state != RunState.SUCCEEDED or run.result is None or run.result.deleted_at is not None:
        return None
    return results.page_of(results.load(run.result.bucket, run.result.keys[0]), number=number, size=size)


def schema_for_console(allowed_tables=None) -> list[dict]:
    """The record's live columns with their descriptions, as the console's schema panel shows them."""
    from apps.records.schema import live_columns

    return [{"name": c.name, "type": c.clickhouse_type, "doc": c.doc} for c in live_columns()
            if c.deprecated_in is None]


def require_owner(run: QueryRun, user) -> None:
    if run.user_id != user.pk:
        raise PermissionDenied("another user's query run")


TABLE_NOTES = {
    "jobs_all": "every archived record once, from whichever tier holds it (use this)",
    "jobs_archive": "the warm tier: recent days, fastest",
    "jobs_cold": "the cold tier: the Iceberg table on S3, every record until purged",
    **{rollup.name: rollup.note for rollup in ROLLUPS},
}


def tables_for_console(allow) -> list[dict]:
    """The tables the user's allow-list reads, as the schema panel lists them."""
    tables = [{"name": name, "note": TABLE_NOTES.get(name, "")} for name in sorted(allow.tables)]
    if allow.patterns:
        tables.append({"name": "rehydrated_*", "note": "restored cold days (see the rehydration page)"})
    tables += [{"name": f"system.{name}", "note": ""} for name in sorted(allow.system_tables)]
    return tables


def rollups_for_console(allow) -> list[dict]:
    """The rollups the user's allow-list reads, each with its columns and how to read them."""
    return [{"name": r.name, "note": r.note, "columns": [{"name": n, "doc": doc} for n, _, doc in r.columns]}
            for r in ROLLUPS if allow is not None and r.name in allow.tables]


def sharing_roles() -> list[str]:
    from apps.accounts.roles import ROLES

    return list(ROLES)


def latest_stats():
    """The newest snapshot of the archive's figures, or None before the worker computed any."""
    from apps.explorer.models import StatsSnapshot

    return StatsSnapshot.objects.order_by("-computed_at").first()
