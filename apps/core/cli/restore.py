"""`archive restore`: archived jobs back into the live queue (Celery task, Redis list, Redis stream).

    archive restore (JOB_ID ... | --queue Q --status S --from DATE --to DATE [--count N])
                    --to celery|list|stream [--target NAME] [--dry-run] [--force] --by USER [--format json]

`--to` is given twice for a filtered set: once with a date (the end of the range) and once with the
adapter; a value that is an adapter's name is the adapter, any other the date.
"""

from __future__ import annotations

import json

from django.core.management.base import CommandError

from apps.core.cli import actor, add_format, add_quiet, print_json, table
from apps.core.cli.progress import polling, progress

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
    add_quiet(restore)
    restore.set_defaults(handler=handle_restore)
    restores = sub.add_parser("restores", help="list restores, or show one, and what came of each",
                              description="Restores as GET /api/v1/restores/ lists them (the newest 200 first), "
                                          "or one with `show ID`: state, selected, restored, refused per reason.")
    actions = restores.add_subparsers(dest="restores_action", required=True, metavar="action")
    listing = actions.add_parser("list", help="the newest restores (at most 200)")
    add_format(listing, choices=("table", "json"))
    listing.set_defaults(handler=handle_list)
    show = actions.add_parser("show", help="one restore (its id, as `archive restore` printed it)")
    show.add_argument("id", metavar="ID", help="the restore's id (a UUID)")
    add_format(show, choices=("table", "json"))
    show.set_defaults(handler=handle_show)


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
    expected = len(options["job_ids"]) if options["job_ids"] else options["count"]
    with progress(cmd, options, "restore", total=expected) as bar, polling(bar, lambda: _reading(restore.pk)):
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


def _reading(restore_id) -> dict | None:
    """A restore's progress as the worker records it: its state, and the attempts it has sent so far
    (each is in the ledger before it is sent); the total once the selection is counted."""
    from apps.restore.models import AttemptState, Restore, RestoredAttempt

    restore = Restore.objects.filter(pk=restore_id).only("state", "selected", "restored", "dry_run").first()
    if restore is None:
        return None
    reading: dict = {"description": f"restore {str(restore.pk)[:8]}: {restore.state}"}
    if restore.selected is not None:  # ended: the figures are final
        reading.update(completed=restore.selected, total=restore.selected)
    elif not restore.dry_run:
        reading["completed"] = RestoredAttempt.objects.filter(restore_id=restore_id, state=AttemptState.SENT).count()
    return reading


def _one(restore_id: str):
    from django.core.exceptions import ValidationError

    from apps.restore.models import Restore

    try:
        found = Restore.objects.filter(pk=restore_id).first()
    except ValidationError:
        found = None
    if found is None:
        raise CommandError(f"no restore {restore_id}")
    return found


def _rows(items: list[dict]) -> str:
    return table(["id", "state", "actor", "adapter", "target", "dry_run", "selected", "restored", "refused"],
                 [[d["id"], d["state"], d["actor"], d["adapter"], d["target"] or "", d["dry_run"], d["selected"],
                   d["restored"], d["refused"]] for d in items])


def handle_list(cmd, options):
    from apps.restore.selectors import recent, restore_as_dict

    items = [restore_as_dict(r) for r in recent(200)]
    if options["format"] == "json":
        print_json(cmd, items)
        return
    cmd.stdout.write(_rows(items) if items else "no restores")


def handle_show(cmd, options):
    from apps.restore.selectors import restore_as_dict

    done = restore_as_dict(_one(options["id"]))
    if options["format"] == "json":
        print_json(cmd, done)
        return
    cmd.stdout.write(_rows([done]))
    _print(cmd, done)
