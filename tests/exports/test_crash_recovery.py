"""A real exporter process is SIGKILLed mid-batch, at every step; after restarts the sinks hold each record once."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

from apps.exports.models import BatchState, ExportBatch
from apps.stream.demo import generate
from tests.conftest import ROOT

RECORDS = 3000
BATCH = "400"
# Each step of a batch, in order; the exporter dies right after that step, before recording it.
CRASH_POINTS = ["recorded:2", "clickhouse_written:1", "iceberg_written:2", "acknowledged:1", "clickhouse_written:3"]


def _cold_counts(archive) -> tuple[int, int]:
    rows = archive.iceberg_rows()
    keys = set(zip(rows.column("job_id").to_pylist(), rows.column("retries").to_pylist()))
    return rows.num_rows, len(keys)


def _warm_counts(archive, chdb_path) -> tuple[int, int, int]:
    """(records, distinct record ids) in the warm tier, and the records its rollup counted."""
    out = archive.manage(
        "archive", "query", "--format", "json",
        "SELECT count() AS n, uniqExact(job_id, retries) AS distinct_keys, "
        "(SELECT sum(jobs) FROM queue_hourly_stats) AS rolled_up FROM jobs_archive",
        chdb_path=chdb_path,
    )
    row = json.loads(out.stdout)[0]
    return int(row["n"]), int(row["distinct_keys"]), int(row["rolled_up"])


def test_sigkill_at_every_step_loses_and_duplicates_nothing(archive, tmp_path):
    chdb_path = tmp_path / "exporter-chdb"
    archive.manage("archive", "migrate", chdb_path=chdb_path)
    pipe = archive.redis.pipeline()
    for fields in generate(RECORDS, seed=11):
        pipe.xadd(archive.stream, fields)
    pipe.execute()

    env = {"ARCHIVE_EXPORT_BATCH_SIZE": BATCH}
    for point in CRASH_POINTS:
        crashed = archive.manage("archive", "export", "--drain", check=False, chdb_path=chdb_path,
                                 env={**env, "ARCHIVE_EXPORT_CRASH_AT": point})
        assert crashed.returncode == -signal.SIGKILL, f"{point}: {crashed.stdout}\n{crashed.stderr}"
        # A crash leaves work behind: entries not acknowledged, or a batch not marked done.
        pending = archive.redis.xpending(archive.stream, "archive-exporter")["pending"]
        unfinished = ExportBatch.objects.exclude(state=BatchState.ACKNOWLEDGED).count()
        assert pending or unfinished, point

    done = archive.manage("archive", "export", "--drain", chdb_path=chdb_path, env=env)
    assert "exported" in done.stdout

    assert archive.redis.xpending(archive.stream, "archive-exporter")["pending"] == 0
    assert ExportBatch.objects.exclude(state=BatchState.ACKNOWLEDGED).count() == 0
    assert ExportBatch.objects.filter(attempts__gt=1).exists()  # recovery really replayed batches
    assert _cold_counts(archive) == (RECORDS, RECORDS)
    assert _warm_counts(archive, chdb_path) == (RECORDS, RECORDS, RECORDS)


def _lag(archive) -> int:
    """Entries in the stream not yet delivered to the exporters' group."""
    group = next(g for g in archive.redis.xinfo_groups(archive.stream) if g["name"] == b"archive-exporter")
    return group["lag"]


def test_sigkill_from_outside_at_random_moments(archive, tmp_path):
    """No crash points: an external SIGKILL while the exporter follows a stream that keeps growing,
    each landing at a random moment while it is busy (a batch done this round, more to come)."""
    chdb_path = tmp_path / "exporter-chdb"
    archive.manage("archive", "migrate", chdb_path=chdb_path)
    env = {**archive.env(), "TEST_CHDB_PATH": str(chdb_path), "ARCHIVE_EXPORT_BATCH_SIZE": "300"}
    rng = random.Random(7)
    produced = 0
    for round_ in range(4):
        pipe = archive.redis.pipeline()
        for fields in generate(3000, seed=100 + round_):
            pipe.xadd(archive.stream, fields)
        pipe.execute()
        produced += 3000
        done_before = ExportBatch.objects.filter(state=BatchState.ACKNOWLEDGED).count()
        log = tmp_path / f"exporter-{round_}.log"
        with log.open("w") as stderr:
            proc = subprocess.Popen([sys.executable, "manage.py", "archive", "export", "--follow"], cwd=ROOT,
                                    env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        deadline = time.monotonic() + 120
        while ExportBatch.objects.filter(state=BatchState.ACKNOWLEDGED).count() == done_before:
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the exporter finished no batch"
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 0.3))
        assert _lag(archive) > 0, "the round's backlog was exported before the kill: feed more"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        # The kill interrupted work: entries delivered and not acknowledged, or a batch not marked done.
        pending = archive.redis.xpending(archive.stream, "archive-exporter")["pending"]
        unfinished = ExportBatch.objects.exclude(state=BatchState.ACKNOWLEDGED).count()
        assert pending or unfinished, f"round {round_}: the kill found the exporter idle"

    archive.manage("archive", "export", "--drain", chdb_path=chdb_path, env={"ARCHIVE_EXPORT_BATCH_SIZE": "300"})
    assert archive.redis.xpending(archive.stream, "archive-exporter")["pending"] == 0
    assert ExportBatch.objects.exclude(state=BatchState.ACKNOWLEDGED).count() == 0
    assert ExportBatch.objects.filter(attempts__gt=1).exists()  # recovery really replayed an interrupted batch
    assert _cold_counts(archive) == (produced, produced)
    assert _warm_counts(archive, chdb_path) == (produced, produced, produced)


def test_sigterm_finishes_the_current_batch_and_exits_cleanly(archive, tmp_path):
    chdb_path = tmp_path / "exporter-chdb"
    archive.manage("archive", "migrate", chdb_path=chdb_path)
    pipe = archive.redis.pipeline()
    for fields in generate(3000, seed=21):
        pipe.xadd(archive.stream, fields)
    pipe.execute()
    env = {**archive.env(), "TEST_CHDB_PATH": str(chdb_path), "ARCHIVE_EXPORT_BATCH_SIZE": "200"}
    proc = subprocess.Popen([sys.executable, "manage.py", "archive", "export", "--follow"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while ExportBatch.objects.filter(state=BatchState.ACKNOWLEDGED).count() < 2:
        assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read() if proc.poll() else "slow"
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "stopping after the current batch" in err and "exported" in out
    # Whatever it stopped at, it left nothing half-done.
    assert ExportBatch.objects.exclude(state=BatchState.ACKNOWLEDGED).count() == 0
    assert archive.redis.xpending(archive.stream, "archive-exporter")["pending"] == 0

    archive.manage("archive", "export", "--drain", chdb_path=chdb_path)
    assert _cold_counts(archive) == (3000, 3000)
    assert _warm_counts(archive, chdb_path) == (3000, 3000, 3000)
