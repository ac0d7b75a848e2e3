"""Is a candidate schema version compatible with the current one? A pure function that gives its reasons.

Compatible means: records archived under any earlier version stay readable with the candidate,
and producers still sending an earlier version keep working. So fields are only ever added
(with a default, or nullable) and deprecated; a field is removed from the contract only after a
version that deprecated it, and even then its column stays stored.
"""

from __future__ import annotations

from collections.abc import Iterable

from apps.schemas.spec import FieldSpec, SchemaSpec

# The archive keys, partitions, orders and deduplicates records by these; they cannot go away.
PROTECTED = frozenset({"job_id", "queue", "outcome", "enqueue_time", "retries", "schema_version", "stream_id"})
# Computed by the archive at ingest (version 2); erasure and subject access find people by it.
ARCHIVE_COMPUTED = frozenset({"subject_keys"})
# Stream field names that are not columns (the payload becomes payload_size/hash/sample).
RESERVED = frozenset({"payload"})


def compatibility_reasons(candidate: SchemaSpec, current: SchemaSpec,
                          stored: Iterable[FieldSpec] = ()) -> list[str]:
    """Every reason the candidate cannot follow `current`; an empty list means compatible.

    `stored` are the fields any applied version ever had (a removed field's column stays), so a
    new field cannot reuse a removed field's name with another meaning.
    """
    reasons: list[str] = []
    if candidate.version != current.version + 1:
        reasons.append(f"version: {candidate.version} must be {current.version + 1} "
                       f"(the current version is {current.version})")

    for old in current.fields:
        new = candidate.by_name.get(old.name)
        if new is None:
            if old.deprecated_in is None:
                reasons.append(f"{old.name}: removed without being deprecated first "
                               "(deprecate it in one version, remove it in a later one)")
            continue
        reasons.extend(_changed_field(old, new, candidate.version))

    stored_by_name = {f.name: f for f in stored}
    for new in candidate.fields:
        if new.name in current.by_name:
            continue
        if new.name in stored_by_name:
            reasons.append(f"{new.name}: the name belonged to a removed field and its column is still stored; "
                           "choose another name")
            continue
        reasons.extend(_new_field(new, candidate.version))
    return reasons


def _changed_field(old: FieldSpec, new: FieldSpec, version: int) -> list[str]:
    reasons = []
    name = old.name
    if new.kind != old.kind:
        reasons.append(f"{name}: type change from {old.kind} to {new.kind} (stored records keep the old type; "
                       "add a new field instead)")
    if old.nullable and not new.nullable:
        reasons.append(f"{name}: nullable to required (records stored without a value would break it)")
    elif new.nullable and not old.nullable:
        reasons.append(f"{name}: required to nullable changes the stored type (add a new field instead)")
    if new.default != old.default:
        reasons.append(f"{name}: default change from {old.default!r} to {new.default!r} "
                       "(records stored earlier already read the old default)")
    if new.added_in != old.added_in:
        reasons.append(f"{name}: added_in change from {old.added_in} to {new.added_in} (history cannot change)")
    if old.deprecated_in is not None:
        if new.deprecated_in != old.deprecated_in:
            reasons.append(f"{name}: deprecated in version {old.deprecated_in}; that cannot be undone or moved")
    elif new.deprecated_in is not None:
        if name in PROTECTED:
            reasons.append(f"{name}: cannot be deprecated (the archive keys, partitions or deduplicates by it)")
        elif name in ARCHIVE_COMPUTED:
            reasons.append(f"{name}: cannot be deprecated (the archive computes it at ingest; erasure and "
                           "subject access find people by it)")
        elif new.deprecated_in != version:
            reasons.append(f"{name}: deprecated_in must be {version}, the version that deprecates it")
    return reasons


def _new_field(new: FieldSpec, version: int) -> list[str]:
    reasons = []
    name = new.name
    if name in RESERVED:
        reasons.append(f"{name}: reserved by the stream contract")
    if new.added_in != version:
        reasons.append(f"{name}: a new field must have added_in {version}, the version that adds it")
    if not new.nullable and new.default is None:
        reasons.append(f"{name}: new required field without a default (records stored earlier and producers "
                       "sending an older version would have no value; give a default or make it nullable)")
    if new.deprecated_in is not None:
        reasons.append(f"{name}: a new field cannot be deprecated in the version that adds it")
    return reasons
