"""Payload and error handling per policy: size always; hash, a redacted sample or the full payload as chosen.

Policies are resolved per (queue, outcome); `payload_columns` applies them to whole columns."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, cached_property
from hashlib import blake2b
from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from django.conf import settings

from apps.records.contract import FAILURE_OUTCOMES
from apps.records.redaction import Redactor, patterns_spec

_TWO_64 = 2**64
_FAILURES = pa.array(sorted(FAILURE_OUTCOMES))
NONE, HASH, SAMPLE, FULL = "none", "hash", "sample", "full"


@dataclass(frozen=True)
class PayloadPolicy:
    """What the exporter keeps of one record's payload and error message."""

    sample_rate: float
    sample_max_bytes: int
    payload_max_bytes: int
    error_msg_max_bytes: int
    redaction_extra: str = ""  # one name=regex per line
    mode: str = SAMPLE
    keep_failures: bool = True

    @classmethod
    def from_settings(cls) -> PayloadPolicy:
        return cls(
            sample_rate=settings.ARCHIVE_PAYLOAD_SAMPLE_RATE,
            sample_max_bytes=settings.ARCHIVE_PAYLOAD_SAMPLE_MAX_BYTES,
            payload_max_bytes=settings.ARCHIVE_PAYLOAD_MAX_BYTES,
            error_msg_max_bytes=settings.ARCHIVE_ERROR_MSG_MAX_BYTES,
            redaction_extra=settings.ARCHIVE_REDACTION_EXTRA.replace(";;", "\n"),
            mode=settings.ARCHIVE_PAYLOAD_MODE,
            keep_failures=settings.ARCHIVE_KEEP_FAILURES,
        )

    @classmethod
    def from_resolved(cls, resolved) -> PayloadPolicy:
        """From an `apps.retention.resolution.Resolved` policy; sizes not set per policy come from settings."""
        return cls(
            sample_rate=resolved.sample_rate,
            sample_max_bytes=settings.ARCHIVE_PAYLOAD_SAMPLE_MAX_BYTES,
            payload_max_bytes=resolved.payload_max_bytes,
            error_msg_max_bytes=settings.ARCHIVE_ERROR_MSG_MAX_BYTES,
            redaction_extra=resolved.redaction_patterns,
            mode=resolved.payload_mode,
            keep_failures=resolved.keep_failures,
        )

    @cached_property
    def redactor(self) -> Redactor:
        return _redactor(self.redaction_extra)

    @cached_property  # frozen dataclasses still allow this cache
    def sample_threshold(self) -> int:
        return int(min(max(self.sample_rate, 0.0), 1.0) * _TWO_64)

    @property
    def hashes(self) -> bool:
        return self.mode != NONE


class Policies(Protocol):
    """Gives the payload policy of a queue and outcome."""

    def payload(self, queue: str, outcome: str) -> PayloadPolicy: ...


class UniformPolicies:
    """One payload policy for every queue and outcome (tests, the benchmark's defaults)."""

    def __init__(self, policy: PayloadPolicy) -> None:
        self.policy = policy

    def payload(self, queue: str, outcome: str) -> PayloadPolicy:
        return self.policy


@cache
def _redactor(extra: str) -> Redactor:
    return Redactor.with_extra(patterns_spec(extra)) if extra.strip() else Redactor()


def truncate(text: str, max_bytes: int) -> str:
    encoded = text.encode()
    if len(encoded) <= max_bytes:
        return text
    return encoded[:max_bytes].decode(errors="ignore") + "…[truncated]"


def payload_digest(payload: bytes) -> bytes:
    return blake2b(payload, digest_size=16).digest()


def payload_is_complete(kept: str, payload_hash: str, size: int) -> bool:
    """Is the kept payload text the payload exactly as sent? Only when it hashes to the recorded hash:
    a sample that redaction changed or the cut shortened does not (nor a record without a hash). A
    job sent without a payload has nothing to lose, so it counts as complete."""
    if not size:
        return True
    return bool(kept) and bool(payload_hash) and payload_digest(kept.encode()).hex() == payload_hash


def _policy_groups(queues: pa.Array, outcomes: pa.Array, policies: Policies) -> tuple[np.ndarray, list[PayloadPolicy]]:
    """Each row's policy as an index into a short list, resolved once per distinct (queue, outcome)."""
    q = pc.dictionary_encode(queues)
    o = pc.dictionary_encode(outcomes)
    width = max(len(o.dictionary), 1)
    pairs = q.indices.to_numpy(zero_copy_only=False).astype(np.int64) * width + o.indices.to_numpy(zero_copy_only=False)
    distinct, inverse = np.unique(pairs, return_inverse=True)
    queue_names, outcome_names = q.dictionary.to_pylist(), o.dictionary.to_pylist()
    chosen: list[PayloadPolicy] = []
    slot: dict[PayloadPolicy, int] = {}
    per_pair = []
    for pair in distinct.tolist():
        policy = policies.payload(queue_names[pair // width], outcome_names[pair % width])
        if policy not in slot:
            slot[policy] = len(chosen)
            chosen.append(policy)
        per_pair.append(slot[policy])
    return np.asarray(per_pair, dtype=np.int64)[inverse], chosen


def _scatter(values: pa.Array, rows: np.ndarray, n: int) -> pa.Array:
    """A string column of n rows: values[i] at rows[i], "" elsewhere."""
    position = np.full(n, -1, dtype=np.int64)
    position[rows] = np.arange(len(rows))
    return pc.fill_null(values.take(pa.array(position, mask=position < 0)), "")


def _hex_column(digests: bytes, count: int) -> pa.Array:
    """32-character hex strings for `count` concatenated 16-byte digests, without a Python object per row."""
    offsets = np.arange(0, 32 * count + 1, 32, dtype=np.int32)
    return pa.StringArray.from_buffers(count, pa.py_buffer(offsets), pa.py_buffer(digests.hex().encode()))


def payload_columns(
    queues: pa.Array, outcomes: pa.Array, payloads: pa.Array, messages: pa.Array, policies: Policies
) -> dict[str, pa.Array]:
    """payload_size, payload_hash, payload_sample and the redacted error_msg, each row as its
    (queue, outcome)'s policy says. Column-wise: Python touches only the rows it must hash or redact.

    Sampling is decided by the payload's hash, not by chance, so replaying a batch after a crash
    produces exactly the same records; it is decided before redacting, since redaction is the
    expensive part. Redaction runs before truncation so a cut can never leave half of an email or
    card number behind.
    """
    n = len(payloads)
    group_of_row, group_policies = _policy_groups(queues, outcomes, policies)
    sizes = pc.fill_null(pc.binary_length(payloads), 0).cast(pa.int64())
    size_of_row = sizes.to_numpy()
    failed = pc.fill_null(pc.is_in(outcomes, _FAILURES), False).to_numpy(zero_copy_only=False)

    hashing = np.array([policy.hashes for policy in group_policies], dtype=bool)[group_of_row] & (size_of_row > 0)
    hashed_rows = np.flatnonzero(hashing)
    hashed_payloads = payloads.take(pa.array(hashed_rows)).to_pylist()
    digests = b"".join([payload_digest(p) for p in hashed_payloads])

    # The sampling draw: the digest's first 8 bytes as a big-endian number, below rate x 2^64.
    draw = np.frombuffer(digests, dtype=">u8")[0::2]
    hashed_groups = group_of_row[hashed_rows]
    hashed_sizes, hashed_failed = size_of_row[hashed_rows], failed[hashed_rows]
    keep = np.zeros(len(hashed_rows), dtype=bool)
    for index, policy in enumerate(group_policies):
        mine = (hashed_groups == index) & (hashed_sizes <= policy.payload_max_bytes)
        if policy.mode == FULL:
            keep |= mine
        elif policy.mode == SAMPLE:
            threshold = policy.sample_threshold
            drawn = draw < np.uint64(threshold) if threshold < _TWO_64 else np.ones_like(mine)
            keep |= mine & (drawn | (hashed_failed & policy.keep_failures))
    kept = np.flatnonzero(keep)
    samples = []
    for k in kept.tolist():
        policy = group_policies[hashed_groups[k]]
        text = policy.redactor.redact(hashed_payloads[k].decode(errors="replace"))
        samples.append(text if policy.mode == FULL else truncate(text, policy.sample_max_bytes))

    with_message = np.flatnonzero(pc.fill_null(pc.greater(pc.utf8_length(messages), 0), False).to_numpy(zero_copy_only=False))
    errors = [
        truncate(group_policies[group].redactor.redact(message), group_policies[group].error_msg_max_bytes)
        for message, group in zip(messages.take(pa.array(with_message)).to_pylist(), group_of_row[with_message].tolist())
    ]
    return {
        "payload_size": sizes,
        "payload_hash": _scatter(_hex_column(digests, len(hashed_rows)), hashed_rows, n),
        "payload_sample": _scatter(pa.array(samples, pa.string()), hashed_rows[kept], n),
        "error_msg": _scatter(pa.array(errors, pa.string()), with_message, n),
    }
