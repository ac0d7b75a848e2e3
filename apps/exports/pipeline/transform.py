"""Stream entries to one Arrow table: validate against the contract, apply the policy, build columns.

Two paths, one contract. The fast path checks whole columns at once in Arrow (the common case:
epoch-millisecond times, plain integers, an applied schema version). Any row it cannot vouch for goes to
`apps.records.contract.parse_entry`, which is the contract's single source of truth: it either
accepts the row (RFC 3339 times, say) or names the reason it is dead-lettered.

Records of every applied schema version are upcast to the live record on both paths: fields
added after a record's version get their defaults, in whole columns on the fast path.
`subject_keys` (schema version 2) is the archive's own: both paths compute it from the full
payload and the tags (`apps.exports.pipeline.subjects`), and ignore what an entry sends under its name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from itertools import chain

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from apps.compliance import subject_key_rules
from apps.compliance.subject_keys import Rule
from apps.exports.pipeline.policy import Policies, payload_columns
from apps.exports.pipeline.subjects import empty_lists, subject_keys_column
from apps.records.contract import (
    ID_MAX_CHARS,
    OUTCOMES,
    SHORT_FIELDS,
    SHORT_MAX_CHARS,
    ContractError,
    parse_entry,
)
from apps.records.schema import SUBJECT_KEYS, Column, LiveSchema, arrow_schema, live_schema
from apps.schemas.registry import refresh_live_schema
from apps.stream.client import Entry, fields_dict

_OUTCOMES = pa.array(sorted(OUTCOMES))
_MIN_MS, _MAX_MS = 946_684_800_000, 4_102_444_800_000  # 2000-01-01 .. 2100-01-01, as in the contract
_TAGS_TYPE = pa.map_(pa.string(), pa.string())


@dataclass
class Transformed:
    table: pa.Table
    dead: list[tuple[str, str, dict[bytes, bytes]]] = field(default_factory=list)
    duplicates: int = 0  # records dropped because they were archived already (apps.exports.pipeline.dedup)
    entry_index: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # row -> its entry

    @property
    def records(self) -> int:
        return self.table.num_rows


class _Fields:
    """The batch's fields as one long key array and one long value array; columns are picked by key.

    Doing this once per batch in Arrow replaces a dict lookup per field per entry in Python.
    An entry that repeats a field name is flagged, so the row path applies the contract to it.
    """

    def __init__(self, entries: list[Entry]) -> None:
        self.n = len(entries)
        flat = list(chain.from_iterable(fields for _, fields in entries))
        pairs_per_entry = np.fromiter((len(fields) // 2 for _, fields in entries), dtype=np.int64, count=self.n)
        self.row_of_pair = np.repeat(np.arange(self.n), pairs_per_entry)
        keys = pc.dictionary_encode(pa.array(flat[0::2], pa.binary()))
        self.key_codes = keys.indices.to_numpy()
        self.key_names = {name: code for code, name in enumerate(keys.dictionary.to_pylist())}
        self.values = pa.array(flat[1::2], pa.binary())
        self.repeated = np.zeros(self.n, dtype=bool)
        self._columns: dict[str, pa.Array] = {}

    def column(self, name: str) -> pa.Array:
        """One binary value per entry (null where absent); picked once per batch."""
        if name not in self._columns:
            self._columns[name] = self._pick(name)
        return self._columns[name]

    def _pick(self, name: str) -> pa.Array:
        code = self.key_names.get(name.encode())
        if code is None:
            return pa.nulls(self.n, pa.binary())
        pair_index = np.flatnonzero(self.key_codes == code)
        rows = self.row_of_pair[pair_index]
        position = np.full(self.n, -1, dtype=np.int64)
        position[rows] = pair_index
        repeats = rows[1:][np.diff(rows) == 0]  # rows ascend with the pairs, so repeats sit side by side
        if len(repeats):
            self.repeated[repeats] = True
        return self.values.take(pa.array(position, mask=position < 0))


def _strings(raw: pa.Array) -> tuple[pa.Array, pa.Array | None]:
    """UTF-8 text column; rows that are not valid UTF-8 come back flagged (and null)."""
    try:
        return raw.cast(pa.string()), None
    except pa.ArrowInvalid:
        bad = []
        clean = []
        for v in raw.to_pylist():
            try:
                clean.append(None if v is None else v.decode())
                bad.append(False)
            except UnicodeDecodeError:
                clean.append(None)
                bad.append(True)
        return pa.array(clean, pa.string()), pa.array(bad)


def _or(a: pa.Array | None, b: pa.Array | None) -> pa.Array | None:
    if a is None:
        return b
    if b is None:
        return a
    return pc.or_(a, b)


def _epoch_ms(text: pa.Array, required: bool) -> tuple[pa.Array, pa.Array]:
    """Epoch-ms digits to microseconds; anything else (RFC 3339, out of range) is flagged for the row path."""
    digits = pc.fill_null(pc.utf8_is_digit(text), False)
    numbers = pc.cast(pc.if_else(digits, text, None), pa.int64())
    in_range = pc.and_(pc.greater_equal(numbers, _MIN_MS), pc.less(numbers, _MAX_MS))
    ok = pc.fill_null(in_range, False)
    if not required:
        ok = pc.or_(ok, pc.is_null(text))
    return pc.multiply(numbers, 1000), pc.invert(ok)


def _small_int(text: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Optional plain non-negative integer text; empty means 0. Signs and others go to the row path."""
    digits = pc.fill_null(pc.utf8_is_digit(text), False)
    short = pc.less_equal(pc.utf8_length(text), 9)
    usable = pc.and_(digits, pc.fill_null(short, False))
    values = pc.fill_null(pc.cast(pc.if_else(usable, text, None), pa.int32()), 0)
    flagged = pc.and_(pc.invert(usable), pc.invert(pc.fill_null(pc.equal(pc.utf8_length(text), 0), True)))
    return values, flagged


def _tags(text: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Tags repeat a lot: parse each distinct JSON text once, then fan out by dictionary index."""
    encoded = pc.dictionary_encode(text)
    parsed = []
    bad_values = []
    for raw in encoded.dictionary.to_pylist():
        try:
            value = json.loads(raw) if raw else {}
            ok = isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
        except ValueError:
            ok = False
        parsed.append(list(value.items()) if ok else [])
        bad_values.append(not ok)
    # Entries without tags point at one more slot: an empty map, which is valid.
    parsed.append([])
    bad_values.append(False)
    indices = pc.fill_null(encoded.indices, len(parsed) - 1)
    return pa.array(parsed, _TAGS_TYPE).take(indices), pa.array(bad_values).take(indices)


def _versions(text: pa.Array, newest: int) -> tuple[pa.Array, pa.Array]:
    """Plain schema versions 1..newest (absent means 1); anything else is for the row path to accept or refuse."""
    digits = pc.fill_null(pc.utf8_is_digit(text), False)
    short = pc.fill_null(pc.less_equal(pc.utf8_length(text), 9), False)
    numbers = pc.cast(pc.if_else(pc.and_(digits, short), text, None), pa.int32())
    known = pc.fill_null(pc.and_(pc.greater_equal(numbers, 1), pc.less_equal(numbers, newest)), False)
    return pc.fill_null(numbers, 1), pc.invert(pc.or_(known, pc.is_null(text)))


_INTEGER_TEXT = {"int": r"^-?[0-9]{1,9}$", "long": r"^-?[0-9]{1,18}$"}  # wider values take the row path


def _added_column(fields: _Fields, column: Column, versions: pa.Array) -> tuple[pa.Array, pa.Array | None]:
    """A field of a later schema version; rows of an older version get the default whatever they sent.

    Keys are never read from the entries (the archive computes them, `apps.exports.pipeline.subjects`):
    the column is the default here, whatever was sent under its name."""
    if column.kind == "keys":
        return empty_lists(fields.n), None
    text, bad = _strings(fields.column(column.name))
    if text.null_count == len(text):  # the common case: nobody sent it in this batch
        default = [] if column.kind == "tags" else column.default
        return pa.array([default] * len(text), column.arrow_type), None
    text = pc.if_else(pc.greater_equal(versions, column.added_in), text, pa.scalar(None, pa.string()))
    if column.kind in ("string", "lowcard"):
        values = text
        if column.kind == "lowcard":
            bad = _or(bad, pc.fill_null(pc.greater(pc.utf8_length(text), SHORT_MAX_CHARS), False))
    elif column.kind in _INTEGER_TEXT:
        usable = pc.fill_null(pc.match_substring_regex(text, _INTEGER_TEXT[column.kind]), False)
        values = pc.cast(pc.if_else(usable, text, None), column.arrow_type)
        bad = _or(bad, pc.and_(pc.invert(usable), pc.is_valid(text)))
    elif column.kind == "time":
        values, bad_time = _epoch_ms(text, required=False)
        bad = _or(bad, bad_time)
    else:
        values, bad_tags = _tags(text)
        return values, _or(bad, bad_tags)
    if column.default is not None:
        values = pc.fill_null(values, pa.scalar(column.default, values.type))
    return values, bad


def batch_fields(entries: list[Entry]) -> _Fields:
    """The batch's fields, column-wise; built once, read by the transform and the key claims."""
    return _Fields(entries)


def _subject_rules(rules: list[Rule] | None) -> list[Rule]:
    """The rules given, else the configured ones (one small query, once per batch)."""
    return subject_key_rules.rules() if rules is None else rules


def _fast_columns(entries: list[Entry], policies: Policies, live: LiveSchema | None = None,
                  fields: _Fields | None = None,
                  rules: list[Rule] | None = None) -> tuple[dict[str, pa.Array], pa.Array]:
    """All columns for all rows, plus a mask of rows the row path must decide."""
    live = live or live_schema()
    n = len(entries)
    fields = fields or _Fields(entries)
    cols: dict[str, pa.Array] = {}
    flagged = pa.array([False] * n)

    for name in ("job_id", "queue"):
        text, bad = _strings(fields.column(name))
        length = pc.fill_null(pc.utf8_length(text), 0)
        flagged = _or(_or(flagged, bad), pc.or_(pc.equal(length, 0), pc.greater(length, ID_MAX_CHARS)))
        cols[name] = pc.fill_null(text, "")
    text, bad = _strings(fields.column("outcome"))
    flagged = _or(_or(flagged, bad), pc.invert(pc.fill_null(pc.is_in(text, _OUTCOMES), False)))
    cols["outcome"] = pc.fill_null(text, "")

    for name, required in (("enqueue_time", True), ("start_time", False), ("end_time", False)):
        text, bad = _strings(fields.column(name))
        micros, bad_time = _epoch_ms(text, required)
        flagged = _or(_or(flagged, bad), bad_time)
        cols[name] = micros
    for name in ("priority", "retries"):
        text, bad = _strings(fields.column(name))
        values, bad_int = _small_int(text)
        flagged = _or(_or(flagged, bad), bad_int)
        cols[name] = values
    version, bad = _strings(fields.column("schema_version"))
    cols["schema_version"], bad_version = _versions(version, live.version)
    flagged = _or(_or(flagged, bad), bad_version)
    for column in live.added:
        cols[column.name], bad = _added_column(fields, column, cols["schema_version"])
        flagged = _or(flagged, bad)

    for name in SHORT_FIELDS:
        text, bad = _strings(fields.column(name))
        too_long = pc.fill_null(pc.greater(pc.utf8_length(text), SHORT_MAX_CHARS), False)
        flagged = _or(_or(flagged, bad), too_long)
        cols[name] = pc.fill_null(text, "")
    tags_text, bad = _strings(fields.column("tags"))
    cols["tags"], bad_tags = _tags(tags_text)
    flagged = _or(_or(flagged, bad), bad_tags)
    if SUBJECT_KEYS in cols:  # the full payload, before the policy samples and redacts it
        cols[SUBJECT_KEYS] = subject_keys_column(_subject_rules(rules), fields.column("payload"), cols["tags"])
    cols["stream_id"] = pa.array([sid for sid, _ in entries], pa.string())

    messages, bad = _strings(fields.column("error_msg"))
    flagged = _or(flagged, bad)
    cols.update(payload_columns(cols["queue"], cols["outcome"], fields.column("payload"), messages, policies))
    return cols, _or(flagged, pa.array(fields.repeated))


def _row_path(entries: list[Entry], policies: Policies, schema: pa.Schema,
              rules: list[Rule] | None = None) -> tuple[pa.Table, list[tuple[str, str, dict]], list[int]]:
    """The contract applied entry by entry: the accepted records as a table, the dead letters, and
    the positions (in `entries`) of the accepted ones."""
    records, payloads, dead, accepted = [], [], [], []
    for position, (stream_id, flat) in enumerate(entries):
        raw = fields_dict(flat)
        try:
            record, payload = parse_entry(stream_id, raw)
        except ContractError as exc:
            dead.append((stream_id, str(exc), raw))
            continue
        records.append(record)
        payloads.append(payload)
        accepted.append(position)
    table = pa.Table.from_pylist(records, schema=schema)
    payloads = pa.array(payloads, pa.binary())
    derived = payload_columns(table["queue"].combine_chunks(), table["outcome"].combine_chunks(),
                              payloads, table["error_msg"].combine_chunks(), policies)
    if SUBJECT_KEYS in schema.names:
        derived[SUBJECT_KEYS] = subject_keys_column(_subject_rules(rules), payloads, table["tags"].combine_chunks())
    for name, values in derived.items():
        table = table.set_column(schema.get_field_index(name), schema.field(name), values.cast(schema.field(name).type))
    return table, dead, accepted


def transform(entries: list[Entry], policies: Policies, fields: _Fields | None = None,
              rules: list[Rule] | None = None) -> Transformed:
    """Deterministic for the same entries, policies and subject key rules: a replayed batch yields the same table.

    `policies.payload(queue, outcome)` gives each record's payload policy (see
    `apps.exports.pipeline.policy`: `UniformPolicies`, or the retention policies' book).

    `entries` come in stream order (the exporter and XCLAIM both give them so). The table has
    the live record's columns: the schema registry is checked every few seconds, so a replay
    after a schema version was applied also carries the new fields (with their defaults).
    `fields` is `batch_fields(entries)` when the caller built it already; `rules` are the subject
    key rules, by default the configured ones, read once for the batch.
    """
    live = refresh_live_schema()
    schema = arrow_schema(live.columns)
    if not entries:
        return Transformed(table=schema.empty_table(), entry_index=np.zeros(0, dtype=np.int64))
    if rules is None and SUBJECT_KEYS in schema.names:
        rules = _subject_rules(None)
    cols, flagged = _fast_columns(entries, policies, live, fields, rules)
    fast = pa.Table.from_arrays([cols[f.name].cast(f.type) for f in schema], schema=schema)
    flagged_rows = pc.indices_nonzero(flagged).to_pylist()
    dead: list[tuple[str, str, dict]] = []
    entry_index = np.arange(len(entries))
    if flagged_rows:
        keep = pc.invert(flagged)
        fast = fast.filter(keep)
        slow, dead, accepted = _row_path([entries[i] for i in flagged_rows], policies, schema, rules)
        fast = pa.concat_tables([fast, slow])
        entry_index = np.concatenate([np.flatnonzero(keep.to_numpy(zero_copy_only=False)),
                                      np.asarray(flagged_rows, dtype=np.int64)[accepted]])
    # Sorted like the warm table's key: better compression in Parquet and a cheaper ClickHouse insert.
    order = pc.sort_indices(fast, sort_keys=[("queue", "ascending"), ("enqueue_time", "ascending"),
                                             ("stream_id", "ascending")])
    return Transformed(table=fast.take(order), dead=dead, entry_index=entry_index[order.to_numpy()])

