"""Subject keys: the identifiers that say whose a record is, kept only as keyed hashes.

Rules (`SubjectKeyRule`) say where an identifier is read: a top-level payload field or a tag.
A value is normalised for its kind (an email trimmed and lower-cased, other text trimmed), then
hashed with HMAC-SHA256 under `ARCHIVE_SUBJECT_KEY_SECRET`, together with the key's name, so
`email=Ann@X.org ` and `email=ann@x.org` give one hash and `user_id=7` another than `customer_id=7`.
Pure functions over plain data: ingest, erasure requests, holds and subject access all hash the
same way. A raw identifier never leaves this module.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

SOURCES = ("payload", "tag")
KINDS = ("email", "text")
NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_")


class SubjectKeyError(ValueError):
    """A subject key or rule that cannot be used; the message says why."""


@dataclass(frozen=True)
class Rule:
    """Read `field` from the payload (top level) or the tags, as subject key `name` of `kind`."""

    name: str
    source: str
    field: str
    kind: str = "text"

    def as_dict(self) -> dict:
        return {"name": self.name, "source": self.source, "field": self.field, "kind": self.kind}


DEFAULT_RULES = (
    Rule("email", "payload", "email", "email"),
    Rule("user_id", "payload", "user_id"),
    Rule("customer_id", "payload", "customer_id"),
    Rule("user_id", "tag", "user_id"),
)


def secret() -> bytes:
    value = settings.ARCHIVE_SUBJECT_KEY_SECRET
    if not value:
        raise ImproperlyConfigured("Set ARCHIVE_SUBJECT_KEY_SECRET: subject keys are hashed with it "
                                   "(docs/operations.md); changing it later makes every stored key unfindable")
    return value.encode()


def normalise(kind: str, value) -> str:
    text = str(value).strip()
    return text.lower() if kind == "email" else text


def key_hash(name: str, value, *, kind: str = "text") -> str:
    """The stored form of one identifier: 32 hex digits (128 bits) of HMAC-SHA256."""
    text = normalise(kind, value)
    if not text:
        raise SubjectKeyError(f"an empty {name} names nobody")
    return hmac.new(secret(), f"{name}\x1f{text}".encode(), hashlib.sha256).hexdigest()[:32]


def validated(items) -> list[Rule]:
    """Rules from JSON (as `archive subject-keys get` prints them); refuses anything unclear."""
    if not isinstance(items, list):
        raise SubjectKeyError("expected a JSON array of rules, as `archive subject-keys get` prints")
    rules, seen = [], set()
    for index, item in enumerate(items, start=1):
        where = f"rule {index}"
        if not isinstance(item, dict) or set(item) - {"name", "source", "field", "kind"}:
            raise SubjectKeyError(f"{where}: expected an object with name, source, field and kind")
        rule = Rule(name=str(item.get("name", "")).strip(), source=item.get("source", ""),
                    field=str(item.get("field", "")).strip(), kind=item.get("kind", "text"))
        if not rule.name or set(rule.name) - NAME_CHARS:
            raise SubjectKeyError(f"{where}: a name is lower-case letters, digits and _ (e.g. email, user_id)")
        if rule.source not in SOURCES:
            raise SubjectKeyError(f"{where}: source must be one of {', '.join(SOURCES)}")
        if not rule.field:
            raise SubjectKeyError(f"{where}: which field? (a top-level payload field or a tag name)")
        if rule.kind not in KINDS:
            raise SubjectKeyError(f"{where}: kind must be one of {', '.join(KINDS)}")
        if (rule.source, rule.field) in seen:
            raise SubjectKeyError(f"{where}: {rule.source} field {rule.field!r} is read by an earlier rule")
        seen.add((rule.source, rule.field))
        rules.append(rule)
    return rules


def extract(rules, *, payload: str | None, tags: dict | None,
            hasher: Callable[..., str] | None = None) -> list[str]:
    """The key hashes of one record: from its full payload (JSON text, before sampling and
    redaction) and its tags. A payload that is not a JSON object yields nothing from the payload.

    `hasher` stands in for `key_hash` (same arguments, same answers): a batch passes a memoised
    one, since one person's identifiers recur in many records."""
    hasher = hasher or key_hash
    found: set[str] = set()
    document = None
    if payload and any(r.source == "payload" for r in rules):
        try:
            document = json.loads(payload)
        except ValueError:
            document = None
    for rule in rules:
        source = document if rule.source == "payload" else tags
        if not isinstance(source, dict):
            continue
        value = source.get(rule.field)
        if value is None or isinstance(value, (dict, list, bool)):
            continue
        if normalise(rule.kind, value):
            found.add(hasher(rule.name, value, kind=rule.kind))
    return sorted(found)


def parse_pair(text: str, rules) -> str:
    """`KEY=VALUE` (as typed for an erasure, a hold or subject access) as its key hash."""
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not name or not value.strip():
        raise SubjectKeyError(f"expected KEY=VALUE, e.g. email=ann@example.org (got {text!r})")
    kinds = {r.kind for r in rules if r.name == name}
    if not kinds:
        raise SubjectKeyError(f"no subject key {name!r}; the configured keys are "
                              f"{', '.join(sorted({r.name for r in rules})) or 'none'}")
    return key_hash(name, value, kind="email" if "email" in kinds else "text")
