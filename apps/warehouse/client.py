"""The one entry point to ClickHouse: client per thread, query settings, tags and bound parameters.

`CLICKHOUSE_URL=chdb:///path` selects the embedded engine (one process per path, see
docs/architecture notes); `http(s)://user:pass@host:8123` a server. Identifiers (the database)
are validated here; values are always bound parameters.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import clickhouse_connect
import pyarrow as pa
from django.conf import settings

logger = logging.getLogger(__name__)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_local = threading.local()
_opened: list = []  # every client this process opened, in any thread (release closes them all)
_opened_lock = threading.Lock()
_generation = 0  # bumped by release: a thread's client from before is closed and opened again
_forbidden_here: str | None = None  # set in processes that must never open the warehouse (the web)


class WarehouseError(RuntimeError):
    """ClickHouse refused or failed a statement; the message is safe to show to the user."""


def identifier(name: str) -> str:
    if not _IDENTIFIER.match(name):
        raise WarehouseError(f"{name!r} is not a valid ClickHouse identifier")
    return name


def database() -> str:
    return identifier(settings.CLICKHOUSE_DATABASE)


def is_embedded() -> bool:
    return settings.CLICKHOUSE_URL.startswith("chdb:")


def embedded_path() -> str | None:
    return settings.CLICKHOUSE_URL.removeprefix("chdb://") if is_embedded() else None


def forbid_in_this_process(who: str) -> None:
    """From now on this process refuses to open the warehouse: `who` (the web) submits work instead.

    With chDB a second process on the data path takes the engine's lock from the worker, or fails
    on it; a request would also block for as long as the work takes.
    """
    global _forbidden_here
    _forbidden_here = who


def _engine_options() -> dict[str, str]:
    """Options the embedded engine starts with (the first client of a process starts it).

    user_files_path is an empty directory of our own, the value a server would confine file()
    to. chDB runs as clickhouse-local, where file() and INTO OUTFILE ignore it and reach any
    path (checked with chDB 26.9), so the query guard (apps.warehouse.guard) is the defence
    there; the setting makes an engine that starts to honour it find nothing to read.
    """
    files = Path(settings.CLICKHOUSE_USER_FILES_PATH)
    files.mkdir(parents=True, exist_ok=True)
    return {"user_files_path": str(files)}


def get_client():
    """A client for the configured URL, one per thread (chDB handles carry per-client state)."""
    if _forbidden_here:
        raise WarehouseError(f"{_forbidden_here} never opens the warehouse; its work goes to the worker that owns "
                             "it (apps.warehouse.dispatch)")
    url = settings.CLICKHOUSE_URL
    client = getattr(_local, "client", None)
    if client is None or _local.url != url or _local.generation != _generation:
        if is_embedded():
            path = embedded_path()
            Path(path).mkdir(parents=True, exist_ok=True)
            client = clickhouse_connect.get_client(dsn=f"chdb://{path}", chdb_options=_engine_options())
        else:
            client = clickhouse_connect.get_client(dsn=url, connect_timeout=5, send_receive_timeout=300)
        with _opened_lock:
            _opened.append(client)
            _local.client, _local.url, _local.generation = client, url, _generation
    return client


def release() -> None:
    """Close every client of this process, whatever thread opened it. With chDB the engine stops
    once none is open, so another process may take its data path (a test hands the warehouse to a
    `manage.py` it runs, then reads it again: the next query here opens a new client)."""
    global _generation
    with _opened_lock:
        clients, _opened[:] = list(_opened), []
        _generation += 1
    for client in clients:
        client.close()


def utc_naive(value: datetime) -> datetime:
    """A moment as ClickHouse's DateTime parameters and results have it: UTC, without a zone."""
    return value.astimezone(timezone.utc).replace(tzinfo=None) if value.tzinfo else value


def render(sql: str) -> str:
    """Put the validated database name into a statement written with `{db}`."""
    return sql.replace("{db}", database())


def _settings(tag: str, extra: dict[str, Any] | None) -> dict[str, Any]:
    return {"log_comment": f"archive_portal:{tag}"[:200], **(extra or {})}


def command(sql: str, *, tag: str, parameters: dict | None = None, settings_: dict | None = None) -> Any:
    started = time.monotonic()
    try:
        return get_client().command(render(sql), parameters=parameters, settings=_settings(tag, settings_))
    finally:
        logger.debug("clickhouse %s took %.3fs", tag, time.monotonic() - started)


def query(sql: str, *, tag: str, parameters: dict | None = None, settings_: dict | None = None):
    return get_client().query(render(sql), parameters=parameters, settings=_settings(tag, settings_))


def query_arrow(sql: str, *, tag: str, parameters: dict | None = None) -> pa.Table:
    """A query's result as an Arrow table (the engine's own types)."""
    return get_client().query_arrow(render(sql), parameters=parameters, settings=_settings(tag, None))


def query_as_written(sql: str, *, tag: str, settings_: dict | None = None, parameters: dict | None = None):
    """Run `sql` exactly as given: no `{db}` rendering. For analysts' SQL, which the guard checked.

    `parameters` are bound by the engine to the text's {name:Type} placeholders; the caller makes
    sure there are such placeholders (apps.warehouse.query.check_parameters), else clickhouse-connect
    would format the text client-side."""
    return get_client().query(sql, parameters=parameters or None, settings=_settings(tag, settings_))


def insert_arrow(table: str, data: pa.Table, *, tag: str, settings_: dict | None = None) -> None:
    get_client().insert_arrow(f"{database()}.{identifier(table)}", data, settings=_settings(tag, settings_))
