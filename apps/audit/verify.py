"""Verifying the chain: every event's hash and link in sequence order, then every digest in the locked bucket.

Read-only. Events are read in chunks (bounded memory, whatever the chain's length); the digests
are all held, being one per hour. A database superuser can rewrite events and recompute every
hash, or delete the tail; what they cannot change is the digests, so each one is compared with
the event it anchors, and the chain may not end before the newest of them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from apps.audit import anchors, chain
from apps.audit.models import GENESIS, AuditEvent

_KEEP_PROBLEMS = 50  # a rewritten chain can fail everywhere; the first ones say enough


@dataclass(frozen=True)
class Problem:
    seq: int | None  # the event it names; None for a problem of a digest alone
    reason: str
    digest: str | None = None

    def line(self) -> str:
        return f"event {self.seq}: {self.reason}" if self.seq is not None else f"digest {self.digest}: {self.reason}"

    def as_dict(self) -> dict:
        return {"seq": self.seq, "digest": self.digest, "reason": self.reason, "line": self.line()}


@dataclass
class Verification:
    events: int = 0
    digests: int = 0
    head_seq: int = 0
    head_hash: str | None = None
    newest_digest: anchors.Digest | None = None
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_bad(self) -> Problem | None:
        # The lowest event named first: that is where the chain stops being trustworthy.
        ordered = sorted(self.problems, key=lambda p: (p.seq is None, p.seq or 0))
        return ordered[0] if ordered else None

    def line(self) -> str:
        if not self.ok:
            more = f" ({len(self.problems) - 1} more problems)" if len(self.problems) > 1 else ""
            return f"audit chain broken at {self.first_bad.line()}{more}"
        anchored = (f"; newest digest anchors event {self.newest_digest.seq} ({self.newest_digest.at})"
                    if self.newest_digest else "")
        return f"audit chain ok: {self.events} events, {self.digests} digests{anchored}"

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "events_checked": self.events,
            "digests_checked": self.digests,
            "head": {"seq": self.head_seq, "hash": self.head_hash},
            "newest_digest": self.newest_digest.as_dict() if self.newest_digest else None,
            "first_bad": self.first_bad.as_dict() if self.first_bad else None,
            "problems": [p.as_dict() for p in self.problems[:_KEEP_PROBLEMS]],
            "warnings": self.warnings,
            "message": self.line(),
        }


def chain_verify(*, chunk_size: int = 2000) -> Verification:
    """Walk the chain and compare it with every digest; never writes."""
    result = Verification()
    scan = anchors.read_digests()
    result.digests = len(scan.digests)
    result.problems += [Problem(None, reason, digest=key) for key, reason in scan.problems]
    by_seq: dict[int, list[anchors.Digest]] = defaultdict(list)
    for digest in scan.digests:
        by_seq[digest.seq].append(digest)
    if scan.digests:
        result.newest_digest = max(scan.digests, key=lambda d: (d.seq, d.at))
    else:
        where = "the audit bucket does not exist" if not scan.bucket_exists else "the audit bucket is empty"
        result.warnings.append(f"no digests yet ({where}): run `archive audit anchor`; until then a chain "
                               "rewritten by a database superuser cannot be told from the real one")

    claims: list[tuple[int, str, str]] = []  # what audit.anchored events say was written: (seq, key, digest hash)
    expected, previous, last_anchored = 1, GENESIS, 0
    for event in AuditEvent.objects.order_by("seq").iterator(chunk_size=chunk_size):
        result.events += 1
        if event.seq != expected:
            missing = f"event {expected}" if event.seq == expected + 1 else f"events {expected} to {event.seq - 1}"
            where = f"after event {expected - 1} comes event {event.seq}" if expected > 1 else \
                f"the chain starts at event {event.seq}"
            result.problems.append(Problem(expected, f"missing: {missing} deleted ({where})"))
        elif event.prev_hash != previous:
            result.problems.append(Problem(event.seq, "its previous hash is not the hash of the event before"))
        if chain.event_hash(event) != event.hash:
            result.problems.append(Problem(event.seq, "its hash does not match its content (the event was changed)"))
        for digest in by_seq.get(event.seq, ()):
            if digest.hash == event.hash:
                last_anchored = max(last_anchored, event.seq)
            else:
                result.problems.append(Problem(
                    event.seq, f"it does not match digest {digest.key} of {digest.at}: the chain was rewritten "
                               f"between events {last_anchored + 1} and {event.seq} after that digest was written",
                    digest=digest.key))
        if event.action == "audit.anchored" and isinstance(event.details, dict):
            claims.append((event.seq, str(event.details.get("key")), str(event.details.get("digest_hash"))))
        expected, previous = event.seq + 1, event.hash
        result.head_seq, result.head_hash = event.seq, event.hash

    _check_tail(result, by_seq)
    _check_digest_links(result, scan.digests, claims)
    return result


def _check_tail(result: Verification, by_seq: dict[int, list[anchors.Digest]]) -> None:
    beyond = [d for seq, digests in by_seq.items() if seq > result.head_seq for d in digests]
    if beyond:
        newest = max(beyond, key=lambda d: d.seq)
        result.problems.append(Problem(
            result.head_seq + 1, f"missing: the chain ends at event {result.head_seq}, but digest {newest.key} "
                                 f"anchors event {newest.seq} (the tail was deleted)", digest=newest.key))


def _check_digest_links(result: Verification, digests: list[anchors.Digest], claims) -> None:
    held = {(d.key, d.digest_hash) for d in digests}
    for digest in digests:
        if digest.previous_key and (digest.previous_key, digest.previous_hash) not in held:
            result.problems.append(Problem(None, f"its previous digest {digest.previous_key} is missing or was "
                                                 "altered", digest=digest.key))
    for seq, key, digest_hash in claims:
        if (key, digest_hash) not in held:
            result.problems.append(Problem(seq, f"it records digest {key}, which the audit bucket does not hold "
                                                "with that hash", digest=key))
