"""Explorer fixtures: an archive with 300 demo jobs exported to both tiers, and users in each role."""

from __future__ import annotations

import pytest

from apps.exports.exporter import Exporter
from apps.stream.demo import generate


@pytest.fixture
def exported(archive):
    pipe = archive.redis.pipeline()
    for fields in generate(300, seed=3):
        pipe.xadd(archive.stream, fields)
    pipe.execute()
    Exporter().run()
    return archive
