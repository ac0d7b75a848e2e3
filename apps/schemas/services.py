"""Schema registry writes: check a candidate version, and apply a compatible one to the registry and both tiers."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from apps.accounts.actors import Actor, audit_context, require_permission
from apps.audit.services import audit_record
from apps.records.schema import set_live_schema
from apps.schemas import evolution, registry
from apps.schemas.compatibility import compatibility_reasons
from apps.schemas.models import SchemaVersion
from apps.schemas.spec import SchemaSpec, SpecError, parse_spec

# The audit chain's action for a version whose warehouse migration failed (the schema-migration alert counts them).
SCHEMA_APPLY_FAILED = "schema.apply_failed"


class SchemaRefused(Exception):
    """The candidate is not a compatible next version; `reasons` says why, one line each."""

    def __init__(self, version, reasons: list[str]) -> None:
        super().__init__(f"schema version {version} refused: " + "; ".join(reasons))
        self.version = version
        self.reasons = reasons


@dataclass(frozen=True)
class SchemaCheck:
    current: SchemaSpec
    candidate: SchemaSpec | None  # None when the file does not even parse
    reasons: list[str]

    @property
    def compatible(self) -> bool:
        return not self.reasons

    def summary(self) -> dict:
        """What the candidate changes, for people: fields added, deprecated and removed from the contract."""
        if self.candidate is None:
            return {}
        old, new = self.current.by_name, self.candidate.by_name
        return {
            "version": self.candidate.version,
            "current": self.current.version,
            "added": [f.name for f in self.candidate.fields if f.name not in old],
            "deprecated": [f.name for f in self.candidate.fields
                           if f.deprecated_in is not None and f.name in old and old[f.name].deprecated_in is None],
            "removed": [name for name in old if name not in new],
        }


def schema_check(*, spec: dict) -> SchemaCheck:
    """Compare a candidate (the JSON file's content) with the current version; never writes."""
    applied = registry.versions()
    current = applied[-1]
    try:
        candidate = parse_spec(spec, current=current)
    except SpecError as exc:
        return SchemaCheck(current, None, exc.problems)
    reasons = compatibility_reasons(candidate, current, registry.stored_fields(applied))
    return SchemaCheck(current, candidate, reasons)


def schema_apply(*, spec: dict, actor: Actor, via: str = "", dry_run: bool = False) -> dict:
    """Record a compatible version and evolve ClickHouse and Iceberg to it, or raise SchemaRefused.

    Runs where the warehouse lives (`apps.schemas.tasks.schema_apply`). The registry row is
    committed only after both tiers have the new fields, so no exporter writes a field a tier
    lacks; a failure part-way leaves added columns behind, which a retry adopts (they are checked).
    A dry run changes nothing and needs no permission; applying needs schemas.add_schemaversion.
    """
    if not dry_run:
        require_permission(actor, "schemas.add_schemaversion")
    try:
        return _apply(spec=spec, actor=actor, via=via, dry_run=dry_run)
    except _MigrationFailed as failure:
        # After the rollback, in a transaction of its own: the schema-migration alert counts these events.
        audit_record(actor=actor, action=SCHEMA_APPLY_FAILED, target=f"schema:{failure.version}",
                     details={"version": failure.version, "error": type(failure.cause).__name__})
        raise failure.cause from None


class _MigrationFailed(Exception):
    def __init__(self, version: int, cause: Exception) -> None:
        super().__init__(str(cause))
        self.version, self.cause = version, cause


def _apply(*, spec: dict, actor: Actor, via: str, dry_run: bool) -> dict:
    from apps.warehouse.services import (
        warehouse_migrate,  # it calls back into evolution
    )

    with transaction.atomic():
        # One applier at a time: the second waits here, then finds its version number taken.
        SchemaVersion.objects.select_for_update().filter(number=registry.current().version).exists()
        check = schema_check(spec=spec)
        if not check.compatible:
            raise SchemaRefused(spec.get("version") if isinstance(spec, dict) else None, check.reasons)
        candidate = check.candidate
        if dry_run:
            preview = registry.build_live([*registry.versions(), candidate])
            return {**check.summary(), "applied": False,
                    "statements": evolution.planned_statements(preview, candidate.version)}
        with audit_context(actor):
            SchemaVersion.objects.create(
                number=candidate.version, fields=[f.as_dict() for f in candidate.fields], doc=candidate.doc,
                applied_at=timezone.now(), applied_by_id=actor.user_id,
                applied_via=via[:100],
            )
        # Inside the transaction, so the evolution reads the new version and a failure un-records it.
        try:
            migrated = warehouse_migrate()
        except Exception as exc:
            raise _MigrationFailed(candidate.version, exc) from exc
        summary = check.summary()
        audit_record(actor=actor, action="schema.applied", target=f"schema:{candidate.version}",
                     details={"version": candidate.version, "previous": summary["current"],
                              "added": summary["added"], "deprecated": summary["deprecated"],
                              "removed": summary["removed"],
                              "clickhouse_migration": evolution.migration_name(candidate.version)})
    set_live_schema(registry.load_live())  # this process at once; others within REFRESH_SECONDS
    return {**check.summary(), "applied": True, "clickhouse_migration": evolution.migration_name(candidate.version),
            "warehouse": migrated}
