"""Reachability checks for the services the portal needs, with messages a person can act on."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
import redis
from django.conf import settings
from django.db import connection

from apps.core import postgres
from apps.lake.s3 import S3Config, reachable


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def check_postgres() -> Check:
    where = postgres.server_address()
    try:
        with postgres.connect(dbname="postgres", connect_timeout=3):
            pass
    except psycopg.Error as exc:
        return Check("PostgreSQL", False, f"cannot connect to PostgreSQL at {where} ({str(exc).strip().splitlines()[0]}); "
                     "start it or set DATABASE_URL")
    return Check("PostgreSQL", True, where)


def check_redis() -> Check:
    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        return Check("Redis", False, f"cannot connect to Redis at {settings.REDIS_URL} ({exc}); start it or set REDIS_URL")
    return Check("Redis", True, settings.REDIS_URL)


def check_s3() -> Check:
    cfg = S3Config.from_settings()
    if reachable(cfg):
        return Check("S3", True, f"{cfg.endpoint_url or 'AWS'} bucket {cfg.bucket}")
    return Check("S3", False, f"cannot reach bucket {cfg.bucket} at {cfg.endpoint_url or 'AWS'}; check S3_ENDPOINT_URL and credentials")


def ensure_database() -> bool:
    """Create the portal's PostgreSQL database if it does not exist; True if created."""
    name = connection.settings_dict["NAME"]
    with postgres.connect(dbname="postgres", connect_timeout=3, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists:
            return False
        conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name)))
        return True
