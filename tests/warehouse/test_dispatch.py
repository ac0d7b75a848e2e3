"""The CLI sends warehouse work (export, query) to the real worker that owns the warehouse, and runs it itself only when no worker serves the queue."""

from __future__ import annotations

import json
import os
import uuid


from apps.exports.tasks import export_stream
from apps.stream.demo import generate
from apps.explorer.tasks import execute_query_run
from tests.explorer.helpers import unchecked_run
from tests.warehouse_worker import assert_never_opened, dispatch_env, files_open_under

READ_PASSWD = "SELECT file('/etc/passwd')"


def _produce(archive, n: int, *, seed: int) -> None:
    pipe = archive.redis.pipeline()
    for fields in generate(n, seed=seed):
        pipe.xadd(archive.stream, fields)
    pipe.execute()


def _warm_count(manage) -> int:
    out = manage("archive", "query", "--format", "json", "SELECT count() AS n FROM jobs_archive")
    return int(json.loads(out.stdout)[0]["n"])


def test_export_drain_runs_on_the_worker(archive, warehouse_worker):
    _produce(archive, 400, seed=41)

    done = warehouse_worker.manage("archive", "export", "--drain")

    assert "exported 400 records" in done.stdout, done.stderr
    assert "apps.exports.tasks.export_stream" in warehouse_worker.log()
    # The records are in the worker's warehouse (asked through the worker) and in the cold tier, ...
    assert _warm_count(warehouse_worker.manage) == 400
    assert archive.iceberg_rows().num_rows == 400
    # ... not in this test process's own warehouse, and the CLI never opened one of its own.
    assert archive.clickhouse_count() == 0
    assert_never_opened(warehouse_worker.cli_chdb_path)
    assert files_open_under(warehouse_worker.pid, warehouse_worker.chdb_path), "the worker holds no engine files"
    assert not files_open_under(os.getpid(), warehouse_worker.chdb_path)


def test_query_runs_on_the_worker_and_its_guard_refuses_too(archive, warehouse_worker):
    _produce(archive, 250, seed=42)
    assert warehouse_worker.run(export_stream, max_seconds=60)["records"] == 250
    assert archive.clickhouse_count() == 0  # the records exist only in the worker's warehouse

    out = warehouse_worker.manage("archive", "query", "SELECT count() FROM jobs_archive")
    assert "250" in out.stdout and "1 rows" in out.stderr, out
    assert _warm_count(warehouse_worker.manage) == 250

    # The CLI refuses before it sends anything ...
    refused = warehouse_worker.manage("archive", "query", READ_PASSWD, check=False)
    assert refused.returncode != 0
    assert "refused: function file()" in refused.stderr
    assert "root:" not in refused.stdout + refused.stderr
    assert_never_opened(warehouse_worker.cli_chdb_path)

    # ... and the worker refuses what reaches it without the CLI's check: the run ends refused, no file read.
    run = unchecked_run(READ_PASSWD)
    done = warehouse_worker.run(execute_query_run, run_id=str(run.pk), rows_back=10)
    assert done["run"]["state"] == "refused" and done["rows"] == []
    assert done["run"]["error"].startswith("refused: function file()")
    assert "root:" not in repr(done)


def test_without_a_worker_the_cli_runs_the_work_itself(archive, tmp_path):
    chdb_path = tmp_path / "cli-chdb"
    env = dispatch_env(archive, queue=f"warehouse-test-unserved-{uuid.uuid4().hex[:10]}", chdb_path=chdb_path)

    def manage(*args):
        return archive.manage(*args, env=env)

    manage("archive", "migrate")
    _produce(archive, 120, seed=43)
    done = manage("archive", "export", "--drain")
    out = manage("archive", "query", "--format", "json", "SELECT count() AS n FROM jobs_archive")

    assert "exported 120 records" in done.stdout
    assert json.loads(out.stdout) == [{"n": 120}]
    assert out.stderr.strip() == "", out.stderr  # nothing wrong to report
    # The CLI made the archive's database in a warehouse of its own.
    assert (chdb_path / "metadata" / f"{archive.database}.sql").exists()
