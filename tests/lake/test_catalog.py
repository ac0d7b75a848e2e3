"""The Iceberg catalog's database URL: built from Django's database settings, any password survives it."""

from __future__ import annotations

from django.db import connection
from sqlalchemy.engine import make_url

from apps.lake.catalog import CatalogTarget

AWKWARD = "p@ss:/%#?w rd"


def test_user_and_password_are_escaped_in_the_catalog_url(monkeypatch):
    db = connection.settings_dict
    monkeypatch.setitem(db, "PASSWORD", AWKWARD)
    url = make_url(CatalogTarget.from_settings().uri)
    assert (url.username, url.password, url.host, url.port, url.database) == (
        db["USER"], AWKWARD, db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432), db["NAME"])

    monkeypatch.setitem(db, "USER", "ops@example:1")
    assert make_url(CatalogTarget.from_settings().uri).username == "ops@example:1"
