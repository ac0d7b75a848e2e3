"""`manage.py archive <subcommand>`: the operator's command line; `archive --help` lists the subcommands."""

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


def _day(text: str):
    import argparse
    import datetime

    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date: {text!r}; use YYYY-MM-DD") from None


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
        bench.add_argument("--tiers", action="store_true",
                           help="instead: records over 60 days, tiering and compaction throughput, query p50/p95 "
                                "per tier (use --records 2000000)")

        lifecycle = sub.add_parser("lifecycle", help="show or apply the bucket's lifecycle rules (S3_LIFECYCLE_*)")
        lifecycle.add_argument("action", choices=["show", "apply"],
                               help="show: current rules and what apply would set; apply: set them")

        rehydrate = sub.add_parser("rehydrate", help="copy a date range of cold data into a ClickHouse table for a while")
        rehydrate_mode = rehydrate.add_mutually_exclusive_group()
        rehydrate_mode.add_argument("--list", action="store_true", help="list recent rehydrations")
        rehydrate_mode.add_argument("--drop", metavar="ID", help="drop a rehydrated table now (id from --list)")
        rehydrate.add_argument("--from", dest="date_from", type=_day, metavar="YYYY-MM-DD",
                               help="first day (UTC), included")
        rehydrate.add_argument("--to", dest="date_to", type=_day, metavar="YYYY-MM-DD", help="last day (UTC), included")
        rehydrate.add_argument("--queue", dest="queues", action="append", default=[], metavar="QUEUE",
                               help="only this queue (repeat for more); default every queue")
        rehydrate.add_argument("--expires", default=None, metavar="DURATION",
                               help="drop the table after this long, e.g. 12h, 7d (REHYDRATION_DEFAULT_EXPIRY)")
        rehydrate.add_argument("--by", metavar="USERNAME", help="portal user recorded as requester (audit log)")

        run = sub.add_parser("run", help="apply the retention policies to every tier (or preview with --dry-run)")
        run.add_argument("--dry-run", action="store_true", help="report what would happen, change nothing")
        run.add_argument("--as-of", type=_moment, default=None, metavar="ISO-TIME",
                         help="evaluate the policies at this moment instead of now, e.g. 2027-03-01T00:00:00Z "
                              "(previews of the future; tests)")
        run.add_argument("--steps", default=",".join(("purge", "tiering", "compaction", "cleanup", "trim")),
                         help="comma-separated subset of purge,tiering,compaction,cleanup,trim (default all)")
        run.add_argument("--json", action="store_true", help="print the report as JSON")

        purge = sub.add_parser("purge", help="remove old records from every tier (preview with --dry-run first)")
        purge.add_argument("--older-than", required=True, metavar="DURATION",
                           help="records enqueued longer ago than this, e.g. 90d, 12h, 2w")
        purge.add_argument("--queue", dest="queues", action="append", default=[], metavar="QUEUE",
                           help="only this queue (repeat for more); default every queue")
        purge.add_argument("--status", dest="outcomes", action="append", default=[], metavar="OUTCOME",
                           help="only this outcome (success, failed, timeout, cancelled, retry, dead; repeatable)")
        purge_mode = purge.add_mutually_exclusive_group(required=True)
        purge_mode.add_argument("--dry-run", action="store_true", help="preview: count what would go, per tier")
        purge_mode.add_argument("--confirm", action="store_true", help="really remove it (prints the preview too)")
        purge.add_argument("--as-of", type=_moment, default=None, metavar="ISO-TIME", help="measure age from here")
        purge.add_argument("--by", default=None, metavar="USERNAME", help="portal user to record as the actor")
        purge.add_argument("--json", action="store_true", help="print the report as JSON")

        policy = sub.add_parser("policy", help="export, import or explain retention policies")
        policy.add_argument("action", choices=["get", "set", "explain"],
                            help="get: print policies as JSON; set: make them what --file holds; "
                                 "explain: the effective policy for --queue/--outcome and why")
        policy.add_argument("--file", metavar="F", help="JSON file for get (default stdout) or set ('-' = stdin)")
        policy.add_argument("--dry-run", action="store_true", help="set: report the changes, make none")
        policy.add_argument("--queue", default="", help="explain: queue name")
        policy.add_argument("--outcome", default="success", help="explain: outcome (default success)")
        policy.add_argument("--by", default=None, metavar="USERNAME", help="set: portal user to record as the actor")

        schema = sub.add_parser("schema", help="list, check or apply record schema versions (docs/stream-contract.md)")
        schema.add_argument("action", choices=["list", "check", "apply"],
                            help="list: versions and the current fields; check: is --file a compatible next "
                                 "version, and why not; apply: record it and evolve ClickHouse and Iceberg")
        schema.add_argument("--file", metavar="F", help="check/apply: the version as JSON ('-' = stdin)")
        schema.add_argument("--dry-run", action="store_true", help="apply: check and show the ClickHouse change only")
        schema.add_argument("--json", action="store_true", help="list: print the current version as JSON")
        schema.add_argument("--by", default=None, metavar="USERNAME", help="apply: portal user to record as the actor")

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
        from apps.retention.bench import run_tiers_bench

        log = (lambda m: None) if options["json"] else self.stderr.write
        if options["tiers"]:
            result = run_tiers_bench(records=options["records"], log=log)
            self.stdout.write(json.dumps(result, indent=None if options["json"] else 2))
            return
        result = run_bench(records=options["records"], batch_size=options["batch_size"],
                           log=(lambda m: None) if options["json"] else self.stderr.write)
        self.stdout.write(json.dumps(result, indent=None if options["json"] else 2))

    def _lifecycle(self, options):
        from apps.lake import lifecycle

        try:
            if options["action"] == "show":
                current = lifecycle.current_rules()
                self.stdout.write(f"current rules on bucket {lifecycle.bucket()}:{'' if current else ' none'}")
                for rule in current:
                    self.stdout.write(f"  {lifecycle.describe(rule)}")
                plan = lifecycle.plan()
                self.stdout.write("`archive lifecycle apply` would set:" + ("" if plan.rules else " no rules"))
                for planned in plan.rules:
                    tail = " (only where the server supports storage-class transitions)" if planned.optional else ""
                    self.stdout.write(f"  {lifecycle.describe(planned.rule)}{tail}")
                for rule in lifecycle.foreign_rules(current):
                    self.stdout.write(f"  kept as is (not the portal's): {lifecycle.describe(rule)}")
                warnings = [*plan.notes, *lifecycle.dangers(current)]
            else:
                result = lifecycle.lifecycle_apply()
                self.stdout.write(f"applied to bucket {lifecycle.bucket()}:" + ("" if result.applied else " no rules"))
                for rule in result.applied:
                    self.stdout.write(f"  {lifecycle.describe(rule)}")
                for rule in result.kept:
                    self.stdout.write(f"  kept as is (not the portal's): {lifecycle.describe(rule)}")
                for rule, why in result.refused:
                    self.stdout.write(f"not applied: {lifecycle.describe(rule)}\n  reason: {why}")
                warnings = [*result.notes, *lifecycle.dangers(result.kept)]
        except lifecycle.LifecycleError as exc:
            raise CommandError(str(exc)) from None
        for warning in warnings:
            self.stderr.write(f"warning: {warning}")

    def _rehydrate(self, options):
        from django.conf import settings
        from django.core.exceptions import ValidationError
        from django.template.defaultfilters import filesizeformat

        from apps.core.durations import DurationError, parse_duration
        from apps.rehydration import selectors, services
        from apps.rehydration.tasks import rehydration_drop_table, rehydration_run
        from apps.warehouse.dispatch import run_on_warehouse

        if options["list"]:
            rows = [[r.short_id, r.state, r.date_from, r.date_to, ",".join(r.queues) or "all", r.table_name, r.rows,
                     filesizeformat(r.bytes).replace("\xa0", " ") if r.bytes is not None else "",
                     r.expires_at.strftime("%Y-%m-%d %H:%M UTC"), r.requested_by or r.requested_via]
                    for r in selectors.rehydration_list()]
            columns = ["id", "state", "from", "to", "queues", "table", "rows", "size", "expires", "requested by"]
            self.stdout.write(_table(columns, rows) if rows else "no rehydrations")
            return
        if options["drop"]:
            try:
                rehydration = selectors.rehydration_find(reference=options["drop"])
            except selectors.RehydrationNotFound as exc:
                raise CommandError(str(exc)) from None
            actor = _user(options["by"])
            services.rehydration_drop(rehydration=rehydration, actor=actor, dispatch=False)
            result = run_on_warehouse(rehydration_drop_table, timeout=600, rehydration_id=str(rehydration.id),
                                      actor_id=actor.pk if actor else None)
            self.stdout.write(f"dropped {result['table']} (rehydration {rehydration.short_id} is expired)")
            return
        if options["date_from"] is None or options["date_to"] is None:
            raise CommandError("give --from and --to (or --list, or --drop ID)")
        try:
            rehydration = services.rehydration_request(
                date_from=options["date_from"], date_to=options["date_to"], queues=options["queues"],
                expires_in=parse_duration(options["expires"] or settings.REHYDRATION_DEFAULT_EXPIRY),
                actor=_user(options["by"]), via=f"cli ({_os_user()})", dispatch=False,
            )
        except DurationError as exc:
            raise CommandError(str(exc)) from None
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.stderr.write(f"rehydration {rehydration.short_id}: copying {rehydration} from the cold tier...")
        result = run_on_warehouse(rehydration_run, timeout=6 * 3600, rehydration_id=str(rehydration.id))
        if result["state"] != "ready":
            raise CommandError(f"rehydration {rehydration.short_id} {result['state']}: {result['error']}")
        self.stdout.write(
            f"{result['table']}: {result['rows']} rows, {filesizeformat(result['bytes'])}, "
            f"expires {rehydration.expires_at:%Y-%m-%d %H:%M} UTC".replace("\xa0", " ")
        )
        self.stderr.write(f'query it with: archive query "SELECT count() FROM {result["table"]}"')

    def _run(self, options):
        from apps.retention.tasks import retention_run
        from apps.warehouse.dispatch import run_on_warehouse

        steps = [s.strip() for s in options["steps"].split(",") if s.strip()]
        as_of = options["as_of"].isoformat() if options["as_of"] else None
        try:
            report = run_on_warehouse(retention_run, timeout=3600, dry_run=options["dry_run"], as_of=as_of,
                                      steps=steps)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self._print_report(report, options["json"])

    def _purge(self, options):
        from apps.core.durations import DurationError, parse_duration
        from apps.retention.tasks import purge_records
        from apps.warehouse.dispatch import run_on_warehouse

        try:
            older_than = parse_duration(options["older_than"])
        except DurationError as exc:
            raise CommandError(str(exc)) from None
        try:
            report = run_on_warehouse(
                purge_records, timeout=3600, older_than_seconds=int(older_than.total_seconds()),
                dry_run=options["dry_run"], queues=options["queues"] or None, outcomes=options["outcomes"] or None,
                as_of=options["as_of"].isoformat() if options["as_of"] else None, actor_id=_user_id(options["by"]))
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self._print_report(report, options["json"])

    def _print_report(self, report: dict, as_json: bool) -> None:
        if as_json:
            self.stdout.write(json.dumps(report, default=str))
        else:
            verb = "would do (dry run, nothing changed)" if report["dry_run"] else "planned"
            self.stdout.write(f"run {report['run']} {verb}:")
            self.stdout.write(json.dumps(report["plan"], indent=2, default=str))
            if not report["dry_run"]:
                self.stdout.write("done:")
                self.stdout.write(json.dumps(report["result"], indent=2, default=str))
        for alert in report["alerts"]:
            self.stderr.write(f"ALERT: {alert}")

    def _policy(self, options):
        import sys
        from pathlib import Path

        from apps.retention import selectors, services

        if options["action"] == "get":
            text = json.dumps(selectors.policies_as_json(), indent=2)
            if options["file"] and options["file"] != "-":
                with open(options["file"], "w") as handle:
                    handle.write(text + "\n")
                self.stderr.write(f"wrote {options['file']}")
            else:
                self.stdout.write(text)
        elif options["action"] == "set":
            if not options["file"]:
                raise CommandError("set needs --file F (a JSON array, as `archive policy get` prints)")
            try:
                raw = sys.stdin.read() if options["file"] == "-" else Path(options["file"]).read_text()
                items = json.loads(raw)
            except (OSError, ValueError) as exc:
                raise CommandError(f"cannot read {options['file']}: {exc}") from None
            try:
                changes = services.policy_set(items=items, actor=_user(options["by"]), dry_run=options["dry_run"])
            except services.PolicyFileError as exc:
                raise CommandError(f"{exc}; nothing was changed") from None
            for verb, scopes in changes.as_dict().items():
                if scopes:
                    self.stdout.write(f"{verb}{' (dry run)' if options['dry_run'] and verb != 'unchanged' else ''}: "
                                      f"{', '.join(scopes)}")
        else:
            resolved = selectors.policy_book().for_pair(options["queue"], options["outcome"])
            self.stdout.write(f"queue={options['queue'] or '(any)'} outcome={options['outcome']}:")
            for line in resolved.explain():
                self.stdout.write(f"  {line}")

    def _schema(self, options):
        import sys
        from pathlib import Path

        from apps.schemas import registry, services

        if options["action"] == "list":
            applied = registry.versions()
            if options["json"]:
                self.stdout.write(json.dumps(applied[-1].as_dict(), indent=2))
                return
            versions, fields = _schema_rows(applied)
            self.stdout.write(_table(["version", "adds", "deprecates", "removes", "doc"], versions))
            self.stdout.write(f"\nfields of version {applied[-1].version}:")
            self.stdout.write(_table(["name", "kind", "nullable", "default", "added in", "deprecated in", "doc"],
                                     fields))
            return
        if not options["file"]:
            raise CommandError(f"{options['action']} needs --file F (a JSON version, see docs/stream-contract.md)")
        try:
            raw = sys.stdin.read() if options["file"] == "-" else Path(options["file"]).read_text()
            spec = json.loads(raw)
        except (OSError, ValueError) as exc:
            raise CommandError(f"cannot read {options['file']}: {exc}") from None

        check = services.schema_check(spec=spec)  # no warehouse needed: refuse before dispatching anything
        if not check.compatible:
            self._schema_refused(spec, check.reasons)
        summary = check.summary()
        changes = ", ".join(f"{k} {', '.join(v)}" for k in ("added", "deprecated", "removed") if (v := summary[k]))
        if options["action"] == "check":
            self.stdout.write(f"version {summary['version']} is compatible with version {summary['current']}: "
                              f"{changes or 'no field changes'}")
            return
        if options["dry_run"]:
            result = services.schema_apply(spec=spec, dry_run=True)
            clickhouse = "ClickHouse would run:" if result["statements"] else "no ClickHouse change"
            self.stdout.write(f"version {result['version']} would be applied ({changes or 'no field changes'}); "
                              f"{clickhouse}")
            for sql in result["statements"]:
                self.stdout.write(f"  {sql}")
            return
        from apps.schemas.tasks import schema_apply
        from apps.warehouse.dispatch import run_on_warehouse

        result = run_on_warehouse(schema_apply, timeout=600, spec=spec, via=f"cli:{_os_user()}",
                                  actor_id=_user_id(options["by"]))
        if not result["applied"]:
            self._schema_refused(spec, result["reasons"])
        self.stdout.write(f"applied version {result['version']} ({changes or 'no field changes'}); "
                          f"ClickHouse migration {result['clickhouse_migration']}, Iceberg table evolved")

    def _schema_refused(self, spec, reasons: list[str]):
        version = spec.get("version") if isinstance(spec, dict) else None
        for reason in reasons:
            self.stderr.write(f"  - {reason}")
        raise CommandError(f"schema version {version} is refused ({len(reasons)} reasons above); nothing changed")


def _schema_rows(applied) -> tuple[list[list], list[list]]:
    """`archive schema list` as table rows: one per version, and one per field of the current version."""
    versions = []
    previous: dict = {}
    for spec in applied:
        new = spec.by_name
        versions.append([
            spec.version,
            ", ".join(n for n in new if n not in previous) if previous else f"{len(new)} fields",
            ", ".join(n for n, f in new.items() if f.deprecated_in == spec.version),
            ", ".join(n for n in previous if n not in new),
            spec.doc,
        ])
        previous = new
    fields = [[f.name, f.kind, "yes" if f.nullable else "", json.dumps(f.default), f.added_in, f.deprecated_in or "",
               f.doc] for f in applied[-1].fields]
    return versions, fields


def _os_user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in a bare container
        return "unknown"


def _moment(text: str):
    import argparse
    from datetime import datetime, timezone

    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO time: {text!r} (e.g. 2027-03-01T00:00:00Z)") from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _user(username: str | None):
    if not username:
        return None
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise CommandError(f"no portal user {username!r}")
    return user


def _user_id(username: str | None) -> int | None:
    user = _user(username)
    return user.pk if user else None
