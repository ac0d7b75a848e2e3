"""Warehouse commands: `archive migrate` (`archive query` is an explorer command: apps/core/cli/explorer.py)."""

from __future__ import annotations

import json
import time

from django.core.management.base import CommandError


def register(sub) -> None:
    migrate = sub.add_parser("migrate", help="apply only the warehouse migrations (ClickHouse and Iceberg)")
    migrate.add_argument("--wait-s3", type=float, default=90, metavar="SECONDS",
                         help="wait this long for S3 to come up first (default 90)")
    migrate.add_argument("--format", choices=["text", "json"], default="json",
                         help="json (the default) prints the migrations applied as one object; text one line each")
    migrate.set_defaults(handler=handle_migrate)


def handle_migrate(cmd, options):
    from apps.core.preflight import check_s3
    from apps.warehouse.dispatch import run_on_warehouse
    from apps.warehouse.tasks import warehouse_migrate

    deadline = time.monotonic() + options["wait_s3"]
    while not (check := check_s3()).ok:
        if time.monotonic() > deadline:
            raise CommandError(check.detail)
        time.sleep(1)

    result = run_on_warehouse(warehouse_migrate, timeout=300)
    if options["format"] == "json":
        cmd.stdout.write(json.dumps(result))
    else:
        for name, value in result.items():
            cmd.stdout.write(f"{name}: {', '.join(map(str, value)) if isinstance(value, list) else value}")
