"""The exporter's commands: `archive export`, `archive dead-letter list|requeue` and `archive bench`."""

from __future__ import annotations

import json
import signal

from django.core.management.base import CommandError

from apps.core.cli import actor, add_format, add_quiet, print_json, table
from apps.core.cli.progress import polling, progress


def register(sub) -> None:
    export = sub.add_parser("export", help="export the stream to ClickHouse and Iceberg")
    mode = export.add_mutually_exclusive_group()
    mode.add_argument("--drain", action="store_true", help="export every entry present at start, then exit (default)")
    mode.add_argument("--follow", action="store_true", help="keep exporting until interrupted (Ctrl-C)")
    add_format(export, json_alias=True)
    add_quiet(export)
    export.set_defaults(handler=handle_export)
    dead = sub.add_parser(
        "dead-letter", help="entries the exporter refused: list them, put one back on the stream",
        description="Dead letters as GET /api/v1/dead-letters/ lists them: the reason, the stream and the entry "
                    "id, never their fields (they may hold personal data; the admin shows and edits those).")
    actions = dead.add_subparsers(dest="dead_letter_action", required=True, metavar="action")
    listing = actions.add_parser("list", help="the newest dead letters (at most 500)")
    listing.add_argument("--by", metavar="USERNAME", help="portal user to act as (needs exports.view_deadletter)")
    add_format(listing, choices=("table", "json"))
    listing.set_defaults(handler=handle_dead_letters)
    requeue = actions.add_parser("requeue", help="put a dead letter back on the archive stream, once")
    requeue.add_argument("id", type=int, help="the dead letter's id (from `dead-letter list`)")
    requeue.add_argument("--by", metavar="USERNAME", help="portal user to act as (needs exports.requeue_deadletter)")
    add_format(requeue)
    requeue.set_defaults(handler=handle_requeue)
    bench = sub.add_parser("bench", help="measure the export pipeline against a bare XREADGROUP+XACK loop")
    bench.add_argument("--records", type=int, default=200_000, help="records to generate (default 200000)")
    bench.add_argument("--batch-size", type=int, default=50_000, help="export batch size (default 50000)")
    add_format(bench, json_alias=True)
    add_quiet(bench)
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


def _backlog() -> int | None:
    """Entries a drain has to export: not yet delivered to the group, plus delivered and unacknowledged."""
    from apps.exports.selectors import export_status

    status = export_status()
    return None if status.group_lag is None else status.group_lag + status.pending


def _exported_since(started) -> dict:
    """What the exporter (here or on the worker) has acknowledged since `started`, from its batch rows."""
    from django.conf import settings
    from django.db.models import Sum

    from apps.exports.models import BatchState, ExportBatch

    done = ExportBatch.objects.filter(stream=settings.ARCHIVE_STREAM, state=BatchState.ACKNOWLEDGED,
                                      acknowledged_at__gte=started).aggregate(entries=Sum("entry_count"))
    return {"completed": done["entries"] or 0}


def handle_export(cmd, options):
    from django.utils import timezone

    from apps.accounts.actors import Actor
    from apps.exports.services import ExportBusy, export_from_command

    as_json = options["format"] == "json"
    stop = {"requested": False}

    def request_stop(signum, frame):
        if stop["requested"]:  # a second signal abandons the batch; the ledger replays it later
            raise KeyboardInterrupt
        stop["requested"] = True
        cmd.stderr.write("stopping after the current batch (again to abandon it)")

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    started = timezone.now()
    with progress(cmd, options, "following the stream" if options["follow"] else "draining the stream") as bar:
        if bar.shown and not options["follow"]:
            bar.total(_backlog())

        def on_batch(batch, summary):
            if not as_json:
                bar.note(f"batch {str(batch.id)[:8]}: {batch.records} records, {batch.dead_letters} dead letters "
                         f"(total {summary.records} records, {summary.batches} batches)")

        try:  # the batch rows are counted whether this process or the worker exports
            with polling(bar, lambda: _exported_since(started)):
                summary = export_from_command(actor=Actor.cli(), follow=options["follow"],
                                              should_stop=lambda: stop["requested"], on_batch=on_batch)
        except ExportBusy as exc:
            raise CommandError(str(exc)) from None
    if as_json:
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


def _dead_letter(letter) -> dict:
    """What the API's list shows of one: where it came from and why, not its fields."""
    return {"id": letter.pk, "reason": letter.reason, "stream": letter.stream, "entry_id": letter.entry_id,
            "created_at": letter.created_at.isoformat() if letter.created_at else None,
            "requeued_at": letter.requeued_at.isoformat() if letter.requeued_at else None,
            "requeued_as": letter.requeued_as or None}


def handle_dead_letters(cmd, options):
    from django.core.exceptions import PermissionDenied

    from apps.accounts.actors import require_permission
    from apps.exports.models import DeadLetter

    try:
        require_permission(actor(options["by"]), "exports.view_deadletter")
    except PermissionDenied as exc:
        raise CommandError(str(exc)) from None
    items = [_dead_letter(d) for d in DeadLetter.objects.order_by("-pk")[:500]]
    if options["format"] == "json":
        print_json(cmd, items)
        return
    cmd.stdout.write(table(["id", "created_at", "stream", "entry_id", "requeued_as", "reason"],
                           [[d["id"], (d["created_at"] or "")[:19], d["stream"], d["entry_id"], d["requeued_as"] or "",
                             d["reason"][:60]] for d in items]) if items else "no dead letters")


def handle_requeue(cmd, options):
    from django.core.exceptions import PermissionDenied

    from apps.exports.models import DeadLetter
    from apps.exports.services import dead_letter_requeue

    letter = DeadLetter.objects.filter(pk=options["id"]).first()
    if letter is None:
        raise CommandError(f"no dead letter {options['id']}")
    try:
        new_id = dead_letter_requeue(dead_letter=letter, actor=actor(options["by"]))
    except PermissionDenied as exc:
        raise CommandError(str(exc)) from None
    letter.refresh_from_db()
    if options["format"] == "json":
        print_json(cmd, {**_dead_letter(letter), "requeued_now": new_id is not None})
    elif new_id is None:
        cmd.stdout.write(f"dead letter {letter.pk} was re-queued already (as {letter.requeued_as}); nothing sent")
    else:
        cmd.stdout.write(f"dead letter {letter.pk} re-queued as {new_id}")


def handle_bench(cmd, options):
    from apps.dashboard.bench import run_dashboard_bench
    from apps.erasure.bench import run_erasure_bench
    from apps.explorer.bench import run_queries_bench
    from apps.exports.bench import run_bench
    from apps.retention.bench import run_tiers_bench

    as_json = options["format"] == "json"
    chosen = [name for name in ("tiers", "erasure", "queries", "dashboard") if options[name]]
    if len(chosen) > 1:
        raise CommandError("choose one of --tiers, --erasure, --queries and --dashboard")
    with progress(cmd, options, f"bench {chosen[0] if chosen else 'export'}") as bar:
        def log(message: str) -> None:
            """Each line a bench logs is a stage begun: the bar names it and counts it."""
            if as_json:
                return
            bar.note(message)
            bar.describe(message if len(message) <= 60 else message[:59] + "…")
            bar.advance()

        if chosen:
            bench = {"tiers": run_tiers_bench, "erasure": run_erasure_bench, "queries": run_queries_bench,
                     "dashboard": run_dashboard_bench}[chosen[0]]
            extra = {"queries": {"repeats": options["repeats"], "overhead_runs": 2 * options["repeats"]},
                     "dashboard": {"repeats": options["repeats"]}}.get(chosen[0], {})
            result = bench(records=options["records"], log=log, **extra)
        else:
            result = run_bench(records=options["records"], batch_size=options["batch_size"], log=log)
    cmd.stdout.write(json.dumps(result, indent=None if as_json else 2))
