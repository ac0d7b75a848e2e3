"""`archive bench --dashboard`: its figures come from real runs over the rollups (a small load here; the
timings themselves are never asserted, only that each was measured and the counts add up)."""

from __future__ import annotations

import json

from apps.dashboard.bench import BENCH_RANGES


def test_the_dashboard_bench_times_each_range(archive, tmp_path):
    result = archive.manage("archive", "bench", "--dashboard", "--records", "3000", "--repeats", "2", "--json",
                            chdb_path=tmp_path / "chdb", timeout=600)
    figures = json.loads(result.stdout)
    assert figures["records"] == 3000 and figures["days"] == 365
    assert set(figures["ranges"]) == set(BENCH_RANGES)
    assert all(t["p95_ms"] >= t["p50_ms"] > 0 for t in figures["ranges"].values())
    assert figures["ranges"]["24h"]["jobs"] < figures["ranges"]["30d"]["jobs"] < figures["ranges"]["all"]["jobs"] == 3000
    assert figures["rollup_rows"]["queue_hourly_stats"] > 0
