"""Query runs through a real worker that owns the warehouse: the CLI submits, the worker runs and stores."""

from __future__ import annotations

import json

from apps.audit.models import AuditEvent
from apps.explorer.models import QueryRun, RunState
from apps.exports.tasks import export_stream
from apps.stream.demo import generate
from tests.roles import user_in
from tests.warehouse_worker import assert_never_opened


def test_cli_query_runs_on_the_worker_as_the_user(archive, warehouse_worker):
    pipe = archive.redis.pipeline()
    for fields in generate(150, seed=71):
        pipe.xadd(archive.stream, fields)
    pipe.execute()
    assert warehouse_worker.run(export_stream, max_seconds=60)["records"] == 150
    analyst = user_in("Analyst", "ana")

    out = warehouse_worker.manage("archive", "query", "--as", "ana", "--format", "json",
                                  "SELECT count() AS n FROM jobs_all")
    assert json.loads(out.stdout) == [{"n": 150}], out.stderr
    out = warehouse_worker.manage("archive", "query", "--as", "ana", "--format", "json", "--template", "queue_health",
                                  "--param", "from=2000-01-01T00:00:00+00:00")
    assert sum(r["jobs"] for r in json.loads(out.stdout)) == 150, out.stderr
    assert "apps.explorer.tasks.execute_query_run" in warehouse_worker.log()
    assert_never_opened(warehouse_worker.cli_chdb_path)
    runs = QueryRun.objects.order_by("submitted_at")
    assert [(r.state, r.user_id, r.via) for r in runs] == [(RunState.SUCCEEDED, analyst.pk, "cli")] * 2
    assert AuditEvent.objects.filter(action="query.run", actor="ana").count() == 2
