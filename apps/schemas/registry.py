"""Reads of the schema registry: the applied versions, the current one, and the live record of this process."""

from __future__ import annotations

import logging
import time

from django.db.models import Max

from apps.records.schema import BASELINE, COLUMNS, LiveSchema, live_schema, set_live_schema
from apps.schemas.models import SchemaVersion
from apps.schemas.spec import SHIPPED_VERSION, FieldSpec, SchemaSpec, shipped_specs

logger = logging.getLogger(__name__)
# A worker notices a version applied by another process within this long (one indexed MAX per check).
REFRESH_SECONDS = 5.0
_checked = {"at": float("-inf")}


def _spec(row: SchemaVersion) -> SchemaSpec:
    return SchemaSpec(row.number, tuple(FieldSpec(**f) for f in row.fields), row.doc)


def versions() -> list[SchemaSpec]:
    """Every applied version, oldest first. The versions the archive ships (1 and 2) are built in
    even where their seed rows are missing (tests flush tables); a row, a literal copy, wins."""
    found = {spec.version: spec for spec in shipped_specs()}
    found.update((row.number, _spec(row)) for row in SchemaVersion.objects.order_by("number"))
    return [found[number] for number in sorted(found)]


def current() -> SchemaSpec:
    return versions()[-1]


def stored_fields(applied: list[SchemaSpec]) -> list[FieldSpec]:
    """Every field any version had, in the order they were added; a field's newest definition wins.

    Columns are never dropped, so this is what ClickHouse and Iceberg hold once evolved.
    """
    fields: dict[str, FieldSpec] = {}
    for spec in applied:
        for field in spec.fields:
            fields[field.name] = field  # a dict keeps the position of the first appearance
    return list(fields.values())


def build_live(applied: list[SchemaSpec]) -> LiveSchema:
    # Version 1's columns come from the code (they are the tables' first migration); later ones from the registry.
    baseline = {c.name for c in COLUMNS}
    added = tuple(f.column() for f in stored_fields(applied) if f.name not in baseline)
    return LiveSchema(version=applied[-1].version, columns=COLUMNS + added)


def load_live() -> LiveSchema:
    return build_live(versions())


def refresh_live_schema(*, force: bool = False) -> LiveSchema:
    """Bring this process's live record up to the registry, at most every REFRESH_SECONDS unless forced.

    A routine check that cannot read the registry keeps the schema last loaded (the exporter
    carries on with what it knew); a forced one raises, because its caller is about to refuse a
    record for a version this process might simply not have loaded yet.
    """
    now = time.monotonic()
    if not force and now - _checked["at"] < REFRESH_SECONDS:
        return live_schema()
    _checked["at"] = now
    try:
        newest = max(SchemaVersion.objects.aggregate(newest=Max("number"))["newest"] or 1, SHIPPED_VERSION)
        if newest != live_schema().version:
            set_live_schema(load_live())
            logger.info("record schema is now version %d", newest)
    except Exception:
        if force:
            raise
        logger.warning("cannot read the schema registry; keeping record schema version %d",
                       live_schema().version, exc_info=True)
    return live_schema()


def forget_live_schema() -> None:
    """Back to version 1 with the next check due now, which loads the shipped versions at least
    (tests: each has its own registry)."""
    set_live_schema(BASELINE)
    _checked["at"] = float("-inf")
