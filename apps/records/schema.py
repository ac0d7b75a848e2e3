"""The archived job record: one column list from which ClickHouse, Arrow and Iceberg schemas derive.

`COLUMNS` is version 1 of the record. Later versions live in the schema registry
(`apps.schemas`) as data; `live_schema()` is v1 plus the fields those versions added, as this
process last loaded it (`apps.schemas.registry.refresh_live_schema` reloads it).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import pyarrow as pa
from pyiceberg import types as ice
from pyiceberg.schema import Schema as IcebergSchema

SCHEMA_VERSION = 1  # the baseline; the live version comes from the registry

# Kinds map one logical type to each engine; adding a kind means adding one row here (and the
# places that switch on the kind: grep `"tags"`). `keys` is a set of keyed hashes, sorted, that the
# archive computes at ingest (subject keys); producers never send one.
_KINDS = {
    "string": ("String", pa.string(), ice.StringType),
    "lowcard": ("LowCardinality(String)", pa.string(), ice.StringType),
    "int": ("Int32", pa.int32(), ice.IntegerType),
    "long": ("Int64", pa.int64(), ice.LongType),
    "time": ("DateTime64(6, 'UTC')", pa.timestamp("us", tz="UTC"), ice.TimestamptzType),
    "tags": ("Map(LowCardinality(String), String)", pa.map_(pa.string(), pa.string()), None),
    "keys": ("Array(String)", pa.list_(pa.string()), None),
}
# Iceberg field ids a nested kind takes for its parts, after its own: a map's key and value, a list's element.
_NESTED_IDS = {"tags": 2, "keys": 1}
KINDS: tuple[str, ...] = tuple(_KINDS)


@dataclass(frozen=True)
class Column:
    name: str
    kind: str
    nullable: bool = False
    doc: str = ""
    # Set for fields added by a later schema version: the value records without it get (an
    # int for int/long, epoch microseconds for time, a str for text, None for null, () for tags and keys).
    default: Any = None
    added_in: int = 1
    deprecated_in: int | None = None

    @property
    def clickhouse_type(self) -> str:
        base = _KINDS[self.kind][0]
        if not self.nullable:
            return base
        if self.kind == "lowcard":  # ClickHouse puts Nullable inside LowCardinality, not around it
            return "LowCardinality(Nullable(String))"
        return f"Nullable({base})"

    @property
    def arrow_type(self) -> pa.DataType:
        return _KINDS[self.kind][1]

    @property
    def nested_ids(self) -> int:
        """How many Iceberg field ids the type's parts take (`iceberg_type` numbers them from `next_id`)."""
        return _NESTED_IDS.get(self.kind, 0)

    def iceberg_type(self, next_id: int) -> ice.IcebergType:
        """The Iceberg type; a map takes `next_id` and `next_id + 1` for its key and value, a list
        `next_id` for its element."""
        if self.kind == "tags":
            return ice.MapType(next_id, ice.StringType(), next_id + 1, ice.StringType(), value_required=False)
        if self.kind == "keys":
            return ice.ListType(next_id, ice.StringType(), element_required=False)
        return _KINDS[self.kind][2]()


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
# Added by version 2, which the archive ships (apps.schemas.spec.shipped_specs): the keyed hashes of
# whose a record is, computed at ingest (apps.exports.pipeline.subjects), never sent by producers.
SUBJECT_KEYS = "subject_keys"


@dataclass(frozen=True)
class LiveSchema:
    """The record as stored now: `version` is the newest applied schema version."""

    version: int
    columns: tuple[Column, ...]

    @property
    def added(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.added_in > 1)

    def accepts(self, version: int) -> bool:
        return 1 <= version <= self.version


BASELINE = LiveSchema(version=SCHEMA_VERSION, columns=COLUMNS)
# One reference, swapped whole: threads of an exporter see either the old or the new schema.
_live = {"schema": BASELINE}


def live_schema() -> LiveSchema:
    """What this process knows now; never touches a database (the registry refreshes it)."""
    return _live["schema"]


def set_live_schema(schema: LiveSchema) -> None:
    _live["schema"] = schema


def live_columns() -> tuple[Column, ...]:
    return live_schema().columns


@cache
def _arrow_schema(columns: tuple[Column, ...]) -> pa.Schema:
    return pa.schema([pa.field(c.name, c.arrow_type, nullable=c.nullable) for c in columns])


def arrow_schema(columns: tuple[Column, ...] | None = None) -> pa.Schema:
    """The Arrow schema of these columns, by default the live record's (cached per column list)."""
    return _arrow_schema(columns if columns is not None else live_columns())


@cache
def iceberg_schema() -> IcebergSchema:
    """The schema a new Iceberg table is created with: version 1.

    Fields of later versions are added by evolution (`apps.schemas.evolution`), on a new table
    exactly as on an old one, so field ids and initial defaults are the same everywhere. Iceberg
    field ids are positional here and must never be reused (schema evolution relies on them).
    """
    fields = []
    next_id = len(COLUMNS) + 1
    for field_id, column in enumerate(COLUMNS, start=1):
        field_type = column.iceberg_type(next_id)
        next_id += column.nested_ids
        fields.append(
            ice.NestedField(field_id, column.name, field_type, required=False, doc=column.doc or None)
        )
    return IcebergSchema(*fields)
