"""A query run recorded without the submitting service's checks: what a caller that skipped them would send."""

from __future__ import annotations

import hashlib

from apps.explorer.models import QueryRun


def unchecked_run(sql: str, *, allow_list: str = "Administrator", **fields) -> QueryRun:
    return QueryRun.objects.create(actor="os:test", via="cli", allow_list=allow_list, sql=sql,
                                   sql_sha256=hashlib.sha256(sql.encode()).hexdigest(), **fields)
