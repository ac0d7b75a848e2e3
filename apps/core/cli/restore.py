"""`archive restore`: archived jobs back into the live queue (Celery task, Redis list, Redis stream).

    archive restore (JOB_ID ... | --queue Q --status S --from DATE --to DATE [--count N])
                    --to celery|list|stream [--target NAME] [--dry-run] [--force] --by USER [--format json]

`--to` is given twice for a filtered set: once with a date (the end of the range) and once with the
adapter; a value that is an adapter's name is the adapter, any other the date.
"""

from __future__ import annotations

import json

from django.core.management.base import CommandError

from apps.core.cli import actor, table

_ADAPTERS = ("celery", "list", "stream")


def register(sub) -> None:
    restore = sub.add_parser(
        "restore", help="send archived jobs back into the live queue (Celery, a Redis list or stream)",
        description="Sends each selected job's latest archived attempt back into the live queue, on the worker "
                    "that owns the warehouse. Select jobs by id, or a set by --queue, --status, --from and --to "
                    "(a dry run shows its count; --count N then refuses unless it still holds N). Refused, each "
                    "with its reason: erased subjects, attempts whose payload was not kept as sent (only a hash, "
                    "a redacted or cut sample), attempts an earlier restore sent (unless --force). --to celery "
                    "calls the task named by --target, else by the record's `task` tag, on the record's queue, "
                    "with the payload's args and kwargs; --to list RPUSHes the payload to the list --target; "
                    "--to stream XADDs it, with the job's fields, to the stream --target. SRE and Administrator "
                    "only; audited. Exits non-zero with the reason when anything was refused.")
    restore.add_argument("job_ids", nargs="*", metavar="JOB_ID", help="jobs to restore (their latest attempt)")
    restore.add_argument("--queue", metavar="Q", help="a set: this queue")
    restore.add_argument("--status", metavar="S", help="a set: this outcome (failed, dead, ...)")
    restore.add_argument("--from", dest="from_", metavar="DATE", help="a set: enqueued at or after (ISO date or time)")
    restore.add_argument("--to", dest="to_values", action="append", default=[], metavar="DATE|ADAPTER",
                         help="the adapter (celery, list or stream), and for a set also the end of its range")
    restore.add_argument("--count", type=int, metavar="N", help="a set: refuse unless it holds exactly N jobs")
    restore.add_argument("--target", metavar="NAME", default="",
                         help="the Celery task name (default: the record's task tag), the Redis list or the stream")
    restore.add_argument("--dry-run", action="store_true", help="check and count, send nothing")
    restore.add_argument("--force", action="store_true", help="also send attempts an earlier restore sent")
    restore.add_argument("--by", required=True, metavar="USER", help="the portal user (SRE or Administrator) restoring")
    restore.add_argument("--format", choices=["table", "json"], default="table")
    restore.set_defaults(handler=handle_restore)


def _adapter_and_end(values: list[str]):
    from apps.explorer.templates import TemplateError, parse_time

    adapters = [v for v in values if v in _ADAPTERS]
    dates = [v for v in values if v not in _ADAPTERS]
    if len(adapters) != 1:
        raise CommandError("give --to celery, --to list or --to stream once (where the jobs go)")
    if len(dates) > 1:
        raise CommandError("--to DATE given more than once")
    try:
        return adapters[0], parse_time(dates[0]) if dates else None
    except TemplateError as exc:
        raise CommandError(f"--to: {exc}") from None


def handle_restore(cmd, options):
    from django.core.exceptions import PermissionDenied

    from apps.explorer.templates import TemplateError, parse_time
    from apps.restore.adapters import Refusal
    from apps.restore.services import restore_submit
    from apps.restore.tasks import execute_restore
    from apps.warehouse.dispatch import run_on_warehouse

    adapter, end = _adapter_and_end(options["to_values"])
    selecting = any(options[k] for k in ("queue", "status", "from_")) or end is not None
    if options["job_ids"] and (selecting or options["count"] is not None):
        raise CommandError("give job ids, or a set (--queue, --status, --from, --to DATE), not both")
    if not options["job_ids"] and not selecting:
        raise CommandError("name the jobs to restore (JOB_ID ...), or a set: --queue Q --status S --from DATE --to DATE")
    try:
        start = parse_time(options["from_"]) if options["from_"] else None
        restore = restore_submit(actor=actor(options["by"]), adapter=adapter, target=options["target"],
                                 job_ids=options["job_ids"], queue=options["queue"] or "",
                                 outcome=options["status"] or "", start=start, end=end,
                                 expected_count=options["count"], dry_run=options["dry_run"], force=options["force"])
    except (Refusal, TemplateError, PermissionDenied) as exc:
        raise CommandError(str(exc)) from None
    done = run_on_warehouse(execute_restore, timeout=3600, restore_id=str(restore.pk))
    if options["format"] == "json":
        cmd.stdout.write(json.dumps(done, default=str))
    else:
        _print(cmd, done)
    if done["state"] in ("refused", "failed"):
        raise CommandError(done["error"] or f"the restore ended {done['state']}")
    if done["refused"]:
        reasons = "; ".join(f"{n} {why}" for why, n in sorted(done["reasons"].items(), key=lambda kv: -kv[1]))
        raise CommandError(f"{done['refused']} of {done['selected']} refused: {reasons}")


def _print(cmd, done: dict) -> None:
    verb = "would restore" if done["dry_run"] else "restored"
    if done["lines"]:
        cmd.stdout.write(table(["job_id", "attempt", "result", "detail"],
                               [[line["job_id"], line.get("retries", "-"), line["result"],
                                 line.get("reason") or line.get("sent_as") or ""] for line in done["lines"]]))
    for why, n in sorted(done["reasons"].items(), key=lambda kv: -kv[1]):
        cmd.stdout.write(f"refused {n}: {why}")
    if done["selected"] is not None:
        cmd.stdout.write(f"{verb} {done['restored']} of {done['selected']} jobs through {done['adapter']}"
                         f"{' to ' + done['target'] if done['target'] else ''} (restore {done['id']})")
