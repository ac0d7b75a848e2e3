"""Which rule applies: for each setting, the most specific policy that sets it wins.

Order: queue and outcome, then queue, then outcome, then the global policy, then the built-in
defaults from settings (`ARCHIVE_*`, docs/operations.md). Pure functions over plain data, so
the exporter, the previews and the admin explain a decision the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings

SETTINGS = (
    "redis_hours", "warm_days", "cold_days", "max_records", "payload_mode", "sample_rate", "keep_failures",
    "payload_max_bytes", "redaction_patterns",
)
BUILT_IN = "built-in default"


def built_in_defaults() -> dict:
    return {
        "redis_hours": settings.ARCHIVE_REDIS_RETENTION_HOURS,
        "warm_days": settings.ARCHIVE_WARM_DAYS,
        "cold_days": settings.ARCHIVE_COLD_DAYS,
        "max_records": settings.ARCHIVE_MAX_RECORDS,
        "payload_mode": settings.ARCHIVE_PAYLOAD_MODE,
        "sample_rate": settings.ARCHIVE_PAYLOAD_SAMPLE_RATE,
        "keep_failures": settings.ARCHIVE_KEEP_FAILURES,
        "payload_max_bytes": settings.ARCHIVE_PAYLOAD_MAX_BYTES,
        "redaction_patterns": settings.ARCHIVE_REDACTION_EXTRA.replace(";;", "\n"),
    }


@dataclass(frozen=True)
class Rule:
    """A policy row as plain data; None (or "" for text) means inherit."""

    queue: str = ""
    outcome: str = ""
    values: dict = field(default_factory=dict)

    @property
    def specificity(self) -> int:
        return (2 if self.queue else 0) + (1 if self.outcome else 0)

    @property
    def label(self) -> str:
        if not self.queue and not self.outcome:
            return "global default"
        return " ".join(p for p in (f"queue={self.queue}" if self.queue else "",
                                    f"outcome={self.outcome}" if self.outcome else "") if p)

    def matches(self, queue: str, outcome: str) -> bool:
        return self.queue in ("", queue) and self.outcome in ("", outcome)


@dataclass(frozen=True)
class Resolved:
    """The effective policy for one queue and outcome, and which rule decided each setting."""

    queue: str
    outcome: str
    redis_hours: int
    warm_days: int
    cold_days: int  # 0 = keep forever
    max_records: int  # 0 = no cap
    payload_mode: str
    sample_rate: float
    keep_failures: bool
    payload_max_bytes: int
    redaction_patterns: str
    sources: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def redis_retention(self) -> timedelta:
        return timedelta(hours=self.redis_hours)

    def explain(self) -> list[str]:
        return [f"{name} = {getattr(self, name)!r} (from {self.sources.get(name, BUILT_IN)})" for name in SETTINGS]


def _is_set(value) -> bool:
    return value is not None and value != ""


def resolve(rules: list[Rule], queue: str, outcome: str, defaults: dict | None = None) -> Resolved:
    values = dict(defaults if defaults is not None else built_in_defaults())
    sources = {name: BUILT_IN for name in SETTINGS}
    # Least specific first, so a more specific rule overwrites what it sets.
    for rule in sorted((r for r in rules if r.matches(queue, outcome)), key=lambda r: r.specificity):
        for name in SETTINGS:
            value = rule.values.get(name)
            if _is_set(value):
                values[name] = value
                sources[name] = rule.label
    return Resolved(queue=queue, outcome=outcome, sources=sources, **{name: values[name] for name in SETTINGS})


class PolicyBook:
    """All rules at one moment, resolving (queue, outcome) pairs with a memo."""

    def __init__(self, rules: list[Rule], defaults: dict | None = None) -> None:
        self.rules = rules
        self.defaults = defaults if defaults is not None else built_in_defaults()
        self._memo: dict[tuple[str, str], Resolved] = {}

    def for_pair(self, queue: str, outcome: str) -> Resolved:
        key = (queue, outcome)
        if key not in self._memo:
            self._memo[key] = resolve(self.rules, queue, outcome, self.defaults)
        return self._memo[key]

    @property
    def named_queues(self) -> set[str]:
        return {r.queue for r in self.rules if r.queue}

    def redis_hours_values(self) -> set[int]:
        """Every Redis retention some rule (or the default) asks for; the stream is trimmed by id to the longest."""
        return {self.defaults["redis_hours"]} | {
            r.values["redis_hours"] for r in self.rules if _is_set(r.values.get("redis_hours"))}
