"""Retention runs and purges from the command line go to the real worker that owns the warehouse."""

from __future__ import annotations

import json

from apps.retention.models import RetentionRun
from tests.retention.helpers import T0, four_eyes, produce
from tests.warehouse_worker import assert_never_opened


def _emails(worker) -> int:
    out = worker.manage("archive", "query", "--format", "json",
                        "SELECT count() AS n FROM jobs_all WHERE queue = 'emails'")
    return int(json.loads(out.stdout)[0]["n"])


def test_a_retention_run_and_a_purge_run_on_the_worker(archive, warehouse_worker):
    produce(archive, 600, now=T0, days=10, seed=81)
    warehouse_worker.manage("archive", "export", "--drain")
    emails = _emails(warehouse_worker)
    assert emails > 0

    dry = json.loads(warehouse_worker.manage("archive", "run", "--dry-run", "--json").stdout)
    assert dry["state"] == "previewed" and dry["plan"]["tiering"]["records"] == 600  # March is past its warm days
    assert "apps.retention.tasks.execute_run" in warehouse_worker.log()

    preview = json.loads(warehouse_worker.manage("archive", "purge", "--older-than", "1d", "--queue", "emails",
                                                 "--dry-run", "--json").stdout)
    assert preview["plan"]["records"] == emails
    sre, officer = four_eyes()
    asked = warehouse_worker.manage("archive", "purge", "--confirm", "--preview", str(preview["run"]), "--by", "sre")
    approval = asked.stdout.strip().splitlines()[-1].removeprefix("approval ")
    assert _emails(warehouse_worker) == emails  # asking removed nothing
    done = json.loads(warehouse_worker.manage("archive", "approval", "approve", approval, "--by", officer.username,
                                              "--format", "json").stdout)["run_report"]
    assert done["state"] == "done" and done["result"]["records"] == emails

    assert _emails(warehouse_worker) == 0
    assert archive.clickhouse_count() == 0  # this process's own warehouse never had anything
    assert_never_opened(warehouse_worker.cli_chdb_path)
    assert RetentionRun.objects.filter(state="done").get().preview_id == preview["run"]
