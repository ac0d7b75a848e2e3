"""Payload and error handling per policy: size always; hash, a redacted sample or the full payload as chosen."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, cached_property
from hashlib import blake2b
from typing import Protocol

from django.conf import settings

from apps.records.contract import FAILURE_OUTCOMES
from apps.records.redaction import Redactor, patterns_spec

_TWO_64 = 2**64
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

    @cached_property  # asked once per record; frozen dataclasses still allow this cache
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


def payload_sample(payload: bytes, digest: bytes, failed: bool, policy: PayloadPolicy) -> str:
    """The redacted payload text to keep (a capped sample, or all of it), or "" when the policy keeps none.

    Sampling is decided by the payload's hash, not by chance, so replaying a batch after a
    crash produces exactly the same records. Redaction runs before truncation so a cut can
    never leave half of an email or card number behind.
    """
    if policy.mode in (NONE, HASH) or len(payload) > policy.payload_max_bytes:
        return ""
    if policy.mode == FULL:
        return policy.redactor.redact(payload.decode(errors="replace"))
    chosen = (failed and policy.keep_failures) or int.from_bytes(digest[:8], "big") < policy.sample_threshold
    if not chosen:  # decided before redacting: redaction is the expensive part
        return ""
    return truncate(policy.redactor.redact(payload.decode(errors="replace")), policy.sample_max_bytes)


def redact_error(message: str, policy: PayloadPolicy) -> str:
    return truncate(policy.redactor.redact(message), policy.error_msg_max_bytes) if message else ""


def apply_payload_policy(record: dict, payload: bytes | None, policy: PayloadPolicy) -> None:
    """Fill payload_size, payload_hash and payload_sample, and redact error_msg, in place (row path)."""
    record["payload_size"] = len(payload) if payload else 0
    if payload and policy.hashes:
        digest = payload_digest(payload)
        record["payload_hash"] = digest.hex()
        failed = record["outcome"] in FAILURE_OUTCOMES
        record["payload_sample"] = payload_sample(payload, digest, failed, policy)
    else:
        record["payload_hash"] = ""
        record["payload_sample"] = ""
    record["error_msg"] = redact_error(record["error_msg"], policy)
