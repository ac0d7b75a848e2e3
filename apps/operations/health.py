"""Health of the portal's dependencies and of the export: cheap, bounded probes, briefly cached.

`/health/` is unauthenticated and probed often, by load balancers and monitors, so every probe
has a short timeout and reads a bounded amount (a ping, a bucket HEAD, the consumer group's
summary; no aggregate over tables that grow), and the report is cached for
`HEALTH_CACHE_SECONDS` per process: a storm of probes costs one round of checks.
"""

from __future__ import annotations

import dataclasses
import threading
import time

import redis
from django.conf import settings

from apps.core import postgres
from apps.lake import s3
from apps.stream import client as streams

# Lag beyond this many seconds marks the export as degraded.
EXPORT_MAX_AGE_S = 300
PROBE_TIMEOUT_S = 1.0

_lock = threading.Lock()
_cached: tuple[float, dict] | None = None


def _postgres() -> bool:
    try:
        with postgres.connect(connect_timeout=max(1, int(PROBE_TIMEOUT_S)), options="-c statement_timeout=1000") as conn:
            conn.execute("SELECT 1")
    except Exception:
        return False
    return True


def _redis() -> redis.Redis | None:
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=PROBE_TIMEOUT_S,
                                  socket_timeout=PROBE_TIMEOUT_S)
    try:
        client.ping()
    except redis.RedisError:
        return None
    return client


def _s3() -> bool:
    cfg = dataclasses.replace(s3.S3Config.from_settings(), connect_timeout=PROBE_TIMEOUT_S,
                              read_timeout=2 * PROBE_TIMEOUT_S)
    try:
        s3.client(cfg, attempts=1).head_bucket(Bucket=cfg.bucket)
    except Exception:
        return False
    return True


def _export_age(r: redis.Redis) -> float | None:
    """Age of the oldest entry not yet exported: the group's summary, a few O(1) reads in Redis."""
    state = streams.group_state(r, streams.StreamConfig.from_settings())
    return streams.entry_age_seconds(state.oldest_unexported_id, int(time.time() * 1000))


def _report() -> dict:
    components: dict = {"postgresql": "ok" if _postgres() else "down"}
    r = _redis()
    components["redis"] = "ok" if r is not None else "down"
    components["s3"] = "ok" if _s3() else "down"
    export = "unknown"
    if r is not None:
        try:
            age = _export_age(r)
        except redis.RedisError:
            age = None
        else:
            export = "ok" if age is None or age < EXPORT_MAX_AGE_S else "lagging"
            components["export_oldest_unexported_age_s"] = age
    components["export"] = export
    down = [k for k, v in components.items() if v == "down"]
    overall = "down" if down else ("degraded" if export == "lagging" else "ok")
    return {"status": overall, "components": components}


def health_report() -> dict:
    """The report, at most HEALTH_CACHE_SECONDS old; one caller computes it while the others wait."""
    global _cached
    with _lock:
        now = time.monotonic()
        if _cached is None or now - _cached[0] >= settings.HEALTH_CACHE_SECONDS:
            _cached = (now, _report())
        return _cached[1]
