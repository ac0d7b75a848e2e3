"""The per-day summary through a real worker: beat's refresh runs where the warehouse is, and
retention_status (run from the CLI on that worker) counts what is held before and after it."""

from __future__ import annotations

import json

from apps.core.schedule import SCHEDULE
from apps.exports.tasks import export_stream
from apps.stream.demo import generate
from apps.warehouse.tasks import held_refresh
from tests.roles import user_in


def _add(archive, n: int, seed: int) -> None:
    pipe = archive.redis.pipeline()
    for fields in generate(n, seed=seed):
        pipe.xadd(archive.stream, fields)
    pipe.execute()


def _held(worker) -> int:
    out = worker.manage("archive", "query", "--as", "ana", "--format", "json", "--template", "retention_status",
                        "--param", "from=2000-01-01")
    return sum(row["records"] for row in json.loads(out.stdout))


def test_the_refresh_runs_on_the_worker_and_the_template_stays_exact(archive, warehouse_worker):
    user_in("Analyst", "ana")
    _add(archive, 150, seed=81)
    assert warehouse_worker.run(export_stream, max_seconds=60)["records"] == 150
    assert _held(warehouse_worker) == 150  # nothing summarised yet: read from jobs_all
    first = warehouse_worker.run(held_refresh)
    assert first["summarised"] > 0 and first["stale"] == 0
    assert warehouse_worker.run(held_refresh) == {"summarised": 0, "stale": 0}
    assert _held(warehouse_worker) == 150  # from the summary
    _add(archive, 40, seed=82)
    assert warehouse_worker.run(export_stream, max_seconds=60)["records"] == 40
    assert _held(warehouse_worker) == 190  # the days just written from jobs_all, the rest from the summary
    assert "apps.warehouse.tasks.held_refresh" in warehouse_worker.log()


def test_beat_refreshes_every_minute():
    entry = next(e for e in SCHEDULE if e.task == held_refresh.name)
    assert entry.every_seconds == 60 and entry.kwargs == "{}"
