"""Reads: the policy book the exporter and the retention run use, and policies as portable JSON."""

from __future__ import annotations

from apps.exports.pipeline.policy import PayloadPolicy
from apps.retention.models import RetentionPolicy
from apps.retention.resolution import SETTINGS, PolicyBook, Rule


def rules(policies=None) -> list[Rule]:
    """The rules of `policies` (saved or not; default: the stored ones), as plain data."""
    return [
        Rule(queue=p.queue, outcome=p.outcome, values={name: getattr(p, name) for name in SETTINGS})
        for p in (RetentionPolicy.objects.all() if policies is None else policies)
    ]


def policy_book(policies=None) -> PolicyBook:
    return PolicyBook(rules(policies))


class BookPolicies:
    """The exporter's view of a policy book: payload policies per queue and outcome."""

    def __init__(self, book: PolicyBook) -> None:
        self.book = book
        self._memo: dict[tuple[str, str], PayloadPolicy] = {}

    def payload(self, queue: str, outcome: str) -> PayloadPolicy:
        key = (queue, outcome)
        if key not in self._memo:
            self._memo[key] = PayloadPolicy.from_resolved(self.book.for_pair(queue, outcome))
        return self._memo[key]


def export_policies() -> BookPolicies:
    return BookPolicies(policy_book())


def policies_as_json(policies=None) -> list[dict]:
    """Every rule with only the settings it sets (the others inherit), for `archive policy get` (and
    what an approval of a policy change holds); default: the stored policies."""
    out = []
    for policy in RetentionPolicy.objects.all() if policies is None else policies:
        item = {"queue": policy.queue, "outcome": policy.outcome}
        if policy.description:
            item["description"] = policy.description
        for name in SETTINGS:
            value = getattr(policy, name)
            if value is not None and value != "":
                item[name] = value
        out.append(item)
    return out


def removals_not_finished_before(moment) -> list[list]:
    """The selections of every real purge (manual, or a retention run's) that had not finished by
    `moment`: a rehydrated copy taken since may hold records they remove, and applies them."""
    from django.db.models import Q

    from apps.places.selection import Selection
    from apps.retention.models import RetentionRun, RunKind

    runs = RetentionRun.objects.filter(dry_run=False).filter(Q(finished_at__isnull=True) | Q(finished_at__gte=moment))
    found = []
    for run in runs.only("kind", "plan"):
        plan = run.plan if run.kind == RunKind.PURGE else (run.plan or {}).get("purge", {})
        criteria = (plan or {}).get("criteria") or []
        if criteria:
            found.append([Selection.from_dict(c) for c in criteria])
    return found
