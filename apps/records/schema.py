"""The archived job record: one column list from which ClickHouse, Arrow and Iceberg schemas derive."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import pyarrow as pa
from pyiceberg import types as ice
from pyiceberg.schema import Schema as IcebergSchema

SCHEMA_VERSION = 1

# Kinds map one logical type to each engine; adding a kind means adding one row here.
_KINDS = {
    "string": ("String", pa.string(), ice.StringType),
    "lowcard": ("LowCardinality(String)", pa.string(), ice.StringType),
    "int": ("Int32", pa.int32(), ice.IntegerType),
    "long": ("Int64", pa.int64(), ice.LongType),
    "time": ("DateTime64(6, 'UTC')", pa.timestamp("us", tz="UTC"), ice.TimestamptzType),
    "tags": ("Map(LowCardinality(String), String)", pa.map_(pa.string(), pa.string()), None),
}


@dataclass(frozen=True)
class Column:
    name: str
    kind: str
    nullable: bool = False
    doc: str = ""

    @property
    def clickhouse_type(self) -> str:
        base = _KINDS[self.kind][0]
        return f"Nullable({base})" if self.nullable else base

    @property
    def arrow_type(self) -> pa.DataType:
        return _KINDS[self.kind][1]


COLUMNS: tuple[Column, ...] = (
    Column("job_id", "string", doc="Producer's job id (1-128 chars)"),
    Column("queue", "lowcard", doc="Queue the job ran on"),
    Column("tenant_id", "lowcard", doc="Tenant, empty when the producer sent none"),
    Column("priority", "int", doc="Job priority, 0 by default"),
    Column("enqueue_time", "time", doc="When the job was enqueued (UTC)"),
    Column("start_time", "time", nullable=True, doc="When the attempt started"),
    Column("end_time", "time", nullable=True, doc="When the attempt finished"),
    Column("outcome", "lowcard", doc="success, failed, timeout, cancelled, retry or dead"),
    Column("retries", "int", doc="Attempt number; (job_id, retries) names one record"),
    Column("error_type", "lowcard", doc="Exception class or error code"),
    Column("error_msg", "string", doc="Error message, PII redacted"),
    Column("worker_id", "lowcard", doc="Worker that ran the attempt"),
    Column("worker_version", "lowcard", doc="Version of the worker code"),
    Column("payload_size", "long", doc="Payload size in bytes as received"),
    Column("payload_hash", "string", doc="BLAKE2b-128 of the payload, hex; empty without payload"),
    Column("payload_sample", "string", doc="Redacted, size-capped payload sample, or empty"),
    Column("trace_id", "string", doc="Distributed trace id"),
    Column("span_id", "string", doc="Span id within the trace"),
    Column("correlation_id", "string", doc="Producer's correlation id"),
    Column("tags", "tags", doc="String-to-string labels"),
    Column("schema_version", "int", doc="Stream contract version the producer used"),
    Column("stream_id", "string", doc="Redis stream entry id the record came from"),
)
COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)
TIME_PARTITION_COLUMN = "enqueue_time"


@cache
def arrow_schema() -> pa.Schema:
    return pa.schema([pa.field(c.name, c.arrow_type, nullable=c.nullable) for c in COLUMNS])


@cache
def iceberg_schema() -> IcebergSchema:
    """Iceberg field ids are positional here and must never be reused (schema evolution relies on them)."""
    fields = []
    next_id = len(COLUMNS) + 1
    for field_id, column in enumerate(COLUMNS, start=1):
        if column.kind == "tags":
            field_type = ice.MapType(next_id, ice.StringType(), next_id + 1, ice.StringType(), value_required=False)
            next_id += 2
        else:
            field_type = _KINDS[column.kind][2]()
        fields.append(
            ice.NestedField(field_id, column.name, field_type, required=False, doc=column.doc or None)
        )
    return IcebergSchema(*fields)
