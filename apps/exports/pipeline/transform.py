"""Stream entries to one Arrow table: validate each against the contract, apply the policy, build columns."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

from apps.exports.pipeline.policy import PayloadPolicy, apply_payload_policy
from apps.records.contract import ContractError, parse_entry
from apps.records.schema import COLUMNS, arrow_schema


@dataclass
class Transformed:
    table: pa.Table
    dead: list[tuple[str, str, dict[bytes, bytes]]] = field(default_factory=list)

    @property
    def records(self) -> int:
        return self.table.num_rows


def stream_id_key(stream_id: str) -> tuple[int, int]:
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq or 0)


def transform(entries: list[tuple[str, dict[bytes, bytes]]], policy: PayloadPolicy) -> Transformed:
    """Deterministic for the same entries and policy: a replayed batch yields the same table."""
    columns: dict[str, list] = {c.name: [] for c in COLUMNS}
    appenders = [(columns[c.name].append, c.name) for c in COLUMNS]
    dead = []
    threshold = policy.sample_threshold
    for stream_id, raw in sorted(entries, key=lambda e: stream_id_key(e[0])):
        try:
            record, payload = parse_entry(stream_id, raw)
        except ContractError as exc:
            dead.append((stream_id, str(exc), raw))
            continue
        apply_payload_policy(record, payload, policy, threshold)
        for append, name in appenders:
            append(record[name])
    schema = arrow_schema()
    arrays = [pa.array(columns[f.name], type=f.type) for f in schema]
    return Transformed(table=pa.Table.from_arrays(arrays, schema=schema), dead=dead)
