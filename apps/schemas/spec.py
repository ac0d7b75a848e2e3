"""A schema version as data: its fields (kind, nullability, default, added / deprecated in), to and from JSON."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from apps.records.schema import COLUMNS, KINDS, SUBJECT_KEYS, Column

NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_RANGES = {"int": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}
# Epoch milliseconds, the stream's time format; the same window the contract accepts.
_TIME_MS = (946_684_800_000, 4_102_444_800_000)
# v1 fields the stream contract gives no default: a producer must send them (or the archive sets them).
_V1_WITHOUT_DEFAULT = frozenset({"job_id", "queue", "outcome", "enqueue_time", "stream_id"})
_V1_DEFAULTS = {"schema_version": 1}


class SpecError(ValueError):
    """The file does not describe a schema version; `problems` says what is wrong, one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: str
    nullable: bool = False
    default: Any = None  # a JSON value: text, an integer (epoch ms for time), null, {} for tags or [] for keys
    added_in: int = 1
    deprecated_in: int | None = None
    doc: str = ""

    def as_dict(self) -> dict:
        return asdict(self)

    def column(self) -> Column:
        return Column(self.name, self.kind, nullable=self.nullable, doc=self.doc, default=storage_default(self),
                      added_in=self.added_in, deprecated_in=self.deprecated_in)


@dataclass(frozen=True)
class SchemaSpec:
    version: int
    fields: tuple[FieldSpec, ...]
    doc: str = ""
    by_name: dict[str, FieldSpec] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {f.name: f for f in self.fields})

    def as_dict(self) -> dict:
        return {"version": self.version, "doc": self.doc, "fields": [f.as_dict() for f in self.fields]}


def kind_default(kind: str, nullable: bool) -> Any:
    if nullable or kind == "time":
        return None
    return {"string": "", "lowcard": "", "int": 0, "long": 0, "tags": {}, "keys": []}[kind]


def storage_default(spec: FieldSpec) -> Any:
    """The default as `Column.default` holds it: hashable, times in microseconds."""
    if spec.default is None:
        return None
    if spec.kind in ("tags", "keys"):
        return ()
    if spec.kind == "time":
        return spec.default * 1000
    return spec.default


def default_problem(kind: str, nullable: bool, default: Any) -> str | None:
    """Why `default` cannot be this kind's default, or None when it can."""
    if default is None:
        return None
    if kind in ("string", "lowcard"):
        return None if isinstance(default, str) else "must be text"
    if kind in ("int", "long"):
        low, high = _RANGES[kind]
        if isinstance(default, bool) or not isinstance(default, int):
            return "must be an integer"
        return None if low <= default <= high else f"is out of range {low}..{high}"
    if kind == "time":
        if isinstance(default, bool) or not isinstance(default, int) or not _TIME_MS[0] <= default < _TIME_MS[1]:
            return "must be epoch milliseconds between 2000 and 2100"
        return None
    if kind == "tags":
        return None if default == {} else "must be {} (an empty map)"
    if kind == "keys":
        return None if default == [] else "must be [] (no keys)"
    return None


def baseline_spec() -> SchemaSpec:
    """Version 1, derived from `apps.records.schema.COLUMNS` (the seed migration holds a literal copy)."""
    fields = []
    for column in COLUMNS:
        if column.name in _V1_WITHOUT_DEFAULT:
            default = None
        else:
            default = _V1_DEFAULTS.get(column.name, kind_default(column.kind, column.nullable))
        fields.append(FieldSpec(column.name, column.kind, column.nullable, default, 1, None, column.doc))
    return SchemaSpec(1, tuple(fields), "The record as first archived (stream contract v1).")


# Version 2, shipped by the archive (seeded by migration 0003_seed_v2): the subject keys it computes.
V2_SUBJECT_KEYS = FieldSpec(SUBJECT_KEYS, "keys", False, [], 2, None,
                            "Keyed hashes (HMAC-SHA256) of the subject's identifiers, read at ingest")
V2_DOC = "Adds subject_keys, which the archive computes at ingest; producers never send it."


def shipped_specs() -> list[SchemaSpec]:
    """The versions the archive itself ships, oldest first: built in, whether their rows exist or not."""
    v1 = baseline_spec()
    return [v1, SchemaSpec(2, (*v1.fields, V2_SUBJECT_KEYS), V2_DOC)]


SHIPPED_VERSION = 2  # the newest of shipped_specs(); versions an operator applies follow it


_FIELD_KEYS = ("name", "kind", "nullable", "default", "added_in", "deprecated_in", "doc")


def parse_spec(data: Any, *, current: SchemaSpec) -> SchemaSpec:
    """A version from its JSON form; raises SpecError listing every problem at once.

    Attributes a field leaves out are taken from the current version when the field exists
    there (so a file may say only `{"name": "worker_version", "deprecated_in": 2}`), else from
    the defaults: not nullable, no default, added in this version, not deprecated, no doc.
    Whether the version is *compatible* is `apps.schemas.compatibility`'s question, not this one.
    """
    problems: list[str] = []
    if not isinstance(data, dict):
        raise SpecError(["the file must hold a JSON object with `version` and `fields`"])
    unknown = sorted(set(data) - {"version", "doc", "fields"})
    if unknown:
        problems.append(f"unknown keys: {', '.join(unknown)}")
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise SpecError([*problems, "version: a positive integer is required"])
    doc = data.get("doc", "")
    if not isinstance(doc, str):
        problems.append("doc: must be text")
        doc = ""
    raw_fields = data.get("fields")
    if not isinstance(raw_fields, list) or not raw_fields:
        raise SpecError([*problems, "fields: a non-empty list is required"])

    fields: list[FieldSpec] = []
    seen: set[str] = set()
    for position, raw in enumerate(raw_fields, start=1):
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
            problems.append(f"fields[{position}]: an object with a `name` is required")
            continue
        name = raw["name"]
        if not NAME.match(name):
            problems.append(f"fields[{position}]: name {name[:70]!r} must be lower case letters, digits and _, "
                            "starting with a letter (at most 63)")
            continue
        if name in seen:
            problems.append(f"{name}: listed twice")
            continue
        seen.add(name)
        extra = sorted(set(raw) - set(_FIELD_KEYS))
        if extra:
            problems.append(f"{name}: unknown keys: {', '.join(extra)}")
        base = current.by_name.get(name)
        inherited = base.as_dict() if base else {"kind": None, "nullable": False, "default": None,
                                                 "added_in": version, "deprecated_in": None, "doc": ""}
        values = {**inherited, **{k: v for k, v in raw.items() if k in _FIELD_KEYS}}
        kind = values["kind"]
        if kind not in KINDS:
            problems.append(f"{name}: kind {kind!r} is not one of {', '.join(KINDS)}")
            continue
        if not isinstance(values["nullable"], bool):
            problems.append(f"{name}: nullable must be true or false")
            continue
        if kind == "tags" and values["nullable"]:
            problems.append(f"{name}: tags cannot be nullable (an empty map, the default {{}}, means none)")
            continue
        if kind == "keys" and values["nullable"]:
            problems.append(f"{name}: keys cannot be nullable (an empty list, the default [], means none)")
            continue
        for key in ("added_in", "deprecated_in"):
            value = values[key]
            if (value is not None or key == "added_in") and (
                    isinstance(value, bool) or not isinstance(value, int) or value < 1):
                problems.append(f"{name}: {key} must be a version number")
        if not isinstance(values["doc"], str):
            problems.append(f"{name}: doc must be text")
        problem = default_problem(kind, values["nullable"], values["default"])
        if problem:
            problems.append(f"{name}: default {values['default']!r} {problem} for kind {kind}")
        fields.append(FieldSpec(**values))
    if problems:
        raise SpecError(problems)
    return SchemaSpec(version, tuple(fields), doc)
