"""Warehouse commands: `archive query` (read-only SQL) and `archive migrate`."""

from __future__ import annotations

import json
import time

from django.core.management.base import CommandError

from apps.core.cli import table

def register(sub) -> None:
    query = sub.add_parser(
        "query", help="run one SELECT over the archive tables (jobs_all, jobs_archive, jobs_cold, rehydrated_*)",
        description="Runs one SELECT, exactly as written, over jobs_all, jobs_archive, jobs_cold and rehydrated_* "
                    "tables (WITH, subqueries, UNION, ARRAY JOIN and window functions are fine). Refused, with the "
                    "reason: more than one statement, anything but SELECT (SHOW, DESCRIBE, EXPLAIN, SET, writes), "
                    "other tables (system.*, INFORMATION_SCHEMA, the portal's own), table functions (numbers(), "
                    "file(), s3(), url()...), file(), dictGet*/joinGet*, INTO OUTFILE, SETTINGS and FORMAT, and "
                    "SQL the guard cannot parse. Capped in time, rows and bytes read, result rows and memory "
                    "(docs/operations.md, \"What a query may do\").")
    query.add_argument("sql", help='e.g. "SELECT queue, count() FROM jobs_archive GROUP BY queue"')
    query.add_argument("--format", choices=["table", "json"], default="table",
                       help="json prints an array with one object per row")
    query.add_argument("--max-rows", type=int, default=None, help="row cap (never above CLICKHOUSE_QUERY_MAX_ROWS)")
    query.set_defaults(handler=handle_query)
    migrate = sub.add_parser("migrate", help="apply only the warehouse migrations (ClickHouse and Iceberg)")
    migrate.add_argument("--wait-s3", type=float, default=90, metavar="SECONDS",
                         help="wait this long for S3 to come up first (default 90)")
    migrate.set_defaults(handler=handle_migrate)


def handle_query(cmd, options):
    from apps.accounts.actors import Actor
    from apps.warehouse.client import WarehouseError
    from apps.warehouse.dispatch import run_on_warehouse
    from apps.warehouse.guard import QueryRejected, check_query
    from apps.warehouse.tasks import run_query

    try:
        # Refuse early, before the work goes to the worker (which checks again).
        check_query(options["sql"])
        result = run_on_warehouse(run_query, timeout=120, sql=options["sql"], max_rows=options["max_rows"],
                                  actor=Actor.cli().as_task())
    except (QueryRejected, WarehouseError) as exc:
        raise CommandError(str(exc)) from None
    if options["format"] == "json":
        cmd.stdout.write(json.dumps([dict(zip(result["columns"], row)) for row in result["rows"]], default=str))
    else:
        cmd.stdout.write(table(result["columns"], result["rows"]))
        cmd.stderr.write(f"{len(result['rows'])} rows{' (truncated at the row cap)' if result['truncated'] else ''}")
    if result["truncated"]:
        cmd.stderr.write("warning: result truncated at the row cap")

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
    cmd.stdout.write(json.dumps(result))
