"""The compatibility check: one reason per way a candidate would break stored records or older producers."""

from __future__ import annotations

import pytest

from apps.schemas.compatibility import compatibility_reasons
from apps.schemas.registry import stored_fields
from apps.schemas.spec import SpecError, parse_spec, shipped_specs
from tests.schemas.conftest import NEXT, SHIPPED

SHIPPED_SPECS = shipped_specs()
CURRENT = SHIPPED_SPECS[-1]  # the registry's current version before anyone applies one


def _candidate(changes: dict | None = None, *, version: int = NEXT, drop: tuple = (), add: tuple = (),
               current=CURRENT) -> dict:
    fields = [{"name": f.name, **(changes or {}).get(f.name, {})} for f in current.fields if f.name not in drop]
    return {"version": version, "fields": fields + list(add)}


def _reasons(raw: dict, current=CURRENT, stored=()) -> list[str]:
    return compatibility_reasons(parse_spec(raw, current=current), current, stored)


def test_same_fields_as_next_version_is_compatible():
    assert _reasons(_candidate()) == []


def test_new_optional_fields_and_a_deprecation_are_compatible(next_spec):
    assert _reasons(next_spec) == []


def test_version_must_be_current_plus_one():
    assert _reasons(_candidate(version=NEXT + 1)) == [
        f"version: {NEXT + 1} must be {NEXT} (the current version is {SHIPPED})"]
    assert _reasons(_candidate(version=1))[0].startswith(f"version: 1 must be {NEXT}")


def test_type_change():
    assert _reasons(_candidate({"priority": {"kind": "long"}})) == [
        "priority: type change from int to long (stored records keep the old type; add a new field instead)"]


def test_nullable_to_required_and_back():
    assert _reasons(_candidate({"start_time": {"nullable": False}})) == [
        "start_time: nullable to required (records stored without a value would break it)"]
    assert _reasons(_candidate({"trace_id": {"nullable": True}}))[0].startswith(
        "trace_id: required to nullable changes the stored type")


def test_removal_without_deprecation():
    assert _reasons(_candidate(drop=("worker_id",))) == [
        "worker_id: removed without being deprecated first (deprecate it in one version, remove it in a later one)"]


def test_removal_after_deprecation_is_compatible_and_the_name_stays_taken():
    deprecating = parse_spec(_candidate({"worker_version": {"deprecated_in": NEXT}}), current=CURRENT)
    removing = _candidate(version=NEXT + 1, drop=("worker_version",), current=deprecating)
    assert _reasons(removing, current=deprecating, stored=stored_fields([*SHIPPED_SPECS, deprecating])) == []
    removed = parse_spec(removing, current=deprecating)
    reusing = _candidate(version=NEXT + 2, current=removed,
                         add=({"name": "worker_version", "kind": "long", "default": 0},))
    assert _reasons(reusing, current=removed, stored=stored_fields([*SHIPPED_SPECS, deprecating, removed])) == [
        "worker_version: the name belonged to a removed field and its column is still stored; choose another name"]


def test_new_required_field_without_default():
    reasons = _reasons(_candidate(add=({"name": "region", "kind": "lowcard"},)))
    assert reasons == ["region: new required field without a default (records stored earlier and producers sending "
                       "an older version would have no value; give a default or make it nullable)"]
    assert _reasons(_candidate(add=({"name": "region", "kind": "lowcard", "nullable": True},))) == []
    assert _reasons(_candidate(add=({"name": "region", "kind": "lowcard", "default": ""},))) == []


def test_default_change_and_history_rewrites():
    assert _reasons(_candidate({"tenant_id": {"default": "none"}})) == [
        "tenant_id: default change from '' to 'none' (records stored earlier already read the old default)"]
    assert _reasons(_candidate({"tenant_id": {"added_in": NEXT}})) == [
        f"tenant_id: added_in change from 1 to {NEXT} (history cannot change)"]
    assert _reasons(_candidate(add=({"name": "region", "kind": "lowcard", "default": "", "added_in": 1},))) == [
        f"region: a new field must have added_in {NEXT}, the version that adds it"]


def test_deprecation_rules():
    assert _reasons(_candidate({"job_id": {"deprecated_in": NEXT}})) == [
        "job_id: cannot be deprecated (the archive keys, partitions or deduplicates by it)"]
    assert _reasons(_candidate({"subject_keys": {"deprecated_in": NEXT}})) == [
        ("subject_keys: cannot be deprecated (the archive computes it at ingest; erasure and subject access "
         "find people by it)")]
    assert _reasons(_candidate({"worker_id": {"deprecated_in": NEXT + 3}})) == [
        f"worker_id: deprecated_in must be {NEXT}, the version that deprecates it"]
    deprecating = parse_spec(_candidate({"worker_id": {"deprecated_in": NEXT}}), current=CURRENT)
    assert _reasons(_candidate({"worker_id": {"deprecated_in": None}}, version=NEXT + 1, current=deprecating),
                    current=deprecating) == [
        f"worker_id: deprecated in version {NEXT}; that cannot be undone or moved"]
    assert _reasons(_candidate(add=({"name": "x", "kind": "string", "default": "", "deprecated_in": NEXT},))) == [
        "x: a new field cannot be deprecated in the version that adds it"]


def test_the_shipped_subject_keys_field_cannot_change_or_go():
    assert _reasons(_candidate({"subject_keys": {"kind": "tags", "default": {}}})) == [
        "subject_keys: type change from keys to tags (stored records keep the old type; add a new field instead)",
        "subject_keys: default change from [] to {} (records stored earlier already read the old default)"]
    assert _reasons(_candidate(drop=("subject_keys",)))[0].startswith("subject_keys: removed without being deprecated")
    # Another keys field may be added (the archive fills only subject_keys; the others stay []).
    assert _reasons(_candidate(add=({"name": "other_keys", "kind": "keys", "default": []},))) == []


def test_reserved_name():
    assert _reasons(_candidate(add=({"name": "payload", "kind": "string", "default": ""},))) == [
        "payload: reserved by the stream contract"]


def test_every_reason_at_once(next_spec, incompatible_file):
    import json

    applied = parse_spec(next_spec, current=CURRENT)
    reasons = _reasons(json.loads(incompatible_file.read_text()), current=applied,
                       stored=stored_fields([*SHIPPED_SPECS, applied]))
    assert reasons == [
        "start_time: nullable to required (records stored without a value would break it)",
        "worker_id: removed without being deprecated first (deprecate it in one version, remove it in a later one)",
        "region: type change from lowcard to int (stored records keep the old type; add a new field instead)",
        "region: default change from 'unknown' to 0 (records stored earlier already read the old default)",
        "customer_id: new required field without a default (records stored earlier and producers sending an older "
        "version would have no value; give a default or make it nullable)",
    ]


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ([], "must hold a JSON object"),
        ({"fields": []}, "version: a positive integer is required"),
        ({"version": NEXT}, "fields: a non-empty list is required"),
        ({"version": NEXT, "fields": [{"name": "Bad-Name", "kind": "string"}]}, "must be lower case letters"),
        ({"version": NEXT, "fields": [{"name": "x", "kind": "float"}]}, "x: kind 'float' is not one of"),
        ({"version": NEXT, "fields": [{"name": "x", "kind": "int", "default": "7"}]}, "x: default '7' must be an integer"),
        ({"version": NEXT, "fields": [{"name": "x", "kind": "int", "default": 2**40}]}, "is out of range"),
        ({"version": NEXT, "fields": [{"name": "x", "kind": "time", "default": 1764000000}]}, "epoch milliseconds"),
        ({"version": NEXT, "fields": [{"name": "x", "kind": "tags", "default": {"a": "b"}}]}, "must be {}"),
        ({"version": NEXT, "fields": [{"name": "x", "kind": "tags", "nullable": True}]}, "tags cannot be nullable"),
        ({"version": NEXT, "fields": [{"name": "x", "kind": "keys", "default": ["a"]}]}, "must be [] (no keys)"),
        ({"version": NEXT, "fields": [{"name": "x", "kind": "keys", "nullable": True}]}, "keys cannot be nullable"),
        ({"version": NEXT, "fields": [{"name": "job_id"}, {"name": "job_id"}]}, "job_id: listed twice"),
        ({"version": NEXT, "fields": [{"name": "job_id", "colour": "red"}]}, "job_id: unknown keys: colour"),
    ],
)
def test_malformed_files_are_described(raw, problem):
    with pytest.raises(SpecError) as caught:
        parse_spec(raw, current=CURRENT)
    assert any(problem in p for p in caught.value.problems), caught.value.problems


def test_seed_migrations_are_literal_copies_of_the_shipped_versions():
    import importlib

    v1, v2 = SHIPPED_SPECS
    seed = importlib.import_module("apps.schemas.migrations.0002_seed_v1")
    assert [(n, k, nu, d, doc) for n, k, nu, d, doc in seed.V1_FIELDS] == [
        (f.name, f.kind, f.nullable, f.default, f.doc) for f in v1.fields]
    assert v1.doc == seed.V1_DOC
    seed_v2 = importlib.import_module("apps.schemas.migrations.0003_seed_v2")
    assert [f.as_dict() for f in v2.fields] == [f.as_dict() for f in v1.fields] + [seed_v2.SUBJECT_KEYS]
    assert v2.doc == seed_v2.V2_DOC and (v2.version, SHIPPED) == (2, 2)


def test_the_registry_holds_the_shipped_versions_even_without_their_rows(db):
    from apps.schemas import registry
    from apps.schemas.models import SchemaVersion

    assert [(r.number, r.applied_via) for r in SchemaVersion.objects.all()] == [(1, "migration"), (2, "migration")]
    assert [s.as_dict() for s in registry.versions()] == [s.as_dict() for s in SHIPPED_SPECS]
    SchemaVersion.objects.all().delete()  # as a flushed test database has it
    assert [s.as_dict() for s in registry.versions()] == [s.as_dict() for s in SHIPPED_SPECS]
    assert registry.refresh_live_schema(force=True).version == SHIPPED
    assert registry.load_live().columns[-1].name == "subject_keys"
