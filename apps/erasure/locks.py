"""Who is running an erasure: a PostgreSQL advisory lock per request, held by the running process.

The lock goes with its process: a run that was killed leaves its request `executing` with the
lock free, which `abandoned()` tells apart from a run still going (apps.erasure.services reaps it
into `failed` at the step it reached, ready for a retry).
"""

from __future__ import annotations

from contextlib import contextmanager

from apps.core import postgres

_NAMESPACE = 0x45524153  # "ERAS"


@contextmanager
def running(request_id: int):
    """Hold the request's lock for the block; refuses when another process runs it."""
    with postgres.connect(autocommit=True, application_name="archive-erasure") as conn:
        got = conn.execute("SELECT pg_try_advisory_lock(%s, %s)", [_NAMESPACE, request_id]).fetchone()[0]
        if not got:
            raise RunningElsewhere(f"erasure request {request_id} is being run by another process")
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s, %s)", [_NAMESPACE, request_id])


class RunningElsewhere(RuntimeError):
    pass


def is_running(request_id: int) -> bool:
    with postgres.connect(autocommit=True, application_name="archive-erasure-check") as conn:
        got = conn.execute("SELECT pg_try_advisory_lock(%s, %s)", [_NAMESPACE, request_id]).fetchone()[0]
        if got:
            conn.execute("SELECT pg_advisory_unlock(%s, %s)", [_NAMESPACE, request_id])
        return not got
