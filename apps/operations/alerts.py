"""The alert conditions, declared once: Prometheus evaluates them as rules, the portal on its own figures.

Each `Condition` carries its PromQL expression (rendered into `docker/prometheus/alerts.yml` by
`archive alerts --write`; a test keeps the file equal to this module) and the same test over
`apps.operations.figures` for the status page and `archive tui`, which turn red while a condition
holds. Thresholds are the module's constants, so both sides change together. Prometheus adds
the `for:` delay (a condition must hold that long); the portal shows a condition at once.
Every alert's runbook is the section of docs/operations.md named by `runbook`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from apps.operations.figures import (
    ERROR_WINDOW,
    SCHEMA_FAILURE_WINDOW,
    OperationsFigures,
    operations_figures,
)

LAG_MAX_S = 60
ERROR_RATE_MAX = 0.01
STORAGE_MAX_RATIO = 0.80
# The retention run is hourly (apps.core.schedule): three missed runs in a row are stale.
RETENTION_STALE_S = 3 * 3600
RUNBOOK = "docs/operations.md"


@dataclass(frozen=True)
class AlertState:
    name: str
    firing: bool
    summary: str
    value: str
    severity: str
    runbook: str


@dataclass(frozen=True)
class Condition:
    name: str
    severity: str
    summary: str
    expr: str
    for_: str
    runbook: str  # the heading's anchor in docs/operations.md
    check: Callable[[OperationsFigures], tuple[bool, str]]

    def state(self, figures: OperationsFigures) -> AlertState:
        firing, value = self.check(figures)
        return AlertState(self.name, firing, self.summary, value, self.severity, f"{RUNBOOK}#{self.runbook}")


def _lag(f: OperationsFigures):
    age = f.export.oldest_unexported_age_s if f.export else None
    if f.export is None:
        return True, f"unknown ({f.export_error})"
    return (age or 0) > LAG_MAX_S, "none waiting" if age is None else f"{age:.0f} s"


def _error_rate(f: OperationsFigures):
    if f.export is None:
        return False, "unknown"
    attempts = f.export.recent_batches + f.export.recent_errors
    rate = f.export.recent_errors / attempts if attempts else 0.0
    return rate > ERROR_RATE_MAX, f"{rate:.1%} ({f.export.recent_errors} errors, {f.export.recent_batches} batches)"


def _storage(f: OperationsFigures):
    if not f.storage_used_ratio:
        return False, "not measured yet"
    place, ratio = max(f.storage_used_ratio.items(), key=lambda kv: kv[1])
    return ratio > STORAGE_MAX_RATIO, f"{place} {ratio:.0%} full"


def _schema(f: OperationsFigures):
    return f.schema_apply_failures_recent > 0, f"{f.schema_apply_failures_recent} in the last hour"


def _chain(f: OperationsFigures):
    if f.audit_chain_ok is None:
        return False, "never verified"
    return not f.audit_chain_ok, "ok" if f.audit_chain_ok else "broken"


def _overdue(f: OperationsFigures):
    return f.erasure_overdue > 0, f"{f.erasure_overdue} overdue"


def _retention_reference(f: OperationsFigures) -> float | None:
    """The last successful retention run, or the first run of all while none has succeeded (the gauge)."""
    return f.retention_last_success or f.retention_first_run


def _retention(f: OperationsFigures):
    at = _retention_reference(f)
    if at is None:
        return False, "no run yet"
    age = f.at - at
    what = "last success" if f.retention_last_success else "no success since the first run"
    return age > RETENTION_STALE_S, f"{what} {age / 3600:.1f} h ago"


_minutes = int(ERROR_WINDOW.total_seconds() // 60)

CONDITIONS: tuple[Condition, ...] = (
    Condition(
        "ArchiveExportLagging", "warning",
        f"The oldest stream entry not yet exported is older than {LAG_MAX_S} s",
        f"archive_stream_oldest_unexported_age_seconds > {LAG_MAX_S}", "2m", "export-lagging", _lag),
    Condition(
        "ArchiveExportErrors", "warning",
        f"More than {ERROR_RATE_MAX:.0%} of export attempts failed over {_minutes} minutes",
        f"sum(increase(archive_export_errors_total[{_minutes}m])) / clamp_min("
        f"sum(increase(archive_export_errors_total[{_minutes}m])) + sum(increase(archive_export_batches_total"
        f"[{_minutes}m])), 1) > {ERROR_RATE_MAX}", "5m", "export-errors", _error_rate),
    Condition(
        "ArchiveStorageFilling", "warning",
        f"A place holding the archive is more than {STORAGE_MAX_RATIO:.0%} full",
        f"archive_storage_used_ratio > {STORAGE_MAX_RATIO}", "15m", "storage-filling", _storage),
    Condition(
        "ArchiveSchemaMigrationFailed", "critical",
        "A schema version's warehouse migration failed",
        f"increase(archive_schema_migration_failures_total[{int(SCHEMA_FAILURE_WINDOW.total_seconds() // 60)}m]) > 0",
        "0m", "schema-migration-failed", _schema),
    Condition(
        "ArchiveAuditChainBroken", "critical",
        "The last verification of the audit chain found it broken",
        "archive_audit_chain_verified == 0", "0m", "audit-chain-broken", _chain),
    Condition(
        "ArchiveErasureOverdue", "critical",
        "An erasure request is open past its due date",
        "archive_erasure_requests_overdue > 0", "0m", "erasure-overdue", _overdue),
    Condition(
        "ArchiveRetentionStale", "warning",
        f"No retention run has succeeded for {RETENTION_STALE_S // 3600} hours",
        f"time() - archive_retention_last_success_timestamp_seconds > {RETENTION_STALE_S}", "10m",
        "retention-stale", _retention),
)


def evaluate(figures: OperationsFigures | None = None) -> list[AlertState]:
    """Every condition's state now (figures read afresh unless given)."""
    figures = figures or operations_figures()
    return [c.state(figures) for c in CONDITIONS]


def firing(figures: OperationsFigures | None = None) -> list[AlertState]:
    return [s for s in evaluate(figures) if s.firing]


def rules_yaml() -> str:
    """The Prometheus rule file for the conditions (docker/prometheus/alerts.yml)."""
    import yaml

    rules = [{"alert": c.name, "expr": c.expr, "for": c.for_, "labels": {"severity": c.severity},
              "annotations": {"summary": c.summary, "runbook": f"{RUNBOOK}#{c.runbook}"}}
             for c in CONDITIONS]
    head = ("# Generated from apps/operations/alerts.py by `manage.py archive alerts --write`; edit that module,\n"
            "# not this file (a test keeps them equal). Checked with `promtool check rules`.\n")
    return head + yaml.safe_dump({"groups": [{"name": "archive-portal", "rules": rules}]}, sort_keys=False,
                                 width=120)
