"""Through real processes: `archive list`, `show` and `restore` hand their work to the warehouse worker, and
the restored job runs on a real Celery worker of the live queue."""

from __future__ import annotations

import json
import time

import pytest

from apps.retention.models import RetentionPolicy
from tests.restore_target import TASK, TargetWorker, new_queue
from tests.roles import user_in
from tests.warehouse_worker import assert_never_opened


@pytest.fixture
def live_worker(tmp_path):
    worker = TargetWorker(queue=new_queue(), log_path=tmp_path / "live-worker.log")
    try:
        worker.start()
        yield worker
    finally:
        worker.stop()


def test_list_show_and_restore_run_on_the_workers(archive, warehouse_worker, live_worker):
    queue = live_worker.queue
    RetentionPolicy.objects.create(queue=queue, payload_mode="full")
    now = int(time.time() * 1000)
    call = {"args": ["INV-7"], "kwargs": {"resend": True}}
    for job, retries in (("inv-7", 0), ("inv-7", 1), ("inv-8", 0)):
        archive.redis.xadd(archive.stream, {"job_id": job, "queue": queue, "outcome": "failed", "retries": str(retries),
                                            "enqueue_time": str(now - 1000 + retries), "payload": json.dumps(call),
                                            "tags": json.dumps({"task": TASK}), "worker_id": "w-1"})
    warehouse_worker.manage("archive", "export", "--drain")
    user_in("SRE", "sam")

    listed = json.loads(warehouse_worker.manage("archive", "list", "--queue", queue, "--status", "failed",
                                                "--format", "json").stdout)
    assert sorted((j["job_id"], j["retries"]) for j in listed) == [("inv-7", 0), ("inv-7", 1), ("inv-8", 0)]
    shown = json.loads(warehouse_worker.manage("archive", "show", "inv-7", "--format", "json").stdout)
    assert [a["retries"] for a in shown["attempts"]] == [0, 1] and all(a["restorable"] for a in shown["attempts"])
    assert shown["attempts"][0]["tags"] == {"task": TASK} and shown["attempts"][0]["tier"] == "warm"

    out = warehouse_worker.manage("archive", "restore", "inv-7", "--to", "celery", "--by", "sam", "--format", "json")
    done = json.loads(out.stdout)
    assert done["state"] == "done" and done["restored"] == 1
    [ran] = live_worker.ran(expect=1)
    assert ran == {"args": ["INV-7"], "kwargs": {"resend": True}, "restore": done["id"]}

    again = warehouse_worker.manage("archive", "restore", "inv-7", "--to", "celery", "--by", "sam", check=False)
    assert again.returncode != 0 and "already restored" in again.stderr.strip().splitlines()[-1]
    assert_never_opened(warehouse_worker.cli_chdb_path)
