"""The one entry point to the Iceberg catalog: a SQL catalog in the portal's PostgreSQL database."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from pyiceberg.catalog.sql import SqlCatalog
from sqlalchemy.engine import URL

from apps.lake.s3 import S3Config


@dataclass(frozen=True)
class CatalogTarget:
    """Where the catalog is, as plain values: one SqlCatalog (and its pool) per distinct target."""

    uri: str
    warehouse: str
    io_props: tuple[tuple[str, str], ...]

    @classmethod
    def from_settings(cls) -> CatalogTarget:
        cfg = S3Config.from_settings()
        return cls(
            uri=_catalog_uri(),
            warehouse=f"s3://{cfg.bucket}/iceberg",
            io_props=tuple(sorted(io_properties(cfg).items())),
        )


def _catalog_uri() -> str:
    # Read at call time, so tests (which rename the database) get their own catalog.
    from django.db import connection

    return catalog_uri(connection.settings_dict)


def catalog_uri(db: dict) -> str:
    """The SQLAlchemy URL of a Django database; user and password escaped, whatever they contain."""
    return URL.create(
        "postgresql+psycopg",
        username=db.get("USER") or None,
        password=db.get("PASSWORD") or None,
        host=db.get("HOST") or "127.0.0.1",
        port=int(db.get("PORT") or 5432),
        database=db["NAME"],
    ).render_as_string(hide_password=False)


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


_catalogs: dict[CatalogTarget, SqlCatalog] = {}
_lock = threading.Lock()


def catalog_for(target: CatalogTarget) -> SqlCatalog:
    with _lock:
        if target not in _catalogs:
            _catalogs[target] = SqlCatalog("archive", uri=target.uri, warehouse=target.warehouse, **dict(target.io_props))
        return _catalogs[target]


def get_catalog() -> SqlCatalog:
    return catalog_for(CatalogTarget.from_settings())


def close_catalogs() -> None:
    """Close the catalogs' database pools (their connections outlive Django's otherwise)."""
    with _lock:
        for catalog in _catalogs.values():
            catalog.engine.dispose()
        _catalogs.clear()
