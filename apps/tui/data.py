"""What each tab of the terminal dashboard shows, gathered from the portal's own selectors.

Nothing here opens the warehouse: the figures that need it (records and bytes per tier, the
throughput per hour) are the snapshots the warehouse worker keeps in PostgreSQL, and everything
else is PostgreSQL and Redis. Each function takes the actor and checks, as the web pages do,
that the actor may see what it returns (`NotPermitted` otherwise): the app hides what a role may
not see, and these checks hold even if it did not. The results are plain data, built in a worker
thread and handed to the UI thread.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import redis
from django.core.exceptions import PermissionDenied

from apps.accounts.actors import Actor
from apps.operations.alerts import AlertState

STATUS_TAB = "status"
QUERY_TAB = "query"
SCHEMA_TAB = "schema"
COMPLIANCE_TAB = "compliance"
ALERTS_TAB = "alerts"
QUERY_PERMISSION = "explorer.add_queryrun"
SCHEMA_PERMISSION = "schemas.view_schemaversion"
ERASURE_PERMISSION = "erasure.view_erasurerequest"
HOLDS_PERMISSION = "compliance.view_legalhold"
THROUGHPUT_RANGE = "24h"  # the dashboard snapshot the sparkline draws: jobs per hour over a day


class NotPermitted(PermissionDenied):
    """The actor's role may not see this; the message says so in the words the dashboard shows."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what}: not permitted for your role")


@dataclass(frozen=True)
class Access:
    """What the actor may see, tab by tab. The operator (no --by) sees everything, as the CLI allows."""

    label: str
    roles: tuple[str, ...]
    status: bool
    query: bool
    schema: bool
    erasure: bool
    holds: bool


def access_of(actor: Actor) -> Access:
    from apps.accounts.roles import in_any_role, roles_of

    if actor.user_id is None:
        return Access(actor.label, ("operator",), True, True, True, True, True)
    user = actor.user
    if user is None or not user.is_active:
        return Access(actor.label, (), False, False, False, False, False)
    return Access(actor.label, tuple(roles_of(user)) or (("superuser",) if user.is_superuser else ()),
                  status=in_any_role(user), query=user.has_perm(QUERY_PERMISSION),
                  schema=user.has_perm(SCHEMA_PERMISSION), erasure=user.has_perm(ERASURE_PERMISSION),
                  holds=user.has_perm(HOLDS_PERMISSION))


def _require(allowed: bool, what: str) -> None:
    if not allowed:
        raise NotPermitted(what)


@contextlib.contextmanager
def database_thread():
    """For a worker thread that reads through Django: its own connection, closed when it is done (a
    thread that ends leaves its connection open otherwise)."""
    from django.db import connections

    try:
        yield
    finally:
        connections.close_all()


# --- Status ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SinkHealth:
    name: str  # clickhouse, iceberg
    label: str  # ClickHouse (warm), Iceberg (cold)
    enabled: bool
    records_today: int
    last_written: datetime | None  # when it last had a batch that is now acknowledged
    waiting: int  # batches recorded for it and not yet written to it

    @property
    def state(self) -> str:
        if not self.enabled:
            return "disabled"
        return f"behind: {self.waiting} batch{'es' if self.waiting != 1 else ''} waiting" if self.waiting else "ok"


@dataclass(frozen=True)
class RetentionSummary:
    run_id: int
    state: str
    dry_run: bool
    actor: str
    started_at: datetime
    finished_at: datetime | None
    purged: int | None
    tiered: int | None
    alerts: int
    error: str


@dataclass
class StatusFigures:
    export: object | None = None  # apps.exports.selectors.ExportStatus
    export_error: str = ""
    sinks: list[SinkHealth] = field(default_factory=list)
    throughput: list[int] = field(default_factory=list)  # jobs per hour, oldest first
    throughput_at: datetime | None = None
    throughput_jobs: int = 0
    tiers: dict | None = None  # {"warm": {...}, "cold": {...}} from the newest StatsSnapshot
    tiers_at: datetime | None = None
    retention: RetentionSummary | None = None
    erasures_overdue: int = 0
    computed_at: datetime = field(default_factory=lambda: datetime.now(UTC))


_SINK_LABELS = {"clickhouse": "ClickHouse (warm)", "iceberg": "Iceberg (cold)"}


def _sinks(status) -> list[SinkHealth]:
    from apps.exports.models import BatchState, ExportBatch

    last = (ExportBatch.objects.filter(stream=status.stream, state=BatchState.ACKNOWLEDGED)
            .order_by("-acknowledged_at").only("clickhouse_at", "iceberg_at").first())
    # Unfinished batches are few (the exporter resumes them): each waits on the sinks it has not reached.
    unfinished = list(ExportBatch.objects.filter(stream=status.stream).exclude(state=BatchState.ACKNOWLEDGED)
                      .only("sinks", "clickhouse_at", "iceberg_at"))
    rows = []
    for name, label in _SINK_LABELS.items():
        written_at = f"{name}_at"
        rows.append(SinkHealth(
            name=name, label=label, enabled=name in status.sinks, records_today=status.exported_today.get(name, 0),
            last_written=getattr(last, written_at) if last else None,
            waiting=sum(1 for b in unfinished if name in b.sinks and getattr(b, written_at) is None)))
    return rows


def _throughput() -> tuple[list[int], datetime | None]:
    from apps.dashboard.selectors import latest_snapshot

    snapshot = latest_snapshot(THROUGHPUT_RANGE)
    if snapshot is None:
        return [], None
    series = (snapshot.figures or {}).get("series", {})
    width = len((snapshot.figures or {}).get("buckets", []))
    per_hour = [0] * width
    for line in series.values():
        for i, jobs in enumerate(line.get("jobs", [])[:width]):
            per_hour[i] += int(jobs or 0)
    return per_hour, snapshot.computed_at


def _retention() -> RetentionSummary | None:
    from apps.retention.models import RetentionRun, RunKind

    run = RetentionRun.objects.filter(kind=RunKind.RETENTION).order_by("-started_at", "-pk").first()
    if run is None:
        return None
    plan = run.plan or {}
    return RetentionSummary(
        run_id=run.pk, state=run.get_state_display(), dry_run=run.dry_run, actor=run.actor,
        started_at=run.started_at, finished_at=run.finished_at,
        purged=(plan.get("purge") or {}).get("records"), tiered=(plan.get("tiering") or {}).get("records"),
        alerts=len(run.alerts or []), error=run.error.splitlines()[0][:200] if run.error else "")


def status_figures(actor: Actor) -> StatusFigures:
    """The Status tab: export and sinks (Redis, the export ledger), throughput, tiers, the last retention run."""
    from apps.dashboard.selectors import tier_figures
    from apps.erasure.selectors import requests_overdue
    from apps.exports.selectors import export_status

    _require(access_of(actor).status, "Status")
    figures = StatusFigures()
    try:
        figures.export = export_status()
        figures.sinks = _sinks(figures.export)
    except redis.RedisError as exc:
        figures.export_error = f"Redis cannot be reached: {exc}"
    figures.throughput, figures.throughput_at = _throughput()
    figures.throughput_jobs = sum(figures.throughput)
    tiers = tier_figures()
    if tiers is not None:
        figures.tiers, figures.tiers_at = tiers["tiers"], tiers["computed_at"]
    figures.retention = _retention()
    figures.erasures_overdue = requests_overdue().count()  # a count, no names: the status page shows it too
    return figures


# --- Alerts ---------------------------------------------------------------------------------------


@dataclass
class AlertFigures:
    alerts: list[AlertState] = field(default_factory=list)
    error: str = ""

    @property
    def firing(self) -> list[AlertState]:
        return [a for a in self.alerts if a.firing]


def alert_figures(actor: Actor) -> AlertFigures:
    """Every alert condition (the same rules as Prometheus'), firing or not."""
    from apps.operations.alerts import evaluate

    _require(access_of(actor).status, "Alerts")
    try:
        states = evaluate()
    except redis.RedisError as exc:
        return AlertFigures(error=f"Redis cannot be reached: {exc}")
    return AlertFigures(alerts=states)


# --- Schema ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SchemaFigures:
    versions: list[dict]  # version, fields, added (names), deprecated (names), doc
    fields: list[dict]  # every stored field, newest definition


def schema_figures(actor: Actor) -> SchemaFigures:
    from apps.schemas import registry

    _require(access_of(actor).schema, "Schema")
    applied = registry.versions()
    listed = [{"version": spec.version, "fields": len(spec.fields),
               "added": [f.name for f in spec.fields if f.added_in == spec.version and spec.version > 1],
               "deprecated": [f.name for f in spec.fields if f.deprecated_in == spec.version],
               "doc": spec.doc} for spec in applied]
    return SchemaFigures(versions=listed, fields=[f.as_dict() for f in registry.stored_fields(applied)])


# --- Compliance -----------------------------------------------------------------------------------


@dataclass
class ComplianceFigures:
    requests: list[dict] | None = None  # None: not permitted
    overdue: int = 0
    holds: list[dict] | None = None  # None: not permitted
    holds_review_overdue: int = 0


def compliance_figures(actor: Actor, today: date | None = None) -> ComplianceFigures:
    """Open erasure requests (reference, state, due date; never what they name) and active legal holds,
    each part only for a role that may see it."""
    from apps.compliance.models import HoldState
    from apps.compliance.selectors import held, holds_listed, holds_overdue
    from apps.erasure.selectors import is_overdue, requests_open, requests_overdue

    access = access_of(actor)
    _require(access.erasure or access.holds, "Compliance")
    today = today or datetime.now(UTC).date()
    figures = ComplianceFigures()
    if access.erasure:
        figures.requests = [{"reference": r.reference, "state": r.state, "due_on": r.due_on,
                             "days_left": (r.due_on - today).days, "overdue": is_overdue(r, today)}
                            for r in requests_open()]
        figures.overdue = requests_overdue(today).count()
    if access.holds:
        late = set(holds_overdue(today).values_list("pk", flat=True))
        figures.holds = [{"id": h.pk, "label": held(h).label, "review_on": h.review_on, "review_overdue": h.pk in late}
                         for h in holds_listed(state=HoldState.ACTIVE).order_by("pk")]
        figures.holds_review_overdue = len(late)
    return figures


# --- Query ----------------------------------------------------------------------------------------


def templates_listed() -> list[dict]:
    from apps.explorer.templates import TEMPLATES

    return [t.as_dict() for t in TEMPLATES.values()]
