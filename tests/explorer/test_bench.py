"""`archive bench --queries`: its figures come from real runs (a small load here; the figures
themselves are never asserted, only that each was measured)."""

from __future__ import annotations

import json

from apps.explorer.bench import RANGES, measure_run_overhead
from apps.explorer.models import QueryRun, RunState
from apps.explorer.templates import TEMPLATES


def test_run_overhead_goes_through_a_real_worker(archive):
    figures = measure_run_overhead(repeats=5, env=archive.env(), log=lambda _: None)
    assert figures["runs"] == 5 and figures["p95_ms"] >= figures["p50_ms"] > 0
    runs = QueryRun.objects.all()
    assert runs.count() == 8 and {r.state for r in runs} == {RunState.SUCCEEDED}  # 3 warm-up runs, then 5


def test_the_queries_bench_times_every_template_and_a_lookup(archive, tmp_path):
    result = archive.manage("archive", "bench", "--queries", "--records", "3000", "--repeats", "2", "--json",
                            chdb_path=tmp_path / "chdb", timeout=600)
    figures = json.loads(result.stdout)
    assert figures["records"] == 3000 and 0 < figures["warm_records"] < 3000
    assert set(figures["templates"]) == set(TEMPLATES) - {"job_lookup"}
    assert 300 < figures["held_refresh"]["days"] <= 365  # the loaded days (3000 records over 365), summarised first
    for name, timings in figures["templates"].items():
        # The warm table alone, beside the templates that read jobs_all (the floor to compare with).
        beside = {"warm_table_last_7_days"} if "FROM jobs_all" in TEMPLATES[name].select else set()
        assert set(timings) == {*RANGES, *beside}
        assert all(t["p95_ms"] >= t["p50_ms"] > 0 for t in timings.values())
    # A job on a cold day and one on a warm day, each found where the bench put it.
    assert figures["job_lookup"]["attempts_found"] >= 1 and figures["job_lookup"]["tiers_found"] == ["cold"]
    assert figures["job_lookup_warm"]["attempts_found"] >= 1 and figures["job_lookup_warm"]["tiers_found"] == ["warm"]
    assert figures["run_overhead"]["runs"] == 4 and figures["run_overhead"]["p50_ms"] > 0
