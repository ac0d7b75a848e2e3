"""Tombstones: the keyed hashes of erased subject keys and job ids, so erased people stay erased.

The exporter asks `erased_rows` for every batch: records carrying a tombstoned subject key or job
id (entries still in the stream, re-queued dead letters, replays, later jobs of the same person)
are dropped and counted on the request that erased them (`LateRecord`), unless a legal hold keeps
them. Rehydration and restores skip them the same way. The tombstones are read whole and kept in
memory; one tiny query per call tells whether they changed, so a new one counts at once.
"""

from __future__ import annotations

import threading

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from django.db import transaction
from django.db.models import Count, Max

from apps.compliance import subject_keys
from apps.erasure.models import LateRecord, Tombstone, TombstoneKind

_lock = threading.Lock()
_loaded: dict = {"version": None, "keys": {}, "jobs": {}}


def _current() -> tuple[dict[str, int], dict[str, int]]:
    """(subject key hash -> request id, job id hash -> request id), reloaded when they changed."""
    version = tuple(Tombstone.objects.aggregate(n=Count("id"), last=Max("id")).values())
    with _lock:
        if version != _loaded["version"]:
            keys, jobs = {}, {}
            for kind, value, request_id in Tombstone.objects.values_list("kind", "value_hash", "request_id"):
                (keys if kind == TombstoneKind.SUBJECT_KEY else jobs)[value] = request_id
            _loaded.update(version=version, keys=keys, jobs=jobs)
        return _loaded["keys"], _loaded["jobs"]


def job_hash(job_id: str) -> str:
    return subject_keys.key_hash("job_ids", job_id)


def erased_rows(table: pa.Table) -> dict[int, int]:
    """Rows of a record table (position -> the erasing request) that carry a tombstoned identifier."""
    keys, jobs = _current()
    if not keys and not jobs or table.num_rows == 0:
        return {}
    hits: dict[int, int] = {}
    if keys and "subject_keys" in table.column_names:
        column = table["subject_keys"].combine_chunks()
        flat = pc.list_flatten(column)
        if len(flat):
            found = pc.is_in(flat, value_set=pa.array(list(keys), pa.string())).to_numpy(zero_copy_only=False)
            if found.any():
                parents = pc.list_parent_indices(column).to_numpy(zero_copy_only=False)
                values = flat.to_pylist()
                for index in np.flatnonzero(found).tolist():
                    hits.setdefault(int(parents[index]), keys[values[index]])
    if jobs:
        for row, job_id in enumerate(table["job_id"].to_pylist()):
            request = jobs.get(job_hash(job_id))
            if request is not None:
                hits.setdefault(row, request)
    return hits


def count_late(hits: list[tuple[int, str]]) -> None:
    """Record the dropped records (request id, stream id) on their requests; repeats are ignored."""
    if hits:
        with transaction.atomic():
            LateRecord.objects.bulk_create([LateRecord(request_id=r, stream_id=s) for r, s in hits],
                                           ignore_conflicts=True)


def remember(request, *, key_hashes, job_ids) -> int:
    """Tombstones for a request's identifiers (idempotent); returns how many are new."""
    rows = [Tombstone(kind=TombstoneKind.SUBJECT_KEY, value_hash=h, request=request) for h in key_hashes]
    rows += [Tombstone(kind=TombstoneKind.JOB_ID, value_hash=job_hash(j), request=request) for j in job_ids]
    before = Tombstone.objects.filter(request=request).count()
    Tombstone.objects.bulk_create(rows, ignore_conflicts=True)
    return Tombstone.objects.filter(request=request).count() - before


def erased_in_table(table: str) -> tuple[list[str], list[str]]:
    """(stream ids, days) of the rows of a ClickHouse record table that carry a tombstoned identifier
    (a rehydrated copy of cold days, say), so they can be removed before anyone reads them."""
    from apps.warehouse import client as ch

    keys, jobs = _current()
    found: set[tuple[str, str]] = set()
    name = ch.identifier(table)
    if keys:
        rows = ch.query(f"SELECT stream_id, toString(toDate(enqueue_time)) FROM {{db}}.{name} "
                        "WHERE hasAny(subject_keys, {k:Array(String)})", tag="erasure",
                        parameters={"k": sorted(keys)}).result_rows
        found.update((sid, day) for sid, day in rows)
    if jobs:
        rows = ch.query(f"SELECT stream_id, toString(toDate(enqueue_time)), job_id FROM {{db}}.{name}",
                        tag="erasure").result_rows
        found.update((sid, day) for sid, day, job_id in rows if job_hash(job_id) in jobs)
    return sorted(sid for sid, _ in found), sorted({day for _, day in found})
