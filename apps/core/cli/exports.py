"""The exporter's commands: `archive export` and `archive bench`."""

from __future__ import annotations

import json
import signal

from django.core.management.base import CommandError

def register(sub) -> None:
    export = sub.add_parser("export", help="export the stream to ClickHouse and Iceberg")
    mode = export.add_mutually_exclusive_group()
    mode.add_argument("--drain", action="store_true", help="export every entry present at start, then exit (default)")
    mode.add_argument("--follow", action="store_true", help="keep exporting until interrupted (Ctrl-C)")
    export.add_argument("--json", action="store_true", help="print the summary as JSON")
    export.set_defaults(handler=handle_export)
    bench = sub.add_parser("bench", help="measure the export pipeline against a bare XREADGROUP+XACK loop")
    bench.add_argument("--records", type=int, default=200_000, help="records to generate (default 200000)")
    bench.add_argument("--batch-size", type=int, default=50_000, help="export batch size (default 50000)")
    bench.add_argument("--json", action="store_true", help="print one JSON object")
    bench.add_argument("--tiers", action="store_true",
                       help="instead: records over 60 days, tiering and compaction throughput, query p50/p95 "
                            "per tier (use --records 2000000)")
    bench.add_argument("--erasure", action="store_true",
                       help="instead: records over 60 days with one subject's 1000 among them, tiered and "
                            "compacted; the time an approved erasure takes to verified, per step (use --records 2000000)")
    bench.add_argument("--queries", action="store_true",
                       help="instead: records over 365 days (30 warm), p50/p95 of every query template over the "
                            "last 7 and 90 days and all days, a job lookup by id, and the query-run overhead "
                            "through a real worker (use --records 10000000)")
    bench.add_argument("--dashboard", action="store_true",
                       help="instead: records over 365 days (30 warm), p50/p95 of computing the dashboard's rollup "
                            "figures for 24 h, 30 days and all history (use --records 2000000)")
    bench.add_argument("--repeats", type=int, default=20,
                       help="with --queries or --dashboard: timed runs per query (default 20)")
    bench.set_defaults(handler=handle_bench)


def handle_export(cmd, options):
    from apps.accounts.actors import Actor
    from apps.exports.services import ExportBusy, export_from_command

    stop = {"requested": False}

    def request_stop(signum, frame):
        if stop["requested"]:  # a second signal abandons the batch; the ledger replays it later
            raise KeyboardInterrupt
        stop["requested"] = True
        cmd.stderr.write("stopping after the current batch (again to abandon it)")

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    def progress(batch, summary):
        if not options["json"]:
            cmd.stderr.write(
                f"batch {str(batch.id)[:8]}: {batch.records} records, {batch.dead_letters} dead letters "
                f"(total {summary.records} records, {summary.batches} batches)"
            )

    try:
        summary = export_from_command(
            actor=Actor.cli(), follow=options["follow"], should_stop=lambda: stop["requested"], on_batch=progress
        )
    except ExportBusy as exc:
        raise CommandError(str(exc)) from None
    if options["json"]:
        cmd.stdout.write(json.dumps(summary))
    else:
        cmd.stdout.write(
            f"exported {summary['records']} records in {summary['batches']} batches "
            f"({summary['recovered_batches']} recovered), {summary['dead_letters']} dead letters, "
            f"{summary['seconds']}s"
        )
        for warning in summary["warnings"]:
            cmd.stderr.write(f"warning: {warning}")
    if summary["errors"]:
        raise CommandError(
            "export stopped on an error; nothing unwritten was acknowledged and the batch is retried "
            f"on the next run: {summary['errors'][-1]}"
        )

def handle_bench(cmd, options):
    from apps.dashboard.bench import run_dashboard_bench
    from apps.erasure.bench import run_erasure_bench
    from apps.exports.bench import run_bench
    from apps.explorer.bench import run_queries_bench
    from apps.retention.bench import run_tiers_bench

    log = (lambda m: None) if options["json"] else cmd.stderr.write
    chosen = [name for name in ("tiers", "erasure", "queries", "dashboard") if options[name]]
    if len(chosen) > 1:
        raise CommandError("choose one of --tiers, --erasure, --queries and --dashboard")
    if chosen:
        bench = {"tiers": run_tiers_bench, "erasure": run_erasure_bench, "queries": run_queries_bench,
                 "dashboard": run_dashboard_bench}[chosen[0]]
        extra = {"queries": {"repeats": options["repeats"], "overhead_runs": 2 * options["repeats"]},
                 "dashboard": {"repeats": options["repeats"]}}.get(chosen[0], {})
        result = bench(records=options["records"], log=log, **extra)
        cmd.stdout.write(json.dumps(result, indent=None if options["json"] else 2))
        return
    result = run_bench(records=options["records"], batch_size=options["batch_size"],
                       log=(lambda m: None) if options["json"] else cmd.stderr.write)
    cmd.stdout.write(json.dumps(result, indent=None if options["json"] else 2))
