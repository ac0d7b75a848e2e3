"""Payload and error handling per policy: size and hash always, a redacted sample when chosen."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from hashlib import blake2b

from django.conf import settings

from apps.records.contract import FAILURE_OUTCOMES
from apps.records.redaction import Redactor

_TWO_64 = 2**64


@dataclass(frozen=True)
class PayloadPolicy:
    sample_rate: float
    sample_max_bytes: int
    payload_max_bytes: int
    error_msg_max_bytes: int
    redaction_extra: str = ""

    @classmethod
    def from_settings(cls) -> PayloadPolicy:
        return cls(
            sample_rate=settings.ARCHIVE_PAYLOAD_SAMPLE_RATE,
            sample_max_bytes=settings.ARCHIVE_PAYLOAD_SAMPLE_MAX_BYTES,
            payload_max_bytes=settings.ARCHIVE_PAYLOAD_MAX_BYTES,
            error_msg_max_bytes=settings.ARCHIVE_ERROR_MSG_MAX_BYTES,
            redaction_extra=settings.ARCHIVE_REDACTION_EXTRA,
        )

    @property
    def redactor(self) -> Redactor:
        return _redactor(self.redaction_extra)

    @property
    def sample_threshold(self) -> int:
        return int(min(max(self.sample_rate, 0.0), 1.0) * _TWO_64)


@cache
def _redactor(extra: str) -> Redactor:
    return Redactor.with_extra(extra) if extra else Redactor()


def truncate(text: str, max_bytes: int) -> str:
    encoded = text.encode()
    if len(encoded) <= max_bytes:
        return text
    return encoded[:max_bytes].decode(errors="ignore") + "…[truncated]"


def payload_digest(payload: bytes) -> bytes:
    return blake2b(payload, digest_size=16).digest()


def payload_sample(payload: bytes, digest: bytes, failed: bool, policy: PayloadPolicy, threshold: int) -> str:
    """The redacted, size-capped sample to keep, or "" when the policy keeps none.

    Sampling is decided by the payload's hash, not by chance, so replaying a batch after a
    crash produces exactly the same records. Redaction runs before truncation so a cut can
    never leave half of an email or card number behind.
    """
    if len(payload) > policy.payload_max_bytes:
        return ""
    if not failed and int.from_bytes(digest[:8], "big") >= threshold:
        return ""
    return truncate(policy.redactor.redact(payload.decode(errors="replace")), policy.sample_max_bytes)


def redact_error(message: str, policy: PayloadPolicy) -> str:
    return truncate(policy.redactor.redact(message), policy.error_msg_max_bytes) if message else ""


def apply_payload_policy(record: dict, payload: bytes | None, policy: PayloadPolicy, threshold: int) -> None:
    """Fill payload_size, payload_hash and payload_sample, and redact error_msg, in place (row path)."""
    if payload:
        digest = payload_digest(payload)
        record["payload_size"] = len(payload)
        record["payload_hash"] = digest.hex()
        failed = record["outcome"] in FAILURE_OUTCOMES
        record["payload_sample"] = payload_sample(payload, digest, failed, policy, threshold)
    else:
        record["payload_size"] = 0
        record["payload_hash"] = ""
        record["payload_sample"] = ""
    record["error_msg"] = redact_error(record["error_msg"], policy)
