"""Cold-tier upkeep: predicate deletes, compaction of small files, snapshot expiry and orphan-file removal.

Every change is one Iceberg commit, so a reader (ClickHouse `jobs_cold`, `jobs_all`) sees the
table before or after it, never half. A commit that loses a race with an exporter's append is
retried from a fresh table state.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from urllib.parse import urlparse

from pyiceberg.expressions import AlwaysTrue, And, BooleanExpression, GreaterThanOrEqual, LessThan
from pyiceberg.io.pyarrow import _dataframe_to_data_files
from pyiceberg.table import Table

from apps.core import faults
from apps.lake import s3
from apps.lake.table import load_table, with_commit_retries
from apps.records.schema import TIME_PARTITION_COLUMN

logger = logging.getLogger(__name__)


def micros(moment: datetime) -> int:
    return int(moment.replace(tzinfo=moment.tzinfo or timezone.utc).timestamp() * 1_000_000)


def day_filter(day: date) -> BooleanExpression:
    start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    return And(GreaterThanOrEqual(TIME_PARTITION_COLUMN, micros(start)),
               LessThan(TIME_PARTITION_COLUMN, micros(start + timedelta(days=1))))


def before_filter(moment: datetime) -> BooleanExpression:
    return LessThan(TIME_PARTITION_COLUMN, micros(moment))


def delete_where(expression: BooleanExpression) -> None:
    """Copy-on-write delete: files with matching rows are rewritten without them, in one commit."""
    with_commit_retries(lambda table: table.delete(expression), "delete")


@dataclass
class FileStats:
    files: int
    bytes: int
    records: int


def files_matching(expression: BooleanExpression) -> FileStats:
    """Data files that may hold matching rows (the ones a delete would rewrite)."""
    tasks = list(load_table().scan(row_filter=expression).plan_files())
    return FileStats(files=len(tasks), bytes=sum(t.file.file_size_in_bytes for t in tasks),
                     records=sum(t.file.record_count for t in tasks))


def day_files(table: Table) -> dict[date, int]:
    """Data files per partition day in the current snapshot."""
    counts: dict[date, int] = {}
    for task in table.scan().plan_files():
        day = date(1970, 1, 1) + timedelta(days=task.file.partition[0])
        counts[day] = counts.get(day, 0) + 1
    return counts


@dataclass
class Compacted:
    day: str
    files_before: int
    files_after: int
    records: int


def compact_day(day: date) -> Compacted | None:
    """Rewrite one day's files as one sorted file (or a few), in one commit that swaps exactly those files.

    The files are read from one pinned snapshot and only those files are replaced, so an append
    that lands meanwhile is kept as it is; the swap either happens whole or not at all.
    """

    def action(table: Table) -> Compacted | None:
        snapshot = table.current_snapshot()
        if snapshot is None:
            return None
        scan = table.scan(row_filter=day_filter(day), snapshot_id=snapshot.snapshot_id)
        tasks = list(scan.plan_files())
        if len(tasks) < 2:
            return None
        data = scan.to_arrow()
        data = data.sort_by([("queue", "ascending"), (TIME_PARTITION_COLUMN, "ascending")])
        new_files = list(_dataframe_to_data_files(table.metadata, data, table.io, write_uuid=uuid.uuid4()))
        faults.checkpoint("compaction_written")  # new files on S3, not yet committed: orphans if we die here
        with table.transaction() as tx, tx.update_snapshot(
            snapshot_properties={"archive.operation": "compaction", "archive.day": day.isoformat()}
        ).overwrite() as rewrite:
            for task in tasks:
                rewrite.delete_data_file(task.file)
            for data_file in new_files:
                rewrite.append_data_file(data_file)
        return Compacted(day.isoformat(), len(tasks), len(new_files), data.num_rows)

    return with_commit_retries(action, f"compaction of {day}")


def expire_snapshots(older_than: datetime) -> int:
    """Drop snapshots older than this (never the current one); returns how many went."""
    cutoff_ms = int(older_than.timestamp() * 1000)
    return _expire_older_than(lambda table: cutoff_ms, "snapshot expiry")


def _expire_older_than(cutoff_ms, what: str) -> int:
    """Expire the snapshots older than `cutoff_ms(table)` (None: none), never the current one."""

    def action(table: Table) -> int:
        cutoff = cutoff_ms(table)
        current = table.current_snapshot()
        old = [s.snapshot_id for s in table.snapshots() if cutoff is not None and s.timestamp_ms < cutoff
               and (current is None or s.snapshot_id != current.snapshot_id)]
        if old:
            table.maintenance.expire_snapshots().by_ids(old).commit()
        return len(old)

    return with_commit_retries(action, what)


def _referenced(table: Table) -> set[str]:
    """Every object the table's metadata still points at: data, manifests, manifest lists, metadata."""
    keep = {table.metadata_location}
    keep.update(entry.metadata_file for entry in table.metadata.metadata_log)
    for snapshot in table.snapshots():
        keep.add(snapshot.manifest_list)
        for manifest in snapshot.manifests(table.io):
            keep.add(manifest.manifest_path)
            # Entries marked deleted name files this snapshot removed; older snapshots that still
            # read them list them as live in their own manifests.
            keep.update(e.data_file.file_path for e in manifest.fetch_manifest_entry(table.io, discard_deleted=True))
    return keep


def remove_orphans(min_age: timedelta) -> dict:
    """Delete objects under the table's location that no snapshot references and that are older than min_age."""
    table = load_table()
    keep = {urlparse(path).path.lstrip("/") for path in _referenced(table)}
    location = urlparse(table.location())
    bucket, prefix = location.netloc, location.path.lstrip("/").rstrip("/") + "/"
    client = s3.client()
    cutoff = datetime.now(timezone.utc) - min_age
    doomed, doomed_bytes = [], 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            key = obj["Key"]
            if key not in keep and obj["LastModified"] <= cutoff:
                doomed.append(key)
                doomed_bytes += obj["Size"]
    for start in range(0, len(doomed), 1000):
        client.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in doomed[start:start + 1000]],
                                                     "Quiet": True})
    return {"orphan_files_deleted": len(doomed), "orphan_bytes_deleted": doomed_bytes}


def table_size() -> dict:
    """Files and bytes in the current snapshot."""
    stats = files_matching(AlwaysTrue())
    return {"files": stats.files, "bytes": stats.bytes}



# --- erasure: rewrite the files holding some records, then leave no copy of the old files -------------
ERASURE_PROPERTY = "archive.erasure"


def data_files(expression: BooleanExpression) -> list[str]:
    """Paths of the current snapshot's data files that may hold rows matching (pruned by partition)."""
    return sorted(t.file.file_path for t in load_table().scan(row_filter=expression).plan_files())


def erase_where(expression: BooleanExpression, reference: str) -> None:
    """Copy-on-write delete marked with the erasure's reference (its snapshot is found again by it)."""
    with_commit_retries(lambda table: table.delete(expression, snapshot_properties={ERASURE_PROPERTY: reference}),
                        "erasure")


def _erasure_ms(table: Table, reference: str, *, last: bool = False) -> int | None:
    marked = [s.timestamp_ms for s in table.snapshots()
              if s.summary and s.summary.additional_properties.get(ERASURE_PROPERTY) == reference]
    if not marked:
        return None
    return max(marked) if last else min(marked)


def snapshots_before_erasure(reference: str) -> list[int]:
    """Ids of the snapshots older than the erasure's last one (they may read the old files); never the current.

    One delete can commit several snapshots (pyiceberg drops whole files in a DELETE snapshot and
    rewrites the others in an OVERWRITE one), each marked with the reference; all but the last
    still reference files holding the subject's rows, so the cutoff is the last of them."""
    table = load_table()
    cutoff, current = _erasure_ms(table, reference, last=True), table.current_snapshot()
    if cutoff is None:
        return []
    return [s.snapshot_id for s in table.snapshots()
            if s.timestamp_ms < cutoff and (current is None or s.snapshot_id != current.snapshot_id)]


def expire_snapshots_by_id(ids: list[int]) -> int:
    """Expire those of these snapshots the table still has (never the current); returns how many went now."""

    def action(table: Table) -> int:
        current = table.current_snapshot()
        present = {s.snapshot_id for s in table.snapshots()} - ({current.snapshot_id} if current else set())
        left = [i for i in ids if i in present]
        if left:
            table.maintenance.expire_snapshots().by_ids(left).commit()
        return len(left)

    return with_commit_retries(action, "snapshot expiry after an erasure")


def erasure_snapshot_ms(reference: str) -> int | None:
    """When the erasure's delete was committed (None: it matched nothing, or has not run)."""
    return _erasure_ms(load_table(), reference)


def files_only_in(snapshot_ids: list[int]) -> list[str]:
    """Data files that only these snapshots read, no other snapshot of the table: what expiring them
    leaves behind (older generations a compaction or an earlier delete replaced, say)."""
    table = load_table()
    doomed = set(snapshot_ids)

    def live(snapshots) -> set[str]:
        files: set[str] = set()
        seen: set[str] = set()
        for snapshot in snapshots:
            for manifest in snapshot.manifests(table.io):
                if manifest.manifest_path not in seen:
                    seen.add(manifest.manifest_path)
                    files.update(e.data_file.file_path
                                 for e in manifest.fetch_manifest_entry(table.io, discard_deleted=True))
        return files

    snapshots = table.snapshots()
    return sorted(live([s for s in snapshots if s.snapshot_id in doomed])
                  - live([s for s in snapshots if s.snapshot_id not in doomed]))


def unreferenced(paths: list[str], *, older: list[str] = (), metadata_before_ms: int | None) -> dict:
    """What an erasure removes after the expiry (`remove_objects` does it), every version: the data
    files its delete replaced (`paths`) and the `older` ones only the expired snapshots read, unless a
    snapshot of the table still references one; and the manifests and manifest lists that no snapshot
    references any more and that were written before the erasure's commit (they listed the old files;
    a later unreferenced one may belong to a commit in flight, so it is left to orphan removal).
    Versions are counted now, so the plan says what went however often it runs."""
    table = load_table()
    keep = {urlparse(path).path.lstrip("/") for path in _referenced(table)}
    location = urlparse(table.location())
    bucket, prefix = location.netloc, location.path.lstrip("/").rstrip("/") + "/"
    versions = s3.versions_under(s3.client(), bucket, prefix)
    wanted = [urlparse(p).path.lstrip("/") for p in paths]
    data = [k for k in wanted if k not in keep]
    earlier = sorted({urlparse(p).path.lstrip("/") for p in older} - keep - set(data))
    stale_metadata = sorted(
        key for key, listed in versions.items()
        if metadata_before_ms is not None and key.startswith(prefix + "metadata/") and key.endswith(".avro")
        and key not in keep and max(v["LastModified"] for v in listed).timestamp() * 1000 < metadata_before_ms)
    keys = data + earlier + stale_metadata
    return {"bucket": bucket, "prefix": prefix, "keys": keys, "files": sum(1 for k in data if k in versions),
            "older_files": sum(1 for k in earlier if k in versions),
            "versions": sum(len(versions.get(k, ())) for k in keys), "still_referenced": len(wanted) - len(data),
            "metadata": len(stale_metadata)}


def remove_objects(planned: dict) -> int:
    """Delete every version of the objects `unreferenced` planned; returns how many versions went now."""
    client = s3.client()
    wanted = set(planned["keys"])
    listed = s3.versions_under(client, planned["bucket"], planned["prefix"])
    doomed = [(key, v["VersionId"]) for key, versions in listed.items() if key in wanted for v in versions]
    return s3.delete_versions(client, planned["bucket"], doomed)
