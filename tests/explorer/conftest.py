"""Explorer fixtures: an archive with 300 demo jobs exported to both tiers (and those records), an analyst."""

from __future__ import annotations

import pytest

from apps.accounts.actors import Actor
from apps.exports.exporter import Exporter
from apps.stream.demo import generate
from tests.roles import user_in


@pytest.fixture
def exported(archive):
    pipe = archive.redis.pipeline()
    for fields in generate(300, seed=3):
        pipe.xadd(archive.stream, fields)
    pipe.execute()
    Exporter().run()
    return archive


@pytest.fixture
def records(exported):
    """The exported records, as the cold tier holds them."""
    return exported.iceberg_rows().to_pylist()


@pytest.fixture
def analyst():
    return Actor.of_user(user_in("Analyst", "ana"))
