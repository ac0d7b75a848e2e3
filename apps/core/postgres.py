"""Direct psycopg connections to the portal's PostgreSQL server, with the settings Django uses."""

from __future__ import annotations

import psycopg
from django.db import connection


def connect(*, dbname: str | None = None, connect_timeout: int = 5, **options) -> psycopg.Connection:
    """A connection outside Django's pool: to another database (`postgres`), or for session state."""
    db = connection.settings_dict  # read at call time: tests rename the database
    return psycopg.connect(
        host=db.get("HOST") or None, port=db.get("PORT") or None, user=db.get("USER") or None,
        password=db.get("PASSWORD") or None, dbname=dbname or db["NAME"], connect_timeout=connect_timeout,
        **options,
    )


def server_address() -> str:
    db = connection.settings_dict
    return f"{db.get('HOST') or 'localhost'}:{db.get('PORT') or 5432}"
