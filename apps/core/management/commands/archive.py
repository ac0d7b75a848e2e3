"""`manage.py archive <subcommand>`: the operator's command line (export, query, migrate, demo, bench)."""

from __future__ import annotations

import json
import signal
import time

from django.core.management.base import BaseCommand, CommandError


def _table(columns: list[str], rows: list[list]) -> str:
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths))
    sep = "  ".join("-" * w for w in widths)
    body = ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in cells]
    return "\n".join([line, sep, *body])


class Command(BaseCommand):
    help = "Archive operations. Run `manage.py archive <subcommand> --help` for each."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True, metavar="subcommand")

        export = sub.add_parser("export", help="export the stream to ClickHouse and Iceberg")
        mode = export.add_mutually_exclusive_group()
        mode.add_argument("--drain", action="store_true", help="export every entry present at start, then exit (default)")
        mode.add_argument("--follow", action="store_true", help="keep exporting until interrupted (Ctrl-C)")
        export.add_argument("--json", action="store_true", help="print the summary as JSON")

        query = sub.add_parser("query", help="run one read-only SELECT against the warehouse")
        query.add_argument("sql", help='e.g. "SELECT queue, count() FROM jobs_archive GROUP BY queue"')
        query.add_argument("--format", choices=["table", "json"], default="table",
                           help="json prints an array with one object per row")
        query.add_argument("--max-rows", type=int, default=None, help="row cap (never above CLICKHOUSE_QUERY_MAX_ROWS)")

        migrate = sub.add_parser("migrate", help="apply only the warehouse migrations (ClickHouse and Iceberg)")
        migrate.add_argument("--wait-s3", type=float, default=90, metavar="SECONDS",
                             help="wait this long for S3 to come up first (default 90)")

        demo = sub.add_parser("demo", help="feed realistic demo jobs into the stream until interrupted")
        demo.add_argument("--rate", type=float, default=None, help="jobs per second (ARCHIVE_DEMO_JOBS_PER_SECOND)")
        demo.add_argument("--count", type=int, default=None, help="stop after this many jobs")

        bench = sub.add_parser("bench", help="measure the export pipeline against a bare XREADGROUP+XACK loop")
        bench.add_argument("--records", type=int, default=200_000, help="records to generate (default 200000)")
        bench.add_argument("--batch-size", type=int, default=50_000, help="export batch size (default 50000)")
        bench.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, **options):
        handler = getattr(self, f"_{options['subcommand']}")
        try:
            handler(options)
        except KeyboardInterrupt:
            raise CommandError("interrupted") from None

    # --- subcommands ---------------------------------------------------------------------
    def _export(self, options):
        from apps.exports.services import ExportBusy, export_from_command

        stop = {"requested": False}

        def request_stop(signum, frame):
            if stop["requested"]:  # a second signal abandons the batch; the ledger replays it later
                raise KeyboardInterrupt
            stop["requested"] = True
            self.stderr.write("stopping after the current batch (again to abandon it)")

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)

        def progress(batch, summary):
            if not options["json"]:
                self.stderr.write(
                    f"batch {str(batch.id)[:8]}: {batch.records} records, {batch.dead_letters} dead letters "
                    f"(total {summary.records} records, {summary.batches} batches)"
                )

        try:
            summary = export_from_command(
                follow=options["follow"], should_stop=lambda: stop["requested"], on_batch=progress
            )
        except ExportBusy as exc:
            raise CommandError(str(exc)) from None
        if options["json"]:
            self.stdout.write(json.dumps(summary))
        else:
            self.stdout.write(
                f"exported {summary['records']} records in {summary['batches']} batches "
                f"({summary['recovered_batches']} recovered), {summary['dead_letters']} dead letters, "
                f"{summary['seconds']}s"
            )
            for warning in summary["warnings"]:
                self.stderr.write(f"warning: {warning}")
        if summary["errors"]:
            raise CommandError(
                "export stopped on an error; nothing unwritten was acknowledged and the batch is retried "
                f"on the next run: {summary['errors'][-1]}"
            )

    def _query(self, options):
        from apps.warehouse.client import WarehouseError
        from apps.warehouse.dispatch import run_on_warehouse
        from apps.warehouse.query import QueryRejected, check_read_only
        from apps.warehouse.tasks import run_query

        try:
            check_read_only(options["sql"])
            result = run_on_warehouse(run_query, timeout=120, sql=options["sql"], max_rows=options["max_rows"])
        except (QueryRejected, WarehouseError) as exc:
            raise CommandError(str(exc)) from None
        if options["format"] == "json":
            self.stdout.write(json.dumps([dict(zip(result["columns"], row)) for row in result["rows"]], default=str))
        else:
            self.stdout.write(_table(result["columns"], result["rows"]))
            self.stderr.write(f"{len(result['rows'])} rows{' (truncated at the row cap)' if result['truncated'] else ''}")
        if result["truncated"]:
            self.stderr.write("warning: result truncated at the row cap")

    def _migrate(self, options):
        from apps.core.preflight import check_s3
        from apps.warehouse.dispatch import run_on_warehouse
        from apps.warehouse.tasks import warehouse_migrate

        deadline = time.monotonic() + options["wait_s3"]
        while not (check := check_s3()).ok:
            if time.monotonic() > deadline:
                raise CommandError(check.detail)
            time.sleep(1)

        result = run_on_warehouse(warehouse_migrate, timeout=300)
        self.stdout.write(json.dumps(result))

    def _demo(self, options):
        from django.conf import settings

        from apps.stream.demo import feed

        rate = options["rate"] if options["rate"] is not None else settings.ARCHIVE_DEMO_JOBS_PER_SECOND
        self.stdout.write(f"feeding demo jobs at {rate}/s into {settings.ARCHIVE_STREAM} (Ctrl-C to stop)")
        sent = feed(rate=rate, count=options["count"])
        self.stdout.write(f"sent {sent} demo jobs")

    def _bench(self, options):
        from apps.exports.bench import run_bench

        result = run_bench(records=options["records"], batch_size=options["batch_size"],
                           log=(lambda m: None) if options["json"] else self.stderr.write)
        self.stdout.write(json.dumps(result, indent=None if options["json"] else 2))
