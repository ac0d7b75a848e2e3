"""Latency figures for the benchmarks: p50 and p95 of repeated runs, in milliseconds."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def percentiles(samples_ms: list[float]) -> dict:
    """p50 (the median) and p95 (the nearest rank) of samples in ms, rounded to 0.1 ms."""
    ordered = sorted(samples_ms)
    return {"p50_ms": round(statistics.median(ordered), 1),
            "p95_ms": round(ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))], 1)}


def time_repeatedly(run: Callable[[], object], repeats: int, *, warmups: int = 3) -> dict:
    """Run `warmups` times to warm the caches, as a live system's would be (ClickHouse compiles an
    expression on its third use), then time `repeats` runs."""
    for _ in range(warmups):
        run()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        samples.append((time.perf_counter() - started) * 1000)
    return percentiles(samples)
