"""A real Celery worker that owns a chDB path of its own, for tests of the dispatch path; checks that a process never opened one."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from celery import Task
from celery.result import EagerResult
from django.test import override_settings

from archive_portal.celery import app
from tests.conftest import ROOT, Archive, dies_with_this_process

START_TIMEOUT = 60


def dispatch_env(archive: Archive, *, queue: str, chdb_path: Path) -> dict[str, str]:
    """Environment of a CLI process that dispatches for real (not eagerly) to `queue`, with `chdb_path` as its own."""
    return {**archive.env(), "DJANGO_SETTINGS_MODULE": "archive_portal.settings.test",
            "ARCHIVE_TEST_CELERY_EAGER": "false", "ARCHIVE_WAREHOUSE_QUEUE": queue, "TEST_CHDB_PATH": str(chdb_path)}


def files_open_under(pid: int, directory: Path) -> list[str]:
    """The files that process `pid` holds open under `directory` (from /proc/<pid>/fd)."""
    prefix = f"{Path(directory).resolve()}/"
    opened = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(FileNotFoundError):  # closed while we looked
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith(prefix):
                opened.append(target)
    return opened


def assert_never_opened(chdb_path: Path, who: str = "the CLI process") -> None:
    """`get_client` creates a chDB path on first use, so a path that does not exist was never opened."""
    assert not chdb_path.exists(), f"{who} opened its own chDB at {chdb_path} instead of sending its work to the worker"


@contextlib.contextmanager
def real_dispatch(queue: str):
    """In this (eager) test process: tasks sent now go to `queue` through the broker, as in production."""
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        with override_settings(CELERY_TASK_ALWAYS_EAGER=False, WAREHOUSE_QUEUE=queue):
            yield
    finally:
        app.conf.task_always_eager = previous


@dataclass
class WarehouseWorker:
    """A worker started like `make run`'s, serving only `queue` and owning `chdb_path`."""

    archive: Archive
    queue: str
    node: str
    chdb_path: Path
    cli_chdb_path: Path
    log_path: Path
    process: subprocess.Popen | None = field(default=None, repr=False)

    @classmethod
    def for_test(cls, archive: Archive, tmp_path: Path) -> WarehouseWorker:
        queue = f"warehouse-test-{uuid.uuid4().hex[:10]}"
        return cls(archive=archive, queue=queue, node=f"{queue}@{socket.gethostname()}",
                   chdb_path=tmp_path / "worker-chdb", cli_chdb_path=tmp_path / "cli-chdb",
                   log_path=tmp_path / "worker.log")

    def start(self) -> None:
        """Migrate the worker's chDB path (as `make run`'s worker does first), start it, wait until it serves its queue."""
        self.archive.manage("archive", "migrate", chdb_path=self.chdb_path)
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "archive_portal", "worker", "--pool", "threads",
                 "--concurrency", "2", "-Q", self.queue, "-n", f"{self.queue}@%h", "--without-gossip",
                 "--without-mingle", "--without-heartbeat", "--loglevel", "INFO"],
                cwd=ROOT, env=dispatch_env(self.archive, queue=self.queue, chdb_path=self.chdb_path),
                stdout=log, stderr=subprocess.STDOUT, preexec_fn=dies_with_this_process(),
            )
        deadline = time.monotonic() + START_TIMEOUT
        while not self._serves_queue():
            if self.process.poll() is not None:
                raise AssertionError(f"the warehouse worker exited with {self.process.returncode}:\n{self.log()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"the warehouse worker did not answer within {START_TIMEOUT} s:\n{self.log()}")

    def _serves_queue(self) -> bool:
        """What the CLI asks (apps.warehouse.dispatch.warehouse_worker_live), of this node only."""
        replies = app.control.inspect(destination=[self.node], timeout=0.5).active_queues() or {}
        return any(q.get("name") == self.queue for queues in replies.values() for q in queues)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # warm shutdown: running tasks finish
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        # Whatever is left of this queue in the shared Redis database.
        self.archive.redis.delete(self.queue, f"_kombu.binding.{self.queue}")

    @property
    def pid(self) -> int:
        return self.process.pid

    def env(self) -> dict[str, str]:
        """For CLI processes that dispatch to this worker: eager off, its queue, and a chDB path of their own
        (`cli_chdb_path`) that is never created if they send their work here as they should."""
        return dispatch_env(self.archive, queue=self.queue, chdb_path=self.cli_chdb_path)

    def manage(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
        """`manage.py ...` as a CLI process that dispatches to this worker."""
        return self.archive.manage(*args, env=self.env(), check=check, timeout=timeout)

    def run(self, task: Task, *, timeout: float = 120, **kwargs):
        """Send `task` straight to this worker (no CLI in between, whatever this process's eager setting) and
        wait for its result; an error the task raised on the worker is raised here."""
        with real_dispatch(self.queue):
            result = task.apply_async(kwargs=kwargs, queue=self.queue)
            assert not isinstance(result, EagerResult), "the task ran here, not on the worker"
            return result.get(timeout=timeout, propagate=True)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
