"""Terminal dashboard fixtures: an archive with demo jobs exported to both tiers, and the snapshots the
warehouse worker keeps of it (records and bytes per tier, throughput per hour, a retention run)."""

from __future__ import annotations

import pytest

from apps.exports.exporter import Exporter
from apps.stream.demo import generate
from tests.actors import TESTS

DEMO_JOBS = 300


@pytest.fixture
def archived(archive):
    """DEMO_JOBS demo jobs exported, then what the worker computes from them, done here in-process (this
    test process owns its embedded warehouse, as the worker does in production)."""
    from apps.dashboard.services import dashboard_refresh
    from apps.explorer.services import stats_refresh
    from apps.retention.services import retention_run

    pipe = archive.redis.pipeline()
    for fields in generate(DEMO_JOBS, seed=14):
        pipe.xadd(archive.stream, fields)
    pipe.execute()
    Exporter().run()
    stats_refresh()
    dashboard_refresh(ranges=["24h"])
    retention_run(actor=TESTS, dry_run=True)
    return archive
