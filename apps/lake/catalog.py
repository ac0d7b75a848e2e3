"""The one entry point to the Iceberg catalog: a SQL catalog in the portal's PostgreSQL database."""

from __future__ import annotations

import threading

from django.db import connection
from pyiceberg.catalog.sql import SqlCatalog

from apps.lake.s3 import S3Config


def _catalog_uri() -> str:
    # Read at call time, so tests (which rename the database) get their own catalog.
    db = connection.settings_dict
    auth = db["USER"] or ""
    if db.get("PASSWORD"):
        auth += f":{db['PASSWORD']}"
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgresql+psycopg://{auth}@{host}:{port}/{db['NAME']}"


def io_properties(cfg: S3Config) -> dict[str, str]:
    props = {
        "s3.region": cfg.region,
        "s3.connect-timeout": str(cfg.connect_timeout),
        "s3.request-timeout": str(cfg.read_timeout),
    }
    if cfg.endpoint_url:
        props["s3.endpoint"] = cfg.endpoint_url
    if cfg.access_key:
        props["s3.access-key-id"] = cfg.access_key
        props["s3.secret-access-key"] = cfg.secret_key
    return props


_catalogs: dict[tuple, SqlCatalog] = {}
_lock = threading.Lock()


def _catalog(uri: str, warehouse: str, props: tuple) -> SqlCatalog:
    key = (uri, warehouse, props)
    with _lock:
        if key not in _catalogs:
            _catalogs[key] = SqlCatalog("archive", uri=uri, warehouse=warehouse, **dict(props))
        return _catalogs[key]


def close_catalogs() -> None:
    """Close the catalogs' database pools (their connections outlive Django's otherwise)."""
    with _lock:
        for catalog in _catalogs.values():
            catalog.engine.dispose()
        _catalogs.clear()


def get_catalog(cfg: S3Config | None = None) -> SqlCatalog:
    cfg = cfg or S3Config.from_settings()
    return _catalog(_catalog_uri(), f"s3://{cfg.bucket}/iceberg", tuple(sorted(io_properties(cfg).items())))
