"""A live queue's Celery app for the restore tests: a real worker (`celery -A tests.restore_target worker`)
runs `tests.restore_target.ran`, which writes the arguments it got to a Redis list, so a test sees
that a restored job really ran. Plain Celery, no Django: it stands for the job queue's own workers."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import redis
from celery import Celery

BROKER = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
TASK = "tests.restore_target.ran"
# Not the current app: the portal's shared tasks in the test process must keep resolving to the portal's
# (eager) app, not to this one, whose tasks go to the broker.
app = Celery("restore-target", broker=BROKER, set_as_current=False)
app.conf.update(task_serializer="json", accept_content=["json"], worker_hijack_root_logger=False)


def ran_key(queue: str) -> str:
    return f"restore-target:ran:{queue}"


@app.task(name=TASK, bind=True)
def ran(self, *args, **kwargs):
    queue = (self.request.delivery_info or {}).get("routing_key") or "celery"
    redis.Redis.from_url(BROKER).rpush(ran_key(queue), json.dumps({"args": args, "kwargs": kwargs,
                                                                  "restore": (self.request.headers or {})
                                                                  .get("archive_restore")}))


@dataclass
class TargetWorker:
    """A worker of the live queue's app, serving `queue` only (started by a test, stopped after it)."""

    queue: str
    log_path: Path
    process: subprocess.Popen | None = field(default=None, repr=False)

    def start(self, timeout: float = 60) -> None:
        from tests.conftest import ROOT, dies_with_this_process

        node = f"{self.queue}@{socket.gethostname()}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "tests.restore_target", "worker", "--pool", "solo", "-Q", self.queue,
             "-n", node, "--without-gossip", "--without-mingle", "--loglevel", "INFO"],
            cwd=ROOT, env={**os.environ, "TEST_REDIS_URL": BROKER}, stdout=self.log_path.open("w"),
            stderr=subprocess.STDOUT, preexec_fn=dies_with_this_process())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            replies = app.control.inspect(destination=[node], timeout=1).active_queues() or {}
            if any(q.get("name") == self.queue for queues in replies.values() for q in queues):
                return
            if self.process.poll() is not None:
                break
        raise AssertionError(f"the live queue's worker did not start:\n{self.log_path.read_text()[-3000:]}")

    def ran(self, *, expect: int = 1, timeout: float = 30) -> list[dict]:
        """What the worker ran, once it ran `expect` jobs (or AssertionError after `timeout` seconds)."""
        connection = redis.Redis.from_url(BROKER)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = [json.loads(item) for item in connection.lrange(ran_key(self.queue), 0, -1)]
            if len(done) >= expect:
                return done
            time.sleep(0.1)
        raise AssertionError(f"the worker ran {len(done)} of {expect} jobs:\n{self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
        redis.Redis.from_url(BROKER).delete(ran_key(self.queue))


def new_queue() -> str:
    return f"live-{uuid.uuid4().hex[:10]}"
