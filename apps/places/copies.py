"""Place: copies of archived records the portal keeps in S3 (`StoredCopy`: subject-access bundles, query results).

A bundle notes the subject key hashes and job id hashes of the records it holds, so an erasure
finds every copy holding a subject's records and deletes it whole (all its objects, every
version). A query result cannot always say whose records it holds (an aggregate, an expression
over a payload), so an erasure deletes every stored query result; its run stays in the history,
and running it again gives the answer without the erased records. Copies expire on their own (a bundle after its download window), well before any
retention period, so a purge by age leaves them to that expiry.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Q
from django.utils import timezone

NAME = "copies"
QUERY_RESULT = "query_result"  # apps.explorer.results.KIND


@dataclass
class Found:
    copy_ids: list[int] = field(default_factory=list)
    records: int = 0

    def summary(self) -> dict:
        return {"copies": len(self.copy_ids), "records": self.records}


def _matching(subject):
    from apps.compliance.models import StoredCopy
    from apps.erasure.tombstones import job_hash

    wanted = Q(pk__in=[])
    if getattr(subject, "identifies_someone", False):  # a person, not a purge by age
        wanted |= Q(kind=QUERY_RESULT)
    if getattr(subject, "key_hashes", ()):
        wanted |= Q(key_hashes__overlap=list(subject.key_hashes))
    if getattr(subject, "job_ids", ()):
        wanted |= Q(job_id_hashes__overlap=[job_hash(j) for j in subject.job_ids])
    return StoredCopy.objects.filter(wanted, deleted_at__isnull=True)


def preview(selections) -> Found:
    """Copies holding records of a subject (erasure, subject access); none for a purge by age."""
    found = Found()
    for selection in selections:
        for copy_id, records in _matching(selection).values_list("id", "records"):
            if copy_id not in found.copy_ids:
                found.copy_ids.append(copy_id)
                found.records += records
    return found


def remove(found: Found, *, why: str = "erasure") -> dict:
    from apps.compliance.models import StoredCopy
    from apps.lake import s3

    client = s3.client()
    versions = 0
    copies = list(StoredCopy.objects.filter(pk__in=found.copy_ids))
    for copy in copies:
        for key in copy.keys:
            versions += s3.delete_every_version(client, copy.bucket, key)
        StoredCopy.objects.filter(pk=copy.pk, deleted_at__isnull=True).update(deleted_at=timezone.now(),
                                                                                deleted_why=why)
    return {"copies": len(copies), "records": found.records, "object_versions_deleted": versions}
