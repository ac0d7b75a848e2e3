"""The batch's `subject_keys` column: whose each record is, read from its full payload and its tags.

`apps.compliance.subject_keys.extract` decides each record's keys; this module only spares it the
records that cannot have any, a whole column at a time. A payload identifier is a top-level JSON
field, so it can only be there where the field's name occurs as a quoted string, or where an
escape could spell it: one regular-expression pass in Arrow finds those payloads, and only they
are parsed (in the export benchmark about one payload in seven: invoices hold a nested `email`).
A tag identifier is looked up in the tags map in Arrow, and each distinct identifier is hashed
once per batch. The payload is read as UTF-8 (invalid bytes replaced), as redaction reads it.
The same function serves the fast and the row path, so both give every record the same keys,
and a replay the same as the first run.
"""

from __future__ import annotations

import functools
import json
import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from apps.compliance import subject_keys
from apps.compliance.subject_keys import Rule

_PLAIN = re.compile(r"^[A-Za-z0-9_]+$")


def empty_lists(n: int) -> pa.Array:
    """n empty key lists (the column's default), without a Python object per row."""
    return pa.ListArray.from_arrays(pa.array(np.zeros(n + 1, dtype=np.int32)), pa.array([], pa.string()))


def _maybe_in_payload(payloads: pa.Array, fields: list[str]) -> np.ndarray:
    """Rows whose payload might hold one of these top-level fields; the others cannot."""
    plain = [f for f in fields if _PLAIN.match(f)]
    # A name of letters, digits and _ can be spelled otherwise only with \u escapes; others also with \" etc.
    escape = "\\u" if len(plain) == len(fields) else "\\"
    found = pc.match_substring(payloads, escape.encode())
    if plain:
        pattern = '"(?:' + "|".join(plain) + ')"'
        found = pc.or_(found, pc.match_substring_regex(payloads, pattern.encode()))
    for name in (f for f in fields if not _PLAIN.match(f)):
        found = pc.or_(found, pc.match_substring(payloads, json.dumps(name, ensure_ascii=False).encode()))
    return pc.fill_null(found, False).to_numpy(zero_copy_only=False)


def _tag_values(tags: pa.Array, fields: list[str]) -> dict[str, pa.Array]:
    """Per tag field, each record's value (null where the record has no such tag)."""
    return {name: pc.map_lookup(tags, pa.scalar(name), "first") for name in dict.fromkeys(fields)}


def subject_keys_column(rules: list[Rule], payloads: pa.Array, tags: pa.Array) -> pa.Array:
    """Each record's `extract(rules, payload=..., tags=...)`, as a list<string> column.

    `payloads` are the payloads as received (binary, null where none), `tags` the records' tags
    (map<string, string>), one row per record. Each distinct identifier is hashed once per call."""
    n = len(payloads)
    if rules:
        subject_keys.secret()  # unset: every batch is refused, not only those that hold an identifier
    payload_fields = [r.field for r in rules if r.source == "payload"]
    tag_values = _tag_values(tags, [r.field for r in rules if r.source == "tag"]) if n else {}
    in_payload = _maybe_in_payload(payloads, payload_fields) if payload_fields and n else np.zeros(n, dtype=bool)
    in_tags = np.zeros(n, dtype=bool)
    for values in tag_values.values():
        in_tags |= pc.is_valid(values).to_numpy(zero_copy_only=False)
    rows = np.flatnonzero(in_payload | in_tags)
    if not len(rows):
        return empty_lists(n)
    taken = pa.array(rows)
    texts = pc.if_else(pa.array(in_payload[rows]), payloads.take(taken), None).to_pylist()
    # extract reads only the rules' tags, so a record's tags are given as those alone.
    tag_columns = {name: values.take(taken).to_pylist() for name, values in tag_values.items()}
    hasher = functools.lru_cache(maxsize=None)(subject_keys.key_hash)
    counts = np.zeros(n, dtype=np.int32)
    found: list[str] = []
    for position, (row, text) in enumerate(zip(rows.tolist(), texts)):
        present = {name: column[position] for name, column in tag_columns.items() if column[position] is not None}
        keys = subject_keys.extract(rules, payload=text.decode(errors="replace") if text is not None else None,
                                    tags=present or None, hasher=hasher)
        counts[row] = len(keys)
        found.extend(keys)
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(found, pa.string()))
