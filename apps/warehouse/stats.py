"""What the archive holds: records, bytes, oldest and newest record per tier and per queue, and what
the columnar formats save against the same records as JSON lines. Computed on the warehouse worker.

- **Records** are counted in each tier: the warm table, and the Iceberg table, which keeps every
  record until it is purged (so the warm days are in both).
- **Stored bytes** are what each tier occupies: the warm table's active parts (compressed, on
  disk), the Iceberg table's current data and delete files (the snapshot summary). A queue's share
  of a tier's bytes is estimated in proportion to its records (`stored_bytes_estimate`).
- **Raw JSON** is the size the same records would take as JSON lines (one object per record, every
  column), measured on a sample of `SAMPLE` records of the tier and scaled to its record count;
  `compression_ratio` is raw over stored, `bytes_saved` raw minus stored.
- **Storage** is how full the warehouse's disks are (`system.disks`), for the storage alert; the
  lake's S3 has no capacity to be full of.
"""

from __future__ import annotations

from datetime import datetime, timezone

from apps.warehouse import client as ch

SAMPLE = 2000
TIERS = {"warm": "jobs_archive", "cold": "jobs_cold"}


def _iso(value) -> str | None:
    if value is None or getattr(value, "year", 1970) <= 1970:  # min() over no rows reads as the epoch
        return None
    return value.replace(tzinfo=timezone.utc).isoformat() if value.tzinfo is None else value.isoformat()


def _stored_bytes(tier: str) -> int:
    if tier == "warm":
        result = ch.query("SELECT sum(bytes_on_disk) FROM system.parts WHERE database = {d:String} "
                          "AND table = 'jobs_archive' AND active", tag="stats", parameters={"d": ch.database()})
        return int(result.result_rows[0][0] or 0)
    from apps.lake import table as lake_table

    snapshot = lake_table.load_table().current_snapshot()
    summary = snapshot.summary if snapshot is not None else None
    if summary is None:
        return 0
    return int(summary.get("total-files-size") or 0)


def _json_bytes_per_record(table: str) -> float:
    """The mean size of a record of `table` as a JSON line, over a sample of its records."""
    result = ch.query(f"SELECT avg(length(formatRow('JSONEachRow', *))), count() FROM "
                      f"(SELECT * FROM {{db}}.{table} LIMIT {SAMPLE})", tag="stats")
    mean, sampled = result.result_rows[0]
    return float(mean) if sampled else 0.0


def _warehouse_disks() -> dict:
    """Free and total bytes of the disks the warehouse stores its parts on (for the storage alert)."""
    free, total = ch.query("SELECT sum(free_space), sum(total_space) FROM system.disks", tag="stats").result_rows[0]
    return {"free_bytes": int(free or 0), "total_bytes": int(total or 0)}


def archive_stats(queue: str | None = None) -> dict:
    """The figures, for every queue or one; see the module's docstring for what each means."""
    where = "WHERE ifNull(queue, '') = {q:String}" if queue else ""
    params = {"q": queue} if queue else None
    tiers, per_queue = {}, {}
    for tier, table in TIERS.items():
        rows = ch.query(f"SELECT toString(ifNull(queue, '')) AS q, count(), min(enqueue_time), max(enqueue_time) "
                        f"FROM {{db}}.{table} {where} GROUP BY q ORDER BY q", tag="stats",
                        parameters=params).result_rows
        records = sum(int(r[1]) for r in rows)
        total_records = records if not queue else int(
            ch.query(f"SELECT count() FROM {{db}}.{table}", tag="stats").result_rows[0][0])
        stored = _stored_bytes(tier)
        per_record = _json_bytes_per_record(table) if total_records else 0.0
        share = records / total_records if total_records else 0.0
        raw = round(per_record * records)
        stored_here = round(stored * share)
        tiers[tier] = {
            "records": records,
            "stored_bytes": stored_here,
            "raw_json_bytes": raw,
            "compression_ratio": round(raw / stored_here, 2) if stored_here else None,
            "bytes_saved": raw - stored_here,
            "oldest": _iso(min((r[2] for r in rows), default=None)),
            "newest": _iso(max((r[3] for r in rows), default=None)),
        }
        for name, count, oldest, newest in rows:
            per_queue.setdefault(name, {"queue": name})[tier] = {
                "records": int(count), "oldest": _iso(oldest), "newest": _iso(newest),
                "stored_bytes_estimate": round(stored * int(count) / total_records) if total_records else 0}
    empty = {"records": 0, "oldest": None, "newest": None, "stored_bytes_estimate": 0}
    queues = [{"queue": q["queue"], **{t: q.get(t, empty) for t in TIERS}} for q in
              sorted(per_queue.values(), key=lambda q: q["queue"])]
    return {"computed_at": datetime.now(timezone.utc).isoformat(), "queue": queue, "tiers": tiers,
            "queues": queues, "json_sample_records": SAMPLE, "storage": {"warehouse": _warehouse_disks()}}
