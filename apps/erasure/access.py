"""Subject access (GDPR art. 15): file a request, build its bundle, download it, let it expire.

A request names a person by subject keys (KEY=VALUE, hashed at once: only the keyed hashes are
stored) and job ids (their keyed hashes are stored; the raw ids only until the bundle is built).
The bundle, built on the warehouse worker, is every archived record of the person, from both
tiers through `jobs_all` (rehydrated tables are copies of cold data, so they add nothing), as
`records.json` and `records.csv` under `subject-access/<id>/` in the data bucket. It is a
`StoredCopy`, a place of the registry: an erasure of the person deletes it like any other copy.

Only the officer who filed a request downloads its bundle, and only until it expires
(ARCHIVE_SUBJECT_ACCESS_HOURS after it is built); then the beat task deletes it, every version
of every object. Every step is in the audit chain, with hashes and counts only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.accounts.actors import Actor, require_permission
from apps.audit.services import audit_record
from apps.compliance import subject_keys
from apps.compliance.models import StoredCopy
from apps.compliance.subject_key_rules import rules
from apps.core import faults
from apps.erasure import access_bundle
from apps.erasure.models import ACCESS_DOWNLOADABLE, AccessState, SubjectAccessRequest
from apps.erasure.tombstones import job_hash

logger = logging.getLogger(__name__)

KIND = "subject_access"
PREFIX = "subject-access"
MAX_IDENTIFIERS = 1000
# What the build may start from: BUILDING too, because builds run one at a time (the runs' lock),
# so a request found building by the next build is one whose worker died mid-way.
_BUILDABLE = (AccessState.REQUESTED, AccessState.BUILDING, AccessState.FAILED)


class AccessRefused(ValueError):
    """The request cannot be filed, built or downloaded as asked; the message says why. Nothing changed."""


@dataclass(frozen=True)
class Download:
    """A bundle file: its bytes, or a presigned URL to them (valid `url_seconds`)."""

    filename: str
    content_type: str
    body: bytes | None = None
    url: str | None = None
    url_seconds: int = 0


def _target(request: SubjectAccessRequest) -> str:
    return f"subject_access:{request.pk}"


def window() -> timedelta:
    return timedelta(hours=settings.ARCHIVE_SUBJECT_ACCESS_HOURS)


def object_key(request_id: int, fmt: str) -> str:
    return f"{PREFIX}/{request_id}/{access_bundle.FILES[fmt][0]}"


def _listed(values) -> list[str]:
    if isinstance(values, str):
        values = values.replace(",", "\n").splitlines()
    return sorted({str(v).strip() for v in values or [] if str(v).strip()})


def _hashed_subjects(subjects) -> tuple[list[str], list[str]]:
    """(key names, key hashes) of KEY=VALUE pairs; the values go no further than this function."""
    configured = rules()
    names, hashes = set(), set()
    for pair in _listed(subjects.splitlines() if isinstance(subjects, str) else subjects):
        try:
            hashes.add(subject_keys.parse_pair(pair, configured))
        except subject_keys.SubjectKeyError as exc:
            raise AccessRefused(str(exc)) from None
        names.add(pair.partition("=")[0].strip())
    return sorted(names), sorted(hashes)


# --- filing ---------------------------------------------------------------------------------------
def access_request(*, actor: Actor, subjects=(), job_ids=(), reason: str, basis: str = "GDPR art. 15",
                   submit: bool = True) -> SubjectAccessRequest:
    """A new request; with `submit` its bundle is built on the warehouse worker once this commits
    (refused at once when no worker serves the queue). The CLI builds it itself (`access_build`)."""
    require_permission(actor, "erasure.add_subjectaccessrequest")
    if actor.user is None:
        raise AccessRefused("a subject access request needs a portal user who answers for it (--by USERNAME)")
    if not (basis or "").strip():
        raise AccessRefused("give the legal basis (e.g. GDPR art. 15)")
    if not (reason or "").strip():
        raise AccessRefused("say why: a request needs a reason (the data subject's request, its reference)")
    names, key_hashes = _hashed_subjects(subjects)
    ids = _listed(job_ids)
    if not key_hashes and not ids:
        raise AccessRefused("name whose records to return: at least one subject KEY=VALUE or job id")
    if len(key_hashes) + len(ids) > MAX_IDENTIFIERS:
        raise AccessRefused(f"at most {MAX_IDENTIFIERS} identifiers in one request; split it")
    if too_long := [j for j in ids if len(j) > 128]:
        raise AccessRefused(f"a job id has at most 128 characters ({len(too_long)} longer)")
    if submit:
        from apps.warehouse import dispatch

        dispatch.require_worker()
    with transaction.atomic():
        request = SubjectAccessRequest.objects.create(
            key_names=names, key_hashes=key_hashes, job_id_hashes=sorted({job_hash(j) for j in ids}), job_ids=ids,
            legal_basis=basis.strip()[:200], reason=reason.strip(), requested_by=actor.user,
            expires_at=timezone.now() + window())
        audit_record(actor=actor, action="subject_access.requested", target=_target(request),
                     details={"reference": request.reference, "subject_keys": key_hashes, "key_names": names,
                              "job_id_hashes": request.job_id_hashes, "legal_basis": request.legal_basis})
        if submit:
            access_dispatch(request)
    return request


def access_dispatch(request: SubjectAccessRequest) -> None:
    from apps.erasure.tasks import subject_access_build
    from apps.warehouse import dispatch

    dispatch.submit(subject_access_build, request_id=request.pk)


def access_retry(*, request: SubjectAccessRequest, actor: Actor) -> SubjectAccessRequest:
    """A failed build runs again (pages: on the worker)."""
    require_permission(actor, "erasure.add_subjectaccessrequest")
    from apps.warehouse import dispatch

    dispatch.require_worker()
    with transaction.atomic():
        request = SubjectAccessRequest.objects.select_for_update().get(pk=request.pk)
        if request.state != AccessState.FAILED:
            raise AccessRefused(f"{request.reference} is {request.get_state_display().lower()}, not failed")
        audit_record(actor=actor, action="subject_access.retried", target=_target(request),
                     details={"reference": request.reference})
        access_dispatch(request)
    return request


# --- building (warehouse worker) ---------------------------------------------------------------------
def _records(request: SubjectAccessRequest) -> access_bundle.Bundle:
    """Every archived record of the person, once each, from whichever tier holds it."""
    from apps.erasure.survey import narrowed
    from apps.places.subject import Subject
    from apps.warehouse import client as ch

    subject = narrowed(Subject(key_hashes=tuple(request.key_hashes), job_ids=tuple(request.job_ids)))
    where, params = subject.sql("a_")
    result = ch.query(f"SELECT * FROM {{db}}.jobs_all WHERE {where} ORDER BY enqueue_time, job_id, retries",
                      tag="subject_access", parameters=params)
    return access_bundle.from_rows(result.column_names, result.result_rows)


def _scrubbed(text: str, request: SubjectAccessRequest) -> str:
    for job_id in request.job_ids:
        text = text.replace(job_id, "[job id]")
    return text


def access_build(*, request_id: int) -> dict:
    """Build the request's bundle where the warehouse lives; returns the request as plain data.

    Runs under the retention runs' lock, which erasures hold too: a bundle is either built before
    an erasure of the person starts (and then deleted by it, as a copy), or after it ends (and
    then holds nothing it erased). The copy is recorded (committed) before its objects are
    written, so no object of a bundle is ever unknown to the copies place, even after a crash."""
    from apps.erasure.access_selectors import access_as_dict
    from apps.retention.locks import one_run_at_a_time

    worker = Actor.system("worker")
    with one_run_at_a_time():
        with transaction.atomic():
            request = SubjectAccessRequest.objects.select_for_update().get(pk=request_id)
            if request.state not in _BUILDABLE:
                return access_as_dict(request)
            request.state, request.error, request.attempts = AccessState.BUILDING, "", request.attempts + 1
            request.save(update_fields=["state", "error", "attempts"])
        try:
            return access_as_dict(_build(request, worker))
        except Exception as exc:
            logger.exception("subject access %s failed", request.reference)
            with transaction.atomic():
                request = SubjectAccessRequest.objects.select_for_update().get(pk=request_id)
                request.state = AccessState.FAILED
                request.error = _scrubbed(f"{type(exc).__name__}: {exc}", request)[:2000]
                request.save(update_fields=["state", "error"])
                audit_record(actor=worker, action="subject_access.failed", target=_target(request),
                             details={"reference": request.reference, "error": type(exc).__name__,
                                      "attempt": request.attempts})
            return access_as_dict(request)


def _build(request: SubjectAccessRequest, actor: Actor) -> SubjectAccessRequest:
    from apps.lake import s3

    bundle = _records(request)
    files = {fmt: bundle.file(fmt) for fmt in access_bundle.FILES}
    key_hashes = {*request.key_hashes, *(h for r in bundle.records for h in r.get("subject_keys") or ())}
    job_hashes = {*request.job_id_hashes, *(job_hash(r["job_id"]) for r in bundle.records)}
    expires_at = timezone.now() + window()
    with transaction.atomic():
        copy = request.bundle
        if copy is None or copy.deleted_at is not None:  # an erasure deleted an earlier attempt's copy
            copy = StoredCopy(kind=KIND, bucket=settings.S3_BUCKET)
        copy.keys = [object_key(request.pk, fmt) for fmt in files]
        copy.key_hashes, copy.job_id_hashes = sorted(key_hashes), sorted(job_hashes)
        copy.records, copy.expires_at = len(bundle.records), expires_at
        copy.save()
        request.bundle = copy
        request.save(update_fields=["bundle"])
    faults.checkpoint("subject_access_copy")
    client = s3.client()
    for fmt, body in files.items():
        client.put_object(Bucket=copy.bucket, Key=object_key(request.pk, fmt), Body=body,
                          ContentType=access_bundle.FILES[fmt][1])
    faults.checkpoint("subject_access_uploaded")
    with transaction.atomic():
        request = SubjectAccessRequest.objects.select_for_update().get(pk=request.pk)
        request.state, request.ready_at, request.expires_at = AccessState.READY, timezone.now(), expires_at
        request.records = len(bundle.records)
        request.counts = {"records": len(bundle.records), "objects": len(files),
                          "bytes": {fmt: len(body) for fmt, body in files.items()},
                          "subject_keys_in_records": len(key_hashes), "job_ids_in_records": len(job_hashes)}
        request.job_ids = []  # found by them; from here on only their hashes are kept
        request.save(update_fields=["state", "ready_at", "expires_at", "records", "counts", "job_ids"])
        audit_record(actor=actor, action="subject_access.built", target=_target(request),
                     details={"reference": request.reference, "copy": copy.pk, "records": len(bundle.records),
                              "objects": len(files), "bytes": request.counts["bytes"],
                              "expires_at": expires_at.isoformat()})
    return request


# --- downloading ------------------------------------------------------------------------------------
def access_download(*, request: SubjectAccessRequest, actor: Actor, fmt: str = "json",
                    presigned: bool = False) -> Download:
    """The bundle's file in `fmt` (json or csv), for the officer who filed the request, before it expires."""
    from apps.lake import s3

    require_permission(actor, "erasure.view_subjectaccessrequest")
    if fmt not in access_bundle.FILES:
        raise AccessRefused(f"no {fmt!r} file; a bundle has {', '.join(access_bundle.FILES)}")
    with transaction.atomic():
        request = SubjectAccessRequest.objects.select_for_update(of=("self",)).select_related("bundle").get(pk=request.pk)
        if actor.user_id is None or actor.user_id != request.requested_by_id:
            raise AccessRefused(f"only {request.requested_by.get_username()}, who filed {request.reference}, "
                                "may download its bundle")
        now = timezone.now()
        if request.state not in ACCESS_DOWNLOADABLE:
            raise AccessRefused(f"{request.reference} is {request.get_state_display().lower()}: "
                                "there is no bundle to download")
        if request.expires_at <= now:
            raise AccessRefused(f"{request.reference}'s bundle expired at {request.expires_at:%Y-%m-%d %H:%M} UTC")
        copy = request.bundle
        if copy is None or copy.deleted_at is not None:
            raise AccessRefused(f"{request.reference}'s bundle was deleted ({copy.deleted_why if copy else 'none'})")
        key = object_key(request.pk, fmt)
        filename = f"{request.reference}-{access_bundle.FILES[fmt][0]}"
        client = s3.client()
        if presigned:
            seconds = max(1, min(300, int((request.expires_at - now).total_seconds())))
            url = client.generate_presigned_url(
                "get_object", ExpiresIn=seconds,
                Params={"Bucket": copy.bucket, "Key": key,
                        "ResponseContentDisposition": f'attachment; filename="{filename}"'})
            download = Download(filename, access_bundle.FILES[fmt][1], url=url, url_seconds=seconds)
        else:
            body = client.get_object(Bucket=copy.bucket, Key=key)["Body"].read()
            download = Download(filename, access_bundle.FILES[fmt][1], body=body)
        first = request.downloaded_at is None
        request.state = AccessState.DOWNLOADED
        request.downloaded_at = request.downloaded_at or now
        request.save(update_fields=["state", "downloaded_at"])
        audit_record(actor=actor, action="subject_access.downloaded", target=_target(request),
                     details={"reference": request.reference, "format": fmt, "records": request.records,
                              "bytes": len(download.body) if download.body is not None else None,
                              "presigned": presigned, "first": first})
    return download


# --- expiry (beat) ------------------------------------------------------------------------------------
def access_expire_due(*, actor: Actor | None = None, now: datetime | None = None) -> dict:
    """Expire every request past its time: its bundle deleted (every version of every object, the
    copy marked deleted), its raw job ids cleared. A build in flight sets a new expiry when done."""
    from apps.places import copies

    actor = actor or Actor.system("beat")
    now = now or timezone.now()
    due = (SubjectAccessRequest.objects.filter(expires_at__lte=now)
           .exclude(state__in=(AccessState.EXPIRED, AccessState.BUILDING)).values_list("pk", flat=True))
    expired, versions = [], 0
    for pk in list(due):
        with transaction.atomic():
            request = SubjectAccessRequest.objects.select_for_update(skip_locked=True).filter(pk=pk).first()
            if request is None or request.state in (AccessState.EXPIRED, AccessState.BUILDING):
                continue
            removed = {"copies": 0, "object_versions_deleted": 0}
            if request.bundle_id and request.bundle.deleted_at is None:
                removed = copies.remove(copies.Found(copy_ids=[request.bundle_id], records=request.records or 0),
                                        why="expired")
            request.state, request.expired_at, request.job_ids = AccessState.EXPIRED, now, []
            request.save(update_fields=["state", "expired_at", "job_ids"])
            audit_record(actor=actor, action="subject_access.expired", target=_target(request),
                         details={"reference": request.reference, "copy": request.bundle_id,
                                  "object_versions_deleted": removed["object_versions_deleted"]})
        expired.append(request.reference)
        versions += removed["object_versions_deleted"]
    return {"expired": expired, "object_versions_deleted": versions}
