"""A real `archive erasure run` is SIGKILLed at each of its crash points; the request is then failed at
the step it died in, and a second run completes it: counts exact, the subject nowhere, others once.

The warehouse is handed between processes: this process closes its chDB engine
(`apps.warehouse.client.release`) and the runs open the same data path; the checks here open it again.
"""

from __future__ import annotations

import json
import signal

import pytest

from apps.lake.table import load_table
from apps.warehouse import client as ch
from tests.erasure.helpers import (
    TYPED,
    cli,
    cli_json,
    found_anywhere,
    others_exactly_once,
    parts_left,
    spread_subject,
    stored_copy,
    subject_parts,
)
from tests.roles import user_in

# Each crash point and the step it is in: the run dies right after the point's work, before its result.
CRASH_POINTS = [
    ("erasure_stream", "stream"),
    ("erasure_dead_letters", "dead_letters"),
    ("erasure_warm_mutated", "warm"),  # the mutation ran, its old parts not yet gone from disk
    ("erasure_warm", "warm"),
    ("erasure_rehydrated", "rehydrated"),
    ("erasure_cold_deleted", "cold"),  # the Iceberg delete committed, older snapshots not expired
    ("erasure_cold_expired", "cold"),  # expired, the old files not removed
    ("erasure_cold", "cold"),
    ("erasure_copies", "copies"),
    ("erasure_subject_index", "subject_index"),
]
EXACT = ("stream", "dead_letters", "warm", "cold", "rehydrated")
BACKGROUND = 200


def _run(archive, chdb_path, request_id: int, **env):
    return archive.manage("archive", "erasure", "run", str(request_id), "--format", "json", check=False,
                          chdb_path=chdb_path, env=env, timeout=600)


@pytest.mark.parametrize(("point", "step"), CRASH_POINTS, ids=[p for p, _ in CRASH_POINTS])
def test_a_run_killed_at_a_crash_point_resumes_and_counts_once(archive, _chdb_path, point, step):
    spread = spread_subject(archive, background=BACKGROUND)
    copy = stored_copy()
    user_in("Compliance Officer", "officer_a")
    user_in("Compliance Officer", "officer_b")
    parts = subject_parts()
    filed = cli_json("erasure", "file", "--subject", TYPED, "--basis", "GDPR art. 17(1)(a)",
                     "--reason", "DSR-9", "--by", "officer_a")
    preview = cli_json("erasure", "preview", str(filed["id"]))
    assert all(preview["counts"][place] for place in EXACT), preview["counts"]
    assert preview["counts"]["copies"] == copy.records
    cli("erasure", "approve", str(filed["id"]), "--by", "officer_b")
    snapshots = len(load_table().snapshots())  # the erasure expires every one of them

    ch.release()  # the runs below open this process's chDB path
    crashed = _run(archive, _chdb_path, filed["id"], ARCHIVE_EXPORT_CRASH_AT=point)
    assert crashed.returncode == -signal.SIGKILL, f"{point}: {crashed.stdout}\n{crashed.stderr}"
    shown = cli_json("erasure", "show", str(filed["id"]))
    assert (shown["state"], shown["step"]) == ("failed", step), shown
    assert "process died" in shown["error"]

    resumed = _run(archive, _chdb_path, filed["id"])
    assert resumed.returncode == 0, f"{point}: {resumed.stdout}\n{resumed.stderr}"
    done = json.loads(resumed.stdout)
    assert done["state"] == "completed", done
    assert done["attempts"] == 2 and done["verification"]["passed"] is True
    assert {p: done["counts"][p] for p in EXACT} == {p: preview["counts"][p] for p in EXACT}
    assert done["counts"]["copies"] == copy.records and done["counts"]["subject_index"] > 0
    results = {s["name"]: s["result"] for s in done["steps"]}
    assert results["warm"]["parts_rewritten"] > 0
    cold = results["cold"]
    assert cold["snapshots_expired"] == snapshots
    assert 0 < cold["files_rewritten"] <= preview["files"]["to_rewrite"]
    assert cold["files_removed"] == cold["files_rewritten"] and cold["still_referenced"] == 0
    assert cold["versions_removed"] >= cold["files_removed"] + cold["metadata_removed"] > 0

    after = found_anywhere(archive)
    assert after == {key: 0 for key in after}, after
    assert parts_left(parts) == []
    assert others_exactly_once(spread["background"]) == (BACKGROUND, BACKGROUND)
