"""One retention run or purge at a time, across every worker: a PostgreSQL advisory lock.

A purge racing tiering could delete warm rows of a group being moved, or two runs could compact
one day twice; runs are hourly and idempotent, so the next simply waits for the current one.
"""

from __future__ import annotations

from contextlib import contextmanager

from apps.core import postgres

_NAMESPACE = 0x41524348  # "ARCH", as the export ledger's batch locks
_RUNS = 1


@contextmanager
def one_run_at_a_time():
    """Hold the runs' lock for the block; waits while another run holds it."""
    with postgres.connect(autocommit=True, application_name="archive-retention-run") as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", [_key()])
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", [_key()])


def _key() -> int:
    # The one-argument (bigint) form lives apart from the two-argument form the batch locks use.
    return (_NAMESPACE << 32) | _RUNS
