"""Verification of an erasure, independent of the code that erased: every place searched again by its own means.

Nothing here calls the places' removal or preview code, nor the erasure's plans: each place is
read whole (or, where that is the point, every copy of it) and searched for the subject's
identifiers with its own predicate, written out again here on purpose. Records a legal hold keeps
are reported as kept, not as found. A place is clean when nothing else of the subject is found.

- stream and dead letters: every entry, its payload's and tags' subject keys hashed again;
- warm and rehydrated tables: every row with `apply_deleted_mask = 0` (masked rows too), and no
  inactive or detached part left from before the erasure, and no mutation naming an identifier;
- cold: every Parquet object and every version under the table's location (which covers every
  retained snapshot's files and any orphan), read and searched; every other object (metadata)
  searched byte for byte for the raw identifiers;
- copies: every stored copy not deleted, and every object under their prefixes, byte for byte;
- subject index: its rows for the erased keys.
"""

from __future__ import annotations

import io
import json
import re
from datetime import datetime, timezone

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from django.utils import timezone as dj_timezone

from apps.compliance import subject_keys
from apps.compliance.subject_key_rules import rules
from apps.exports.models import DeadLetter
from apps.lake import s3
from apps.lake.table import load_table
from apps.stream import client as streams
from apps.warehouse import client as ch

_ALL_ROWS = {"apply_deleted_mask": 0}
MIN_NEEDLE = 12
_COLUMNS = ("stream_id", "job_id", "trace_id", "payload_hash", "tenant_id", "queue", "enqueue_time", "subject_keys")


class _Looking:
    """What the request names, as this module matches it."""

    def __init__(self, request, subject) -> None:
        self.keys = set(request.hashed["subject_keys"])
        self.job_ids, self.trace_ids = set(subject.job_ids), set(subject.trace_ids)
        self.payload_hashes = set(subject.payload_hashes)
        self.tenant, self.start, self.end = subject.tenant, subject.start, subject.end
        self.holds = subject.keep
        self.rules = rules()
        self.raw = sorted({*self.job_ids, *self.trace_ids})  # identifiers as typed, for byte searches
        # Byte searches (metadata, unknown objects) only for values long enough not to occur by
        # chance in other text (a job id "42" is in any JSON with a number): key hashes, UUIDs.
        self.needles = [v.encode() for v in self.raw + sorted(self.keys) if len(v) >= MIN_NEEDLE]

    def restricted(self, tenant: str, enqueue_us: int | None) -> bool:
        if self.tenant and tenant != self.tenant:
            return False
        if enqueue_us is not None:
            if self.start is not None and enqueue_us < int(self.start.timestamp() * 1_000_000):
                return False
            if self.end is not None and enqueue_us >= int(self.end.timestamp() * 1_000_000):
                return False
        return True

    def held(self, row) -> bool:
        return any(h.covers(row) for h in self.holds)

    def sql(self) -> tuple[str, dict]:
        parts, params = [], {}
        if self.keys:
            parts.append("hasAny(subject_keys, {vk:Array(String)})")
            params["vk"] = sorted(self.keys)
        for column, values, name in (("job_id", self.job_ids, "vj"), ("trace_id", self.trace_ids, "vt"),
                                     ("payload_hash", self.payload_hashes, "vp")):
            if values:
                parts.append(f"{column} IN {{{name}:Array(String)}}")
                params[name] = sorted(values)
        where = "(" + (" OR ".join(parts) or "0") + ")"
        if self.tenant:
            where += " AND tenant_id = {vten:String}"
            params["vten"] = self.tenant
        if self.start is not None:
            where += " AND enqueue_time >= {vs:DateTime64(6, 'UTC')}"
            params["vs"] = ch.utc_naive(self.start)
        if self.end is not None:
            where += " AND enqueue_time < {ve:DateTime64(6, 'UTC')}"
            params["ve"] = ch.utc_naive(self.end)
        return where, params


class _Row:
    """A found record as a hold matches it (the attributes `Held.covers` reads)."""

    def __init__(self, fields: dict, enqueue_us: int, key_hashes) -> None:
        self.fields, self.enqueue_us, self.key_hashes = fields, enqueue_us, frozenset(key_hashes)


def _result(found: int, kept: int, **more) -> dict:
    return {"clean": found == 0 and not more.get("problems"), "found": found, "kept_under_hold": kept, **more}


# --- raw entries -----------------------------------------------------------------------------------
def _entry_matches(looking: _Looking, fields: dict[str, str], fallback_ms: int) -> _Row | None:
    try:
        enqueue_us = int(fields.get("enqueue_time", "")) * 1000
    except ValueError:
        enqueue_us = fallback_ms * 1000
    try:
        tags = json.loads(fields.get("tags") or "{}")
    except ValueError:
        tags = {}
    keys = subject_keys.extract(looking.rules, payload=fields.get("payload"), tags=tags if isinstance(tags, dict) else {})
    payload = fields.get("payload")
    from hashlib import blake2b

    payload_hash = blake2b(payload.encode(), digest_size=16).hexdigest() if payload else ""
    named = (fields.get("job_id") in looking.job_ids or fields.get("trace_id") in looking.trace_ids
             or payload_hash in looking.payload_hashes or not looking.keys.isdisjoint(keys))
    if named and looking.restricted(fields.get("tenant_id", ""), enqueue_us):
        return _Row(fields, enqueue_us, keys)
    return None


def _text(raw: dict) -> dict[str, str]:
    return {(k.decode(errors="replace") if isinstance(k, bytes) else k):
            (v.decode(errors="replace") if isinstance(v, bytes) else v) for k, v in raw.items()}


def _search_stream(looking: _Looking, stream: str, *, original_ids: bool = False) -> tuple[int, int]:
    found = kept = 0
    r = streams.connection()
    for entry_id, raw in streams.scan_range(r, stream, "-", "+"):
        fields = _text(raw)
        when = (fields.get("original_id") if original_ids else None) or entry_id
        row = _entry_matches(looking, fields, int(when.split("-")[0]))
        if row is not None:
            kept, found = (kept + 1, found) if looking.held(row) else (kept, found + 1)
    return found, kept


def check_stream(looking: _Looking) -> dict:
    found, kept = _search_stream(looking, streams.StreamConfig.from_settings().stream)
    return _result(found, kept)


def check_dead_letters(looking: _Looking) -> dict:
    cfg = streams.StreamConfig.from_settings()
    found, kept = _search_stream(looking, cfg.dead_stream, original_ids=True)
    rows = 0
    for entry_id, fields in DeadLetter.objects.values_list("entry_id", "fields").iterator(chunk_size=2000):
        row = _entry_matches(looking, fields, int(entry_id.split("-")[0]))
        if row is not None:
            if looking.held(row):
                kept += 1
            else:
                rows += 1
    return _result(found + rows, kept, stream_entries=found, rows=rows)


# --- ClickHouse tables -------------------------------------------------------------------------------
def _count_table(looking: _Looking, table: str) -> tuple[int, int]:
    where, params = looking.sql()
    rows = ch.query(f"SELECT queue, tenant_id, job_id, toUnixTimestamp64Micro(enqueue_time), subject_keys "
                    f"FROM {{db}}.{ch.identifier(table)} WHERE {where}", tag="verify", parameters=params,
                    settings_=_ALL_ROWS).result_rows
    kept = sum(1 for q, t, j, us, keys in rows
               if looking.held(_Row({"queue": q, "tenant_id": t, "job_id": j}, us, keys)))
    return len(rows) - kept, kept


def _lineage(part: str) -> tuple[str, int, int, int]:
    """(partition id, first block, last block, data version) of a part's name,
    `<partition>_<min>_<max>_<level>[_<mutation>]`: a part without a mutation has its first block as version."""
    fields = part.split("_")
    first = int(fields[1])
    return fields[0], first, int(fields[2]), int(fields[4]) if len(fields) > 4 else first


def _leftover_parts(table: str, since: datetime, partitions: list[str] | None,
                    holding: list[str] | None = None) -> list[str]:
    """Inactive parts with rows, or detached parts, older than the erasure, in the partitions that
    held the subject (None: all of the table's): SQL cannot read them, so none may be left. (A part
    a mutation emptied is inactive at once and holds no row.)

    `holding`: the names of the parts noted as holding the subject when the erasure ran. Then only an
    inactive part whose blocks overlap one of theirs, at their data version or older, can hold the
    subject's rows. One whose blocks do not overlap was merged away with other people's rows only (a
    background merge, after the erasure, of parts it never touched); one of a newer version was made
    by the erasure's mutation (a merge after it, or a resumed run, retires it). Neither is a leftover."""
    moment = int(since.timestamp())
    where = " AND partition IN {p:Array(String)}" if partitions is not None else ""
    inactive = ch.query("SELECT name, partition_id, min_block_number, max_block_number FROM system.parts "
                        "WHERE database = {d:String} AND table = {t:String} "
                        f"AND NOT active AND rows > 0 AND toUnixTimestamp(modification_time) <= {{m:Int64}}{where}",
                        tag="verify",
                        parameters={"d": ch.database(), "t": table, "m": moment,
                                    "p": partitions or []}).result_rows
    if holding is not None:
        noted = [_lineage(name) for name in holding]
        inactive = [row for row in inactive if any(
            row[1] == p and row[2] <= last and first <= row[3] and _lineage(row[0])[3] <= version
            for p, first, last, version in noted)]
    detached = ch.query("SELECT name FROM system.detached_parts WHERE database = {d:String} AND table = {t:String}",
                        tag="verify", parameters={"d": ch.database(), "t": table}).result_rows
    return [row[0] for row in inactive] + [f"detached:{n}" for (n,) in detached]


_LITERAL = re.compile(r"'((?:[^'\\]|\\.)*)'")


def _names(command: str, value: str) -> bool:
    """Whether a mutation's command names this identifier: as one of its string literals (a short id
    such as "42" is inside many a stream id or date there), or anywhere when it is long enough not to
    occur by chance."""
    if len(value) >= MIN_NEEDLE and value in command:
        return True
    return value in {re.sub(r"\\(.)", r"\1", text) for text in _LITERAL.findall(command)}


def _mutations_naming(looking: _Looking, table: str) -> int:
    if not looking.raw:
        return 0
    rows = ch.query("SELECT command FROM system.mutations WHERE database = {d:String} AND table = {t:String}",
                    tag="verify", parameters={"d": ch.database(), "t": table}).result_rows
    return sum(1 for (command,) in rows if any(_names(command, value) for value in looking.raw))


def _check_merge_tree(looking: _Looking, table: str, since: datetime, partitions: list[str] | None,
                      held_it: bool = True, holding: list[str] | None = None) -> dict:
    found, kept = _count_table(looking, table)
    problems = []
    if held_it and (parts := _leftover_parts(table, since, partitions, holding)):
        problems.append(f"{len(parts)} inactive or detached parts from before the erasure")
    if named := _mutations_naming(looking, table):
        problems.append(f"{named} mutations name an identifier")
    return _result(found, kept, problems=problems)


def check_warm(looking: _Looking, since: datetime, days: list[str]) -> dict:
    return _check_merge_tree(looking, "jobs_archive", since, days)


def check_rehydrated(looking: _Looking, since: datetime, held_it: set[str],
                     holding: dict[str, list[str]] | None = None) -> dict:
    """`holding`: per table, the parts its erasure step noted as holding the subject (rehydrated tables
    have one partition, so any merge there after the erasure leaves inactive parts older than it)."""
    tables = [name for (name,) in ch.query(
        "SELECT name FROM system.tables WHERE database = {d:String} AND startsWith(name, 'rehydrated_')",
        tag="verify", parameters={"d": ch.database()}).result_rows]
    holding = holding or {}
    per_table = {t: _check_merge_tree(looking, t, since, None, t in held_it, holding.get(t)) for t in tables}
    found = sum(r["found"] for r in per_table.values())
    kept = sum(r["kept_under_hold"] for r in per_table.values())
    problems = [f"{t}: {p}" for t, r in per_table.items() for p in r["problems"]]
    return _result(found, kept, tables=len(tables), problems=problems)


def check_subject_index(looking: _Looking) -> dict:
    if not looking.keys:
        return _result(0, 0)
    found = ch.query("SELECT count() FROM {db}.subject_index WHERE key_hash IN {k:Array(String)}", tag="verify",
                     parameters={"k": sorted(looking.keys)}, settings_=_ALL_ROWS).result_rows[0][0]
    return _result(int(found), 0)


# --- the lake and the copies --------------------------------------------------------------------------
def _search_parquet(looking: _Looking, data: bytes) -> tuple[int, int]:
    source = pq.ParquetFile(io.BytesIO(data))
    names = set(source.schema_arrow.names)
    table = source.read(columns=[c for c in _COLUMNS if c in names])
    n = table.num_rows
    hit = pa.array([False] * n)
    for column, values in (("job_id", looking.job_ids), ("trace_id", looking.trace_ids),
                           ("payload_hash", looking.payload_hashes)):
        if values and column in names:
            hit = pc.or_(hit, pc.fill_null(pc.is_in(table[column], value_set=pa.array(sorted(values))), False))
    key_lists = table["subject_keys"].to_pylist() if "subject_keys" in names else [None] * n
    if looking.keys and "subject_keys" in names:
        flat = pc.list_flatten(table["subject_keys"])
        if len(flat):
            inside = pc.is_in(flat, value_set=pa.array(sorted(looking.keys)))
            parents = pc.list_parent_indices(table["subject_keys"]).to_numpy(zero_copy_only=False)
            rows = set(parents[inside.to_numpy(zero_copy_only=False)].tolist())
            hit = pc.or_(hit, pa.array([i in rows for i in range(n)]))
    found = kept = 0
    for i in pc.indices_nonzero(hit).to_pylist():
        row = {c: table[c][i].as_py() for c in table.column_names if c != "subject_keys"}
        when = row.get("enqueue_time")
        if isinstance(when, str):  # a query result keeps times as ISO text
            when = _parse_time(when)
        enqueue_us = int(when.timestamp() * 1_000_000) if when else None
        if not looking.restricted(row.get("tenant_id") or "", enqueue_us):
            continue
        entry = _Row({"queue": row.get("queue") or "", "tenant_id": row.get("tenant_id") or "",
                      "job_id": row.get("job_id") or ""}, enqueue_us or 0, key_lists[i] or ())
        kept, found = (kept + 1, found) if looking.held(entry) else (kept, found + 1)
    return found, kept


def _parse_time(text: str):
    from datetime import datetime, timezone

    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def check_cold(looking: _Looking) -> dict:
    table = load_table()
    location = table.location().removeprefix("s3://")
    bucket, _, prefix = location.partition("/")
    client = s3.client()
    found = kept = objects = parquet = 0
    problems = []
    for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix.rstrip("/") + "/"):
        for version in page.get("Versions", []):
            objects += 1
            extra = {"VersionId": version["VersionId"]} if version.get("VersionId") not in (None, "null") else {}
            body = client.get_object(Bucket=bucket, Key=version["Key"], **extra)["Body"].read()
            if version["Key"].endswith(".parquet"):
                parquet += 1
                f, k = _search_parquet(looking, body)
                found, kept = found + f, kept + k
            elif any(needle in body for needle in looking.needles):
                problems.append(f"{version['Key']} names an identifier")
    return _result(found, kept, objects_and_versions=objects, parquet_read=parquet,
                   snapshots=len(table.snapshots()), problems=problems)


def _record_named(looking: _Looking, record: dict) -> bool:
    keys = record.get("subject_keys") or []
    if isinstance(keys, str):  # a CSV cell holds the list as JSON
        try:
            keys = json.loads(keys)
        except ValueError:
            keys = []
    return (record.get("job_id") in looking.job_ids or record.get("trace_id") in looking.trace_ids
            or record.get("payload_hash") in looking.payload_hashes or not looking.keys.isdisjoint(keys))


def _search_copy_object(looking: _Looking, key: str, body: bytes) -> int:
    """Records of the subject in one object of a copy: bundles are read record by record."""
    if key.endswith(".json"):
        try:
            records = json.loads(body)
        except ValueError:
            records = None
        if isinstance(records, list):
            return sum(1 for r in records if isinstance(r, dict) and _record_named(looking, r))
    if key.endswith(".parquet"):  # a query result: read as a table, so compressed values are seen too
        found, kept = _search_parquet(looking, body)
        return found + kept
    if key.endswith(".csv"):
        import csv

        return sum(1 for r in csv.DictReader(io.StringIO(body.decode("utf-8", errors="replace")))
                   if _record_named(looking, r))
    return int(any(needle in body for needle in looking.needles))


def check_copies(looking: _Looking) -> dict:
    from apps.compliance.models import StoredCopy

    client = s3.client()
    found = objects = 0
    live = StoredCopy.objects.filter(deleted_at__isnull=True)
    listed = live.filter(key_hashes__overlap=sorted(looking.keys)).count() if looking.keys else 0
    for copy in StoredCopy.objects.all():
        for key in copy.keys:
            for page in client.get_paginator("list_object_versions").paginate(Bucket=copy.bucket, Prefix=key):
                for version in page.get("Versions", []):
                    if version["Key"] != key:
                        continue
                    objects += 1
                    extra = {"VersionId": version["VersionId"]} if version.get("VersionId") not in (None, "null") else {}
                    body = client.get_object(Bucket=copy.bucket, Key=key, **extra)["Body"].read()
                    found += _search_copy_object(looking, key, body)
    return _result(found + listed, 0, objects_and_versions=objects)


# Every place of the registry (apps.places.registry), as counts name it; a test holds them equal.
CHECKS = ("stream", "dead_letters", "warm", "rehydrated", "cold", "copies", "subject_index")


def verify(request, subject) -> dict:
    """Search every place; `passed` only when every one is clean. Each result is recorded on the request."""
    looking = _Looking(request, subject)
    since = datetime.fromisoformat(request.steps.get("warm", {}).get("finished_at") or
                                   dj_timezone.now().isoformat())
    # Where the subject was when the request was previewed and when it ran: their old parts must be gone.
    warm_days = sorted({*request.preview.get("partitions", {}).get("warm", []),
                        *(request.steps.get("warm", {}).get("plan") or {}).get("days", [])})
    rehydrated_plan = request.steps.get("rehydrated", {}).get("plan") or {}
    rehydrated_tables = {*request.preview.get("rehydrated_tables", []), *rehydrated_plan}
    # The parts each table's step noted as holding the subject (a table without them: every old part counts).
    rehydrated_parts = {t: [name for name, _ in found["parts"]] for t, found in rehydrated_plan.items()
                        if found.get("parts")}
    places = {
        "stream": lambda: check_stream(looking),
        "dead_letters": lambda: check_dead_letters(looking),
        "warm": lambda: check_warm(looking, since, warm_days),
        "rehydrated": lambda: check_rehydrated(looking, since, rehydrated_tables, rehydrated_parts),
        "cold": lambda: check_cold(looking),
        "copies": lambda: check_copies(looking),
        "subject_index": lambda: check_subject_index(looking),
    }
    assert set(places) == set(CHECKS)
    places = {name: check() for name, check in places.items()}
    return {"passed": all(r["clean"] for r in places.values()), "places": places,
            "kept_under_hold": sum(r["kept_under_hold"] for r in places.values()),
            "at": datetime.now(timezone.utc).isoformat()}
