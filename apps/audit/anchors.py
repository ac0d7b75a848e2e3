"""Digests of the chain head in an S3 bucket under Object Lock: written in compliance mode, read back by every version.

A digest is a small canonical JSON document: the head's sequence number and hash, when, and the
key and hash of the digest before it (so the digests form a chain of their own). Written once per
key (a conditional PUT), locked until `ARCHIVE_AUDIT_DIGEST_RETAIN_DAYS` have passed; nobody, the
bucket's owner included, can delete or shorten that. An overwrite would only add a version and a
delete only a delete marker, so reading lists object *versions*: neither can hide a digest.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

import rfc8785
from botocore.exceptions import ClientError
from django.conf import settings

from apps.audit import chain
from apps.lake import s3

PREFIX = "digests/"
FORMAT = "archive-portal/audit-digest/1"
_FIELDS = {"format", "seq", "hash", "at", "previous"}


class DigestError(RuntimeError):
    """A digest could not be written (the message says why); the chain itself is unchanged."""


@dataclass(frozen=True)
class Digest:
    key: str
    version_id: str | None
    seq: int
    hash: str  # the hash of event `seq`
    at: str
    previous_key: str | None
    previous_hash: str | None  # the previous digest's own hash
    digest_hash: str  # SHA-256 of this digest's canonical JSON, which is exactly the stored bytes
    locked: bool = True

    def as_dict(self) -> dict:
        return {"key": self.key, "seq": self.seq, "hash": self.hash, "at": self.at, "digest_hash": self.digest_hash}


@dataclass
class DigestScan:
    """Every digest version in the bucket, and what looked wrong while reading them (one line each)."""

    digests: list[Digest]
    problems: list[tuple[str, str]]  # (key, what is wrong)
    bucket_exists: bool = True


def config() -> s3.S3Config:
    return s3.S3Config.from_settings().for_bucket(settings.S3_AUDIT_BUCKET)


def digest_key(seq: int, at: datetime) -> str:
    # Zero-padded, so keys sort by sequence number in any listing.
    return f"{PREFIX}{seq:012d}-{chain.moment(at)[:19].replace('-', '').replace(':', '')}Z.json"


def document(*, seq: int, head_hash: str, at: datetime, previous: Digest | None) -> dict:
    return {
        "format": FORMAT,
        "seq": seq,
        "hash": head_hash,
        "at": chain.moment(at),
        "previous": {"key": previous.key, "hash": previous.digest_hash} if previous else None,
    }


def write_digest(*, seq: int, head_hash: str, at: datetime, previous: Digest | None) -> Digest:
    """Put one digest, locked in compliance mode; refused if its key exists (a digest is written once)."""
    cfg = config()
    try:
        s3.ensure_locked_bucket(cfg)
    except s3.LockedBucketError as exc:
        raise DigestError(str(exc)) from None
    doc = document(seq=seq, head_hash=head_hash, at=at, previous=previous)
    body = rfc8785.dumps(doc)
    key = digest_key(seq, at)
    try:
        put = s3.client(cfg).put_object(
            Bucket=cfg.bucket, Key=key, Body=body, ContentType="application/json", IfNoneMatch="*",
            ObjectLockMode="COMPLIANCE",
            ObjectLockRetainUntilDate=at + timedelta(days=settings.ARCHIVE_AUDIT_DIGEST_RETAIN_DAYS),
        )
    except ClientError as exc:
        raise DigestError(f"digest {key} was not written: {exc}") from None
    return Digest(key=key, version_id=put.get("VersionId"), seq=seq, hash=head_hash, at=doc["at"],
                  previous_key=previous.key if previous else None,
                  previous_hash=previous.digest_hash if previous else None, digest_hash=hashlib.sha256(body).hexdigest())


def read_digests() -> DigestScan:
    """Every version of every digest object, oldest key first; a bucket that does not exist holds none."""
    cfg = config()
    client = s3.client(cfg)
    try:
        client.head_bucket(Bucket=cfg.bucket)
    except ClientError as exc:
        if s3.is_missing(exc):
            return DigestScan([], [], bucket_exists=False)
        raise
    scan = DigestScan([], [])
    versions_per_key: dict[str, int] = {}
    for page in client.get_paginator("list_object_versions").paginate(Bucket=cfg.bucket, Prefix=PREFIX):
        for marker in page.get("DeleteMarkers", []):
            scan.problems.append((marker["Key"], "someone tried to delete it (a delete marker hides it; its locked "
                                                 "versions are still there and are checked)"))
        for version in page.get("Versions", []):
            versions_per_key[version["Key"]] = versions_per_key.get(version["Key"], 0) + 1
            digest, problem = _read_version(client, cfg.bucket, version["Key"], version["VersionId"])
            if problem:
                scan.problems.append((version["Key"], problem))
            if digest:
                scan.digests.append(digest)
    for key, count in versions_per_key.items():
        if count > 1:
            scan.problems.append((key, f"it was overwritten ({count} versions; each is checked)"))
    return scan


def _read_version(client, bucket: str, key: str, version_id: str) -> tuple[Digest | None, str | None]:
    got = client.get_object(Bucket=bucket, Key=key, VersionId=version_id)
    body = got["Body"].read()
    try:
        doc = json.loads(body)
        if not isinstance(doc, dict) or set(doc) != _FIELDS or doc["format"] != FORMAT:
            raise ValueError("not a digest document")
        previous = doc["previous"] or {}
        digest = Digest(key=key, version_id=version_id, seq=int(doc["seq"]), hash=str(doc["hash"]), at=str(doc["at"]),
                        previous_key=previous.get("key"), previous_hash=previous.get("hash"),
                        digest_hash=hashlib.sha256(body).hexdigest(),
                        locked=got.get("ObjectLockMode") == "COMPLIANCE")
    except (ValueError, TypeError, KeyError, AttributeError):
        return None, f"version {version_id} is not a digest the portal wrote"
    if not digest.locked:
        return digest, f"version {version_id} is not locked in compliance mode: the portal did not write it"
    return digest, None
