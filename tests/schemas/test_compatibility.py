"""The compatibility check: one reason per way a candidate would break stored records or older producers."""

from __future__ import annotations

import pytest

from apps.schemas.compatibility import compatibility_reasons
from apps.schemas.registry import stored_fields
from apps.schemas.spec import SpecError, baseline_spec, parse_spec

V1 = baseline_spec()


def _candidate(changes: dict | None = None, *, version: int = 2, drop: tuple = (), add: tuple = (),
               current=V1) -> dict:
    fields = [{"name": f.name, **(changes or {}).get(f.name, {})} for f in current.fields if f.name not in drop]
    return {"version": version, "fields": fields + list(add)}


def _reasons(raw: dict, current=V1, stored=()) -> list[str]:
    return compatibility_reasons(parse_spec(raw, current=current), current, stored)


def test_same_fields_as_next_version_is_compatible():
    assert _reasons(_candidate()) == []


def test_new_optional_fields_and_a_deprecation_are_compatible(v2_spec):
    assert _reasons(v2_spec) == []


def test_version_must_be_current_plus_one():
    assert _reasons(_candidate(version=3)) == ["version: 3 must be 2 (the current version is 1)"]
    assert _reasons(_candidate(version=1))[0].startswith("version: 1 must be 2")


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
    v2 = parse_spec(_candidate({"worker_version": {"deprecated_in": 2}}), current=V1)
    v3 = _candidate(version=3, drop=("worker_version",), current=v2)
    assert _reasons(v3, current=v2, stored=stored_fields([V1, v2])) == []
    v3_removed = parse_spec(v3, current=v2)
    v4 = _candidate(version=4, current=v3_removed,
                    add=({"name": "worker_version", "kind": "long", "default": 0},))
    assert _reasons(v4, current=v3_removed, stored=stored_fields([V1, v2, v3_removed])) == [
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
    assert _reasons(_candidate({"tenant_id": {"added_in": 2}})) == [
        "tenant_id: added_in change from 1 to 2 (history cannot change)"]
    assert _reasons(_candidate(add=({"name": "region", "kind": "lowcard", "default": "", "added_in": 1},))) == [
        "region: a new field must have added_in 2, the version that adds it"]


def test_deprecation_rules():
    assert _reasons(_candidate({"job_id": {"deprecated_in": 2}})) == [
        "job_id: cannot be deprecated (the archive keys, partitions or deduplicates by it)"]
    assert _reasons(_candidate({"worker_id": {"deprecated_in": 5}})) == [
        "worker_id: deprecated_in must be 2, the version that deprecates it"]
    v2 = parse_spec(_candidate({"worker_id": {"deprecated_in": 2}}), current=V1)
    assert _reasons(_candidate({"worker_id": {"deprecated_in": None}}, version=3, current=v2), current=v2) == [
        "worker_id: deprecated in version 2; that cannot be undone or moved"]
    assert _reasons(_candidate(add=({"name": "x", "kind": "string", "default": "", "deprecated_in": 2},))) == [
        "x: a new field cannot be deprecated in the version that adds it"]


def test_reserved_name():
    assert _reasons(_candidate(add=({"name": "payload", "kind": "string", "default": ""},))) == [
        "payload: reserved by the stream contract"]


def test_every_reason_at_once(v3_file):
    import json

    v2_raw = json.loads((v3_file.parent / "v2.example.json").read_text())
    v2 = parse_spec(v2_raw, current=V1)
    reasons = _reasons(json.loads(v3_file.read_text()), current=v2, stored=stored_fields([V1, v2]))
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
        ({"version": 2}, "fields: a non-empty list is required"),
        ({"version": 2, "fields": [{"name": "Bad-Name", "kind": "string"}]}, "must be lower case letters"),
        ({"version": 2, "fields": [{"name": "x", "kind": "float"}]}, "x: kind 'float' is not one of"),
        ({"version": 2, "fields": [{"name": "x", "kind": "int", "default": "7"}]}, "x: default '7' must be an integer"),
        ({"version": 2, "fields": [{"name": "x", "kind": "int", "default": 2**40}]}, "is out of range"),
        ({"version": 2, "fields": [{"name": "x", "kind": "time", "default": 1764000000}]}, "epoch milliseconds"),
        ({"version": 2, "fields": [{"name": "x", "kind": "tags", "default": {"a": "b"}}]}, "must be {}"),
        ({"version": 2, "fields": [{"name": "x", "kind": "tags", "nullable": True}]}, "tags cannot be nullable"),
        ({"version": 2, "fields": [{"name": "x", "kind": "keys", "default": ["a"]}]}, "must be [] (no keys)"),
        ({"version": 2, "fields": [{"name": "x", "kind": "keys", "nullable": True}]}, "keys cannot be nullable"),
        ({"version": 2, "fields": [{"name": "job_id"}, {"name": "job_id"}]}, "job_id: listed twice"),
        ({"version": 2, "fields": [{"name": "job_id", "colour": "red"}]}, "job_id: unknown keys: colour"),
    ],
)
def test_malformed_files_are_described(raw, problem):
    with pytest.raises(SpecError) as caught:
        parse_spec(raw, current=V1)
    assert any(problem in p for p in caught.value.problems), caught.value.problems


def test_seed_migration_is_a_literal_copy_of_v1():
    import importlib

    seed = importlib.import_module("apps.schemas.migrations.0002_seed_v1")
    assert [(n, k, nu, d, doc) for n, k, nu, d, doc in seed.V1_FIELDS] == [
        (f.name, f.kind, f.nullable, f.default, f.doc) for f in V1.fields]
    assert V1.doc == seed.V1_DOC
