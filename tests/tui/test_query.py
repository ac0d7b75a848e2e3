"""F5 on the Query tab: a template, or SQL, runs as an audited query run on a real warehouse worker, and
its rows appear in the table; a refused query says why."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

from apps.accounts.actors import Actor
from apps.audit.models import AuditEvent
from apps.explorer.models import QueryRun, RunState
from apps.exports.tasks import export_stream
from apps.stream.demo import generate
from apps.tui.app import ArchiveDashboard
from tests.conftest import ROOT
from tests.roles import user_in
from tests.tui.screen import screen_text, settle
from tests.warehouse_worker import assert_never_opened, real_dispatch


def test_f5_runs_a_template_and_sql_on_the_worker(archive, warehouse_worker):
    pipe = archive.redis.pipeline()
    for fields in generate(150, seed=41):
        pipe.xadd(archive.stream, fields)
    pipe.execute()
    assert warehouse_worker.run(export_stream, max_seconds=60)["records"] == 150
    analyst = user_in("Analyst", "ana")
    seen = {}

    async def scenario():
        app = ArchiveDashboard(actor=Actor.of_user(analyst, via="cli"), refresh_s=3600)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(app, pilot)
            await pilot.press("f5")  # on the Status tab: nothing runs
            await settle(app, pilot)
            await pilot.press("2")
            await pilot.click("#params")
            await pilot.press(*"from=2000-01-01")
            await pilot.press("f5")
            await settle(app, pilot)
            table = app.query_one("#results")
            seen["template"] = ([str(c.label) for c in table.columns.values()],
                                [table.get_row_at(i) for i in range(table.row_count)], screen_text(app))
            app.query_one("#template").value = "-sql-"
            await pilot.pause()
            app.query_one("#sql").text = "SELECT name FROM system.users"
            await pilot.press("f5")
            await settle(app, pilot)
            seen["refused"] = screen_text(app)

    with real_dispatch(warehouse_worker.queue):
        asyncio.run(scenario())
    columns, rows, text = seen["template"]
    assert columns[:2] == ["queue", "outcome"] and "jobs" in columns
    assert sum(int(row[columns.index("jobs")]) for row in rows) == 150
    assert f"{len(rows)} rows in" in text
    assert "apps.explorer.tasks.execute_query_run" in warehouse_worker.log()
    run = QueryRun.objects.get(template="queue_health")
    assert (run.state, run.user_id, run.via) == (RunState.SUCCEEDED, analyst.pk, "cli")
    assert run.params["from"].startswith("2000-01-01")
    assert AuditEvent.objects.filter(action="query.run", actor="ana").count() == 1
    assert "refused:" in seen["refused"] and "system.users" in seen["refused"]
    assert QueryRun.objects.filter(state=RunState.REFUSED, user_id=analyst.pk).count() == 1
    assert QueryRun.objects.count() == 2  # F5 on the Status tab ran nothing


def test_the_dashboard_process_never_opens_the_warehouse(archive, warehouse_worker):
    """A dashboard in its own process (as `archive tui` is): its query runs on the worker, and the chDB
    path that process would use is never created."""
    pipe = archive.redis.pipeline()
    for fields in generate(40, seed=43):
        pipe.xadd(archive.stream, fields)
    pipe.execute()
    assert warehouse_worker.run(export_stream, max_seconds=60)["records"] == 40
    done = subprocess.run([sys.executable, "-m", "tests.tui.headless"], check=False, cwd=ROOT,
                          env=warehouse_worker.env(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert "Oldest unexported" in seen["status"]
    jobs = seen["columns"].index("jobs")
    assert sum(int(row[jobs]) for row in seen["rows"]) == 40, seen["message"]
    assert_never_opened(warehouse_worker.cli_chdb_path, who="the dashboard's process")
