"""The batch's `subject_keys` column: whose each record is, read from its full payload and its tags.

`apps.compliance.subject_keys.extract` decides each record's keys; this module only spares it the
records that cannot have any, a whole column at a time. A payload identifier is a top-level JSON
field, so it can only be there where the field's name occurs as a quoted string, or where an
escape could spell it: one regular-expression pass in Arrow finds those payloads, and only they
are parsed (in the export benchmark about one payload in seven: invoices hold a nested `email`).
A tag identifier is looked up in the tags map in Arrow. The payload is read as UTF-8 (invalid
bytes replaced), as redaction reads it. The same function serves the fast and the row path, so
both give every record the same keys, and a replay the same as the first run.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from apps.compliance import subject_keys
from apps.compliance.subject_keys import Rule

_PLAIN = re.compile(r"^[A-Za-z0-9_]+$")
KEYS_TYPE = pa.list_(pa.string())


def empty_lists(n: int) -> pa.Array:
    """n empty key lists (the column's default), without a Python object per row."""
    return pa.ListArray.from_arrays(pa.array(np.zeros(n + 1, dtype=np.int32)), pa.array([], pa.string()))


def _maybe_in_payload(payloads: pa.Array, fields: list[str]) -> np.ndarray:
    """Rows whose payload might hold one of these top-level fields; the others cannot."""
    plain = [f for f in fields if _PLAIN.match(f)]
    # A name of letters, digits and _ can be spelled otherwise only with \\u escapes; others also with \\" etc.
    escape = "\\u" if len(plain) == len(fields) else "\\"
    found = pc.match_substring(payloads, escape.encode())
    if plain:
        pattern = '"(?:' + "|".join(plain) + ')"'
        found = pc.or_(found, pc.match_substring_regex(payloads, pattern.encode()))
    for name in (f for f in fields if not _PLAIN.match(f)):
        found = pc.or_(found, pc.match_substring(payloads, json.dumps(name, ensure_ascii=False).encode()))
    return pc.fill_null(found, False).to_numpy(zero_copy_only=False)


def _in_tags(tags: pa.Array, fields: list[str]) -> np.ndarray:
    found = np.zeros(len(tags), dtype=bool)
    for name in fields:
        found |= pc.is_valid(pc.map_lookup(tags, pa.scalar(name), "first")).to_numpy(zero_copy_only=False)
    return found


def subject_keys_column(rules: list[Rule], payloads: pa.Array, tags: pa.Array) -> pa.Array:
    """Each record's `extract(rules, payload=..., tags=...)`, as a list<string> column.

    `payloads` are the payloads as received (binary, null where none), `tags` the records' tags
    (map<string, string>), one row per record."""
    n = len(payloads)
    payload_fields = [r.field for r in rules if r.source == "payload"]
    tag_fields = [r.field for r in rules if r.source == "tag"]
    in_payload = _maybe_in_payload(payloads, payload_fields) if payload_fields and n else np.zeros(n, dtype=bool)
    in_tags = _in_tags(tags, tag_fields) if tag_fields and n else np.zeros(n, dtype=bool)
    rows = np.flatnonzero(in_payload | in_tags)
    if not len(rows):
        return empty_lists(n)
    taken = pa.array(rows)
    texts = payloads.take(taken).to_pylist()
    maps = tags.take(taken).to_pylist()
    counts = np.zeros(n, dtype=np.int32)
    found: list[str] = []
    for row, text, pairs in zip(rows.tolist(), texts, maps):
        payload = text.decode(errors="replace") if text is not None and in_payload[row] else None
        keys = subject_keys.extract(rules, payload=payload, tags=dict(pairs) if pairs else None)
        counts[row] = len(keys)
        found.extend(keys)
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(found, pa.string()))
