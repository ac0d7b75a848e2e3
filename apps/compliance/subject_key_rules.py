"""The configured subject key rules: read them (as plain rules), replace them (audited)."""

from __future__ import annotations

import time

from django.db import transaction

from apps.accounts.actors import Actor, audit_context, require_permission
from apps.audit.services import audit_record
from apps.compliance import subject_keys
from apps.compliance.models import SubjectKeyRule


def rules() -> list[subject_keys.Rule]:
    return [subject_keys.Rule(r.name, r.source, r.field, r.kind) for r in SubjectKeyRule.objects.all()]


_CACHE_SECONDS = 5.0
_cached: dict = {"at": float("-inf"), "rules": ()}


def cached_rules() -> tuple[subject_keys.Rule, ...]:
    """The rules, read at most every few seconds (matching raw entries one by one asks often)."""
    now = time.monotonic()
    if now - _cached["at"] >= _CACHE_SECONDS:
        _cached["rules"], _cached["at"] = tuple(rules()), now
    return _cached["rules"]


def rules_as_json() -> list[dict]:
    return [rule.as_dict() for rule in rules()]


@transaction.atomic
def subject_keys_set(*, items, actor: Actor) -> dict:
    """Make the rules exactly `items` (all or nothing); recorded in the audit chain and auditlog.

    Only records archived from now on are read with the new rules: records already archived keep
    the keys they were given at ingest."""
    for permission in ("add", "change", "delete"):
        require_permission(actor, f"compliance.{permission}_subjectkeyrule")
    wanted = subject_keys.validated(items)
    before = {(r.source, r.field): r for r in SubjectKeyRule.objects.select_for_update()}
    added, changed, removed = [], [], []
    with audit_context(actor):
        for rule in wanted:
            current = before.pop((rule.source, rule.field), None)
            if current is None:
                SubjectKeyRule.objects.create(**rule.as_dict())
                added.append(rule.as_dict())
            elif (current.name, current.kind) != (rule.name, rule.kind):
                current.name, current.kind = rule.name, rule.kind
                current.save()
                changed.append(rule.as_dict())
        for stale in before.values():
            removed.append({"name": stale.name, "source": stale.source, "field": stale.field, "kind": stale.kind})
            stale.delete()
    summary = {"added": added, "changed": changed, "removed": removed}
    if added or changed or removed:
        audit_record(actor=actor, action="subject_keys.changed", target="subject_keys", details=summary)
    return summary
