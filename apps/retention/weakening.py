"""Does a policy change weaken what the archive promises? Then it needs a second person's approval.

Weaker means: any retention shorter (Redis, warm, cold, a lower count cap) or payload handling
that keeps more (a more revealing payload mode, a higher sample rate or size limit, failures kept
where they were not, a redaction pattern dropped). Compared on the *effective* policies, so a
deleted or emptied rule that lets a weaker default through counts too. Pure functions.
"""

from __future__ import annotations

from apps.records.contract import OUTCOMES
from apps.retention.resolution import PolicyBook

PAYLOAD_RANK = {"none": 0, "hash": 1, "sample": 2, "full": 3}  # how much of a payload is kept
OTHER_QUEUES = "(any other queue)"  # stands for every queue no rule names


def _forever(days: int) -> float:
    return float("inf") if days == 0 else days  # 0 means keep forever / no cap


def _patterns(text: str) -> set[str]:
    return {line.strip() for line in (text or "").splitlines() if line.strip()}


def _weaker(old, new) -> list[str]:
    found = []
    for name in ("redis_hours", "warm_days"):
        if getattr(new, name) < getattr(old, name):
            found.append(f"{name} {getattr(old, name)} -> {getattr(new, name)}")
    for name in ("cold_days", "max_records"):  # 0 = forever / no cap
        if _forever(getattr(new, name)) < _forever(getattr(old, name)):
            found.append(f"{name} {getattr(old, name)} -> {getattr(new, name)}")
    if PAYLOAD_RANK.get(new.payload_mode, 3) > PAYLOAD_RANK.get(old.payload_mode, 3):
        found.append(f"payload_mode {old.payload_mode} -> {new.payload_mode}")
    if new.payload_mode in ("sample", "full") and new.sample_rate > old.sample_rate:
        found.append(f"sample_rate {old.sample_rate} -> {new.sample_rate}")
    if new.payload_max_bytes > old.payload_max_bytes:
        found.append(f"payload_max_bytes {old.payload_max_bytes} -> {new.payload_max_bytes}")
    if new.keep_failures and not old.keep_failures:
        found.append("keep_failures off -> on")
    dropped = _patterns(old.redaction_patterns) - _patterns(new.redaction_patterns)
    if dropped:
        found.append(f"redaction patterns removed: {', '.join(sorted(p.split('=')[0] for p in dropped))}")
    return found


def weakenings(old: PolicyBook, new: PolicyBook) -> list[str]:
    """Every way `new` is weaker than `old`, one line per queue, outcome and setting; empty: not weaker."""
    queues = sorted(old.named_queues | new.named_queues) + [OTHER_QUEUES]
    lines = []
    for queue in queues:
        for outcome in sorted(OUTCOMES):
            for change in _weaker(old.for_pair(queue, outcome), new.for_pair(queue, outcome)):
                lines.append(f"queue={queue} outcome={outcome}: {change}")
    return lines
