"""The index of archived record keys: ownership, purges, replays, expiry, and catching up with PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from hashlib import blake2b

import pytest
from django.utils import timezone

from apps.exports.models import KeyRun
from apps.exports.pipeline import key_index


def _key(name: str) -> bytes:
    return blake2b(name.encode(), digest_size=16).digest()


@pytest.fixture
def claims(transactional_db):
    claims = key_index.KeyClaims()
    yield claims
    claims.close()


LATER = date(2100, 1, 1)


def test_a_key_belongs_to_the_first_batch_that_claims_it(claims):
    first, second = uuid.uuid4(), uuid.uuid4()
    a, b, c = _key("a"), _key("b"), _key("c")

    assert claims.claim(first, [a, b], LATER) == set()
    assert claims.claim(second, [b, c], LATER) == {b}
    assert claims.claim(first, [a, b], LATER) == set()  # a replay owns what it owned
    assert claims.claim(second, [b, c], LATER) == {b}
    assert KeyRun.objects.count() == 2  # replays add nothing


def test_a_purge_takes_keys_from_every_batch(claims):
    batch = uuid.uuid4()
    a, b = _key("a"), _key("b")
    claims.claim(batch, [a, b], LATER)

    key_index.purge_keys([a, _key("never seen")], LATER)

    assert claims.claim(batch, [a, b], LATER) == {a}
    assert claims.claim(uuid.uuid4(), [_key("never seen")], LATER) == {_key("never seen")}


def test_keys_that_share_their_first_half_are_told_apart(claims):
    head = b"\x07" * 8
    x, y = head + b"\x00" * 8, head + b"\x01" * 8
    assert claims.claim(uuid.uuid4(), [x], LATER) == set()
    assert claims.claim(uuid.uuid4(), [y], LATER) == set()
    assert claims.claim(uuid.uuid4(), [x, y], LATER) == {x, y}


def test_the_index_catches_up_with_runs_of_other_processes_and_with_deletions(claims):
    other = key_index.KeyClaims()  # another exporter: its own session, the same index in this process
    try:
        other.claim(uuid.uuid4(), [_key("theirs")], LATER)
    finally:
        other.close()
    # A run written behind the index's back (as by another process) is found too.
    KeyRun.objects.create(batch=uuid.uuid4(), expires_on=LATER, keys=_key("elsewhere"), created_at=timezone.now())
    assert claims.claim(uuid.uuid4(), [_key("theirs"), _key("elsewhere")], LATER) == {_key("theirs"), _key("elsewhere")}

    KeyRun.objects.all().delete()  # a cleanup: the index must forget them
    assert claims.claim(uuid.uuid4(), [_key("theirs")], LATER) == set()


def test_expired_runs_hold_nothing(claims):
    yesterday = timezone.now().date() - timedelta(days=1)
    claims.claim(uuid.uuid4(), [_key("old")], yesterday)
    assert claims.claim(uuid.uuid4(), [_key("old")], LATER) == set()


def test_many_claims_merge_and_still_find_the_first_key(claims):
    first = [_key(f"first-{i}") for i in range(500)]
    claims.claim(uuid.uuid4(), first, LATER)
    for n in range(40):
        claims.claim(uuid.uuid4(), [_key(f"run-{n}-{i}") for i in range(100 + n)], LATER)
    assert len(key_index._index.chunks) < 10
    assert claims.claim(uuid.uuid4(), first[:3] + [_key("fresh")], LATER) == set(first[:3])
