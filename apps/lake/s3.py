"""The one entry point to S3: a boto3 client with short timeouts, and bucket set-up (plain and Object Lock)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from urllib.parse import urlparse

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, ConnectTimeoutError, EndpointConnectionError
from botocore.exceptions import ReadTimeoutError
from django.conf import settings


@dataclass(frozen=True)
class S3Config:
    endpoint_url: str
    bucket: str
    access_key: str
    secret_key: str
    region: str
    connect_timeout: float
    read_timeout: float

    @classmethod
    def from_settings(cls) -> S3Config:
        return cls(
            endpoint_url=settings.S3_ENDPOINT_URL,
            bucket=settings.S3_BUCKET,
            access_key=settings.AWS_ACCESS_KEY_ID,
            secret_key=settings.AWS_SECRET_ACCESS_KEY,
            region=settings.AWS_REGION,
            connect_timeout=settings.S3_CONNECT_TIMEOUT,
            read_timeout=settings.S3_READ_TIMEOUT,
        )

    def for_bucket(self, bucket: str) -> S3Config:
        return replace(self, bucket=bucket)

    def http_url(self, s3_uri: str) -> str:
        """s3://bucket/key as the plain HTTP(S) URL ClickHouse's S3 engines take."""
        bucket, _, key = s3_uri.removeprefix("s3://").partition("/")
        if self.endpoint_url:
            return f"{self.endpoint_url.rstrip('/')}/{bucket}/{key}"
        return f"https://{bucket}.s3.{self.region}.amazonaws.com/{key}"


def client(cfg: S3Config | None = None, *, attempts: int = 3):
    """A client on `cfg`; `attempts` counts every try of a request, the first included."""
    cfg = cfg or S3Config.from_settings()
    return boto3.client(
        "s3",
        endpoint_url=cfg.endpoint_url or None,
        aws_access_key_id=cfg.access_key or None,
        aws_secret_access_key=cfg.secret_key or None,
        region_name=cfg.region,
        config=Config(
            connect_timeout=cfg.connect_timeout,
            read_timeout=cfg.read_timeout,
            retries={"total_max_attempts": attempts, "mode": "standard"},
            s3={"addressing_style": "path"},
        ),
    )


# How pyarrow's S3 filesystem (pyiceberg's file IO) and ClickHouse's S3 reads say they got no answer.
_NO_ANSWER = ("NETWORK_CONNECTION", "Could not connect", "Connection refused", "Failed to connect", "Timeout",
              "timed out")


def unreachable(exc: BaseException, cfg: S3Config | None = None) -> bool:
    """Whether an error, or one it came from, is the S3 endpoint not answering (refused, timed out):
    botocore's own, or another client's that names the endpoint's address."""
    cfg = cfg or S3Config.from_settings()
    address = urlparse(cfg.endpoint_url).netloc if cfg.endpoint_url else ".amazonaws.com"
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, EndpointConnectionError | ConnectTimeoutError | ReadTimeoutError | ConnectionClosedError):
            return True
        text = str(exc)
        if address in text and any(words in text for words in _NO_ANSWER):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def ensure_bucket(cfg: S3Config | None = None) -> None:
    cfg = cfg or S3Config.from_settings()
    _create_if_missing(client(cfg), cfg.bucket)


def _create_if_missing(s3, bucket: str, **options) -> None:
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        if not is_missing(exc):
            raise
        s3.create_bucket(Bucket=bucket, **options)


class LockedBucketError(RuntimeError):
    """A bucket that must be under Object Lock is not (and S3 cannot add it to an existing bucket)."""


def is_missing(exc: ClientError) -> bool:
    """The error S3 answers for a bucket (or key) that does not exist."""
    return exc.response.get("Error", {}).get("Code") in ("404", "NoSuchBucket", "NotFound")


def ensure_locked_bucket(cfg: S3Config) -> None:
    """Create `cfg.bucket` with Object Lock enabled (which turns versioning on), or check that it has it.

    Object Lock can only be chosen when a bucket is created, so an existing bucket without it is
    refused rather than used: its objects could be deleted or replaced at will.
    """
    s3 = client(cfg)
    _create_if_missing(s3, cfg.bucket, ObjectLockEnabledForBucket=True)
    try:
        enabled = s3.get_object_lock_configuration(Bucket=cfg.bucket)["ObjectLockConfiguration"].get("ObjectLockEnabled")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ObjectLockConfigurationNotFoundError":
            raise
        enabled = None
    if enabled != "Enabled":
        raise LockedBucketError(f"bucket {cfg.bucket!r} exists without Object Lock; it cannot be added later: "
                                "name a new bucket (the portal creates it locked)")


def reachable(cfg: S3Config | None = None) -> bool:
    cfg = cfg or S3Config.from_settings()
    try:
        client(cfg).head_bucket(Bucket=cfg.bucket)
    except Exception:
        return False
    return True


def versions_under(client, bucket: str, prefix: str) -> dict[str, list[dict]]:
    """Every version and delete marker under a prefix, by key, in one listing: {key: [{VersionId,
    LastModified}, ...]} (an unversioned bucket lists each object once, as version "null")."""
    found: dict[str, list[dict]] = {}
    for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        for version in page.get("Versions", []) + page.get("DeleteMarkers", []):
            found.setdefault(version["Key"], []).append(
                {"VersionId": version.get("VersionId"), "LastModified": version.get("LastModified")})
    return found


def delete_versions(client, bucket: str, versions: list[tuple[str, str | None]]) -> int:
    """Delete these (key, version id) pairs, a thousand a request; returns how many went."""
    gone = 0
    for start in range(0, len(versions), 1000):
        chunk = versions[start:start + 1000]
        objects = [{"Key": k, **({"VersionId": v} if v and v != "null" else {})} for k, v in chunk]
        answer = client.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
        if answer.get("Errors"):
            first = answer["Errors"][0]
            raise OSError(f"S3 refused to delete {len(answer['Errors'])} of {len(chunk)} objects in {bucket}, "
                          f"e.g. {first.get('Key')}: {first.get('Code')} {first.get('Message')}")
        gone += len(chunk)
    return gone


def delete_every_version(client, bucket: str, key: str) -> int:
    """Delete an object and, where the bucket keeps versions, each of them; returns how many went."""
    gone = 0
    for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=key):
        for version in page.get("Versions", []) + page.get("DeleteMarkers", []):
            if version["Key"] != key:
                continue
            version_id = version.get("VersionId")
            if version_id and version_id != "null":
                client.delete_object(Bucket=bucket, Key=key, VersionId=version_id)
            else:
                client.delete_object(Bucket=bucket, Key=key)
            gone += 1
    return gone
