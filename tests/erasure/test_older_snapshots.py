"""An erasure right after a compaction: the files the compaction replaced are still read by the
snapshots kept since (time travel, the exporter's own), so the erasure removes them as well."""

from __future__ import annotations

from datetime import timedelta

from apps.lake import maintenance
from apps.lake.table import load_table
from apps.retention.models import RetentionPolicy
from apps.retention.services import retention_run
from tests.actors import TESTS
from tests.erasure.helpers import (
    TYPED,
    add,
    cli,
    cli_json,
    default_rules,
    export_all,
    found_anywhere,
    subject_entry,
)
from tests.retention.helpers import DAY_MS, T0
from tests.roles import user_in


def test_files_a_compaction_replaced_and_kept_snapshots_read_are_removed(archive):
    default_rules()
    RetentionPolicy.objects.create(warm_days=30, cold_days=0, description="global")
    now_ms = int(T0.timestamp() * 1000)
    for batch in range(3):  # three exports, so each day has three files before the compaction
        add(archive, [subject_entry(batch * 10 + i, now_ms - (i + 2) * DAY_MS - DAY_MS // 2 - batch * 1000) for i in range(4)])
        export_all()
    retention_run(actor=TESTS, dry_run=False, as_of=T0 + timedelta(days=1), steps=("compaction",))
    assert all(n == 1 for n in maintenance.day_files(load_table()).values())
    assert len(load_table().snapshots()) > 1  # no cleanup ran: the older snapshots read the small files

    user_in("Compliance Officer", "officer_a")
    user_in("Compliance Officer", "officer_b")
    filed = cli_json("erasure", "file", "--subject", TYPED, "--basis", "GDPR art. 17(1)(a)",
                     "--reason", "DSR-3", "--by", "officer_a")
    preview = cli_json("erasure", "preview", str(filed["id"]))
    assert preview["counts"]["cold"] == 12 and preview["files"]["to_rewrite"] == 4
    cli("erasure", "approve", str(filed["id"]), "--by", "officer_b")
    done = cli_json("erasure", "run", str(filed["id"]))
    assert done["state"] == "completed", (done["error"], done["verification"].get("places", {}).get("cold"))
    cold = next(s for s in done["steps"] if s["name"] == "cold")["result"]
    assert cold["files_rewritten"] == 4 and cold["older_files_removed"] == 12
    assert found_anywhere(archive)["objects"] == 0
