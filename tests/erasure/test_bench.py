"""`archive bench --erasure` runs end to end and prints the figures the docs describe (never judged by speed)."""

from __future__ import annotations

import json

from django.contrib.auth.models import User

from apps.approvals.models import Approval
from apps.erasure.execution import STEPS
from apps.erasure.models import ErasureRequest, LateRecord, Tombstone
from tests.erasure.helpers import default_rules
from tests.roles import ensure_roles


def test_erasure_bench_prints_every_figure_and_leaves_no_request(archive, tmp_path):
    default_rules()
    ensure_roles()
    result = archive.manage("archive", "bench", "--erasure", "--records", "4000", "--json",
                            chdb_path=tmp_path / "chdb", timeout=900)
    figures = json.loads(result.stdout)

    assert figures["records"] == 4000 and figures["days"] == 60 and figures["subject_records"] == 1000
    assert figures["verification_passed"] is True and figures["state"] == "completed"
    assert figures["seconds_approval_to_verified"] > 0
    assert set(figures["step_seconds"]) == set(STEPS) and all(s is not None for s in figures["step_seconds"].values())
    # The subject is on every day; the warm tier keeps the last 30 of them, the cold tier all.
    assert figures["days_holding_subject"] == 60 and figures["warm_days_holding_subject"] == 30
    assert figures["removed"]["cold"] == 1000 and figures["removed"]["warm"] == 500
    assert figures["removed"] == figures["preview_counts"]
    assert 0 < figures["files_rewritten"] <= figures["days_holding_subject"] <= figures["files_in_table"]
    assert figures["snapshots_expired"] > 0
    # Its rows are gone (audit events stay: the chain cannot change); its officers stay for the next run.
    assert not ErasureRequest.objects.exists() and not Tombstone.objects.exists() and not LateRecord.objects.exists()
    assert not Approval.objects.exists()
    assert set(User.objects.filter(username__startswith="bench_officer_").values_list("username", flat=True)) == {
        "bench_officer_a", "bench_officer_b"}
    assert not archive.redis.keys("bench:*")
