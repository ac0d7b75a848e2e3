"""A background merge after an erasure leaves inactive parts older than it; in a rehydrated table (one
partition) those can be parts that never held the subject. Verification failed on them (seen as a
flaky "still found in: rehydrated" after a crashed run was resumed, when the engine, restarted, merged
the table); it now counts an old inactive part only if its blocks overlap a part that held the subject,
at that part's data version or older (the crash tests cover the resumed run's own mutation)."""

from __future__ import annotations

import json
import signal

from apps.warehouse import client as ch
from tests.erasure.helpers import PREFIX, TYPED, cli, cli_json, found_anywhere, spread_subject
from tests.roles import user_in


def _parts(table: str, active: bool) -> list[str]:
    return [n for (n,) in ch.query("SELECT name FROM system.parts WHERE database = {d:String} AND table = {t:String} "
                                   "AND active = {a:UInt8} AND rows > 0", tag="test",
                                   parameters={"d": ch.database(), "t": table, "a": int(active)}).result_rows]


def _run(archive, chdb_path, request_id: int, **env):
    ch.release()  # the run opens this process's chDB path
    return archive.manage("archive", "erasure", "run", str(request_id), "--format", "json", check=False,
                          chdb_path=chdb_path, env=env, timeout=600)


def test_a_merge_during_the_erasure_of_parts_it_never_touched_is_not_a_leftover(archive, _chdb_path):
    table = spread_subject(archive, background=200)["rehydrated_table"]
    # Other people's rows in parts of their own, from before the erasure (the subject's part is older).
    for _ in range(2):
        ch.command(f"INSERT INTO {{db}}.{table} SELECT * FROM {{db}}.{table} "
                   f"WHERE NOT startsWith(job_id, '{PREFIX}') LIMIT 5", tag="test")
    user_in("Compliance Officer", "officer_a")
    user_in("Compliance Officer", "officer_b")
    filed = cli_json("erasure", "file", "--subject", TYPED, "--basis", "GDPR art. 17(1)(a)", "--reason", "DSR-7",
                     "--by", "officer_a")
    cli("erasure", "approve", str(filed["id"]), "--by", "officer_b")
    crashed = _run(archive, _chdb_path, filed["id"], ARCHIVE_EXPORT_CRASH_AT="erasure_rehydrated")
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr

    ch.command(f"OPTIMIZE TABLE {{db}}.{table} FINAL", tag="test")  # the merge a restarted engine may run
    assert len(_parts(table, active=False)) >= 2  # the untouched parts, inactive now, rows and all

    resumed = _run(archive, _chdb_path, filed["id"])
    assert resumed.returncode == 0, resumed.stderr
    done = json.loads(resumed.stdout)
    assert done["state"] == "completed" and done["verification"]["passed"], done
    assert found_anywhere(archive)["rehydrated"] == 0
