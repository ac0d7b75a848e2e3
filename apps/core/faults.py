"""Crash points for the crash tests: SIGKILL this process right after a named step (export, tiering, compaction).

Inactive unless ARCHIVE_EXPORT_CRASH_AT is set (e.g. `clickhouse_written:2` = die right after
the second ClickHouse write, before the ledger records it). Production never sets it.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

_SPEC = os.environ.get("ARCHIVE_EXPORT_CRASH_AT", "")
_seen: Counter = Counter()


def checkpoint(name: str) -> None:
    if not _SPEC:
        return
    target, _, nth = _SPEC.partition(":")
    if target != name:
        return
    _seen[name] += 1
    if _seen[name] >= int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
