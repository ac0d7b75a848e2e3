"""Reading subject access requests: the list, one as plain data, whether its bundle can be downloaded."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from apps.erasure.models import ACCESS_DOWNLOADABLE, SubjectAccessRequest


def access_requests_listed(*, state: str | None = None) -> QuerySet[SubjectAccessRequest]:
    found = SubjectAccessRequest.objects.select_related("requested_by", "bundle")
    return found.filter(state=state) if state else found


def bundle_available(request: SubjectAccessRequest, now: datetime | None = None) -> bool:
    """Built, not expired, not deleted (by an erasure of the person, say)."""
    now = now or timezone.now()
    copy = request.bundle
    return (request.state in ACCESS_DOWNLOADABLE and request.expires_at > now and copy is not None
            and copy.deleted_at is None)


def may_download(request: SubjectAccessRequest, user, now: datetime | None = None) -> bool:
    """What the detail page offers: only the officer who filed it, while the bundle is there."""
    return (user.is_authenticated and user.pk == request.requested_by_id
            and user.has_perm("erasure.view_subjectaccessrequest") and bundle_available(request, now))


def names_label(request: SubjectAccessRequest) -> str:
    """For people: which identifiers the request gave (key names and counts, never values)."""
    parts = []
    if request.key_hashes:
        parts.append(f"{len(request.key_hashes)} subject key{'s' if len(request.key_hashes) != 1 else ''}"
                     + (f" ({', '.join(request.key_names)})" if request.key_names else ""))
    if request.job_id_hashes:
        parts.append(f"{len(request.job_id_hashes)} job id{'s' if len(request.job_id_hashes) != 1 else ''}")
    return ", ".join(parts) or "nobody"


def access_as_dict(request: SubjectAccessRequest) -> dict:
    copy = request.bundle
    return {
        "id": request.pk, "reference": request.reference, "state": request.state, "error": request.error,
        "requested_by": request.requested_by.get_username(), "legal_basis": request.legal_basis,
        "names": names_label(request), "subject_keys": request.key_hashes, "job_id_hashes": request.job_id_hashes,
        "records": request.records, "counts": request.counts, "attempts": request.attempts,
        "bundle": ({"copy": copy.pk, "bucket": copy.bucket, "keys": copy.keys,
                    "deleted_at": copy.deleted_at.isoformat() if copy.deleted_at else None,
                    "deleted_why": copy.deleted_why} if copy else None),
        "available": bundle_available(request),
        "created_at": request.created_at.isoformat(),
        "ready_at": request.ready_at.isoformat() if request.ready_at else None,
        "downloaded_at": request.downloaded_at.isoformat() if request.downloaded_at else None,
        "expires_at": request.expires_at.isoformat(),
        "expired_at": request.expired_at.isoformat() if request.expired_at else None,
    }
