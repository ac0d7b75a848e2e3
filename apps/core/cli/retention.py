"""Retention commands: `archive run`, `archive purge`, `archive policy`."""

from __future__ import annotations

import json

from django.core.management.base import CommandError

from apps.core.cli import actor, moment, read_json

def register(sub) -> None:
    run = sub.add_parser("run", help="apply the retention policies to every tier (or preview with --dry-run)")
    run.add_argument("--dry-run", action="store_true", help="report what would happen, change nothing")
    run.add_argument("--as-of", type=moment, default=None, metavar="ISO-TIME",
                     help="evaluate the policies at this moment instead of now, e.g. 2027-03-01T00:00:00Z "
                          "(previews of the future; tests)")
    run.add_argument("--steps", default=None,
                     help="comma-separated subset of purge,tiering,compaction,cleanup,trim,bookkeeping (default all)")
    run.add_argument("--by", default=None, metavar="USERNAME",
                     help="portal user to record as the actor (default: your OS user)")
    run.add_argument("--json", action="store_true", help="print the report as JSON")
    run.set_defaults(handler=handle_run)
    purge = sub.add_parser(
        "purge", help="remove old records from every place they live (preview with --dry-run first)",
        description="Removes records from the stream (pending entries too), ClickHouse, the Iceberg table, dead "
                    "letters and rehydrated tables. Preview with --dry-run; then --confirm, either with the same "
                    "options (previewed and done at once) or with --preview RUN to act on exactly what that "
                    "dry run showed.")
    purge.add_argument("--older-than", metavar="DURATION",
                       help="records enqueued longer ago than this, e.g. 90d, 12h, 2w (not with --preview)")
    purge.add_argument("--queue", dest="queues", action="append", default=[], metavar="QUEUE",
                       help="only this queue (repeat for more); default every queue")
    purge.add_argument("--status", dest="outcomes", action="append", default=[], metavar="OUTCOME",
                       help="only this outcome (success, failed, timeout, cancelled, retry, dead; repeatable)")
    purge_mode = purge.add_mutually_exclusive_group(required=True)
    purge_mode.add_argument("--dry-run", action="store_true", help="preview: count what would go, per tier")
    purge_mode.add_argument("--confirm", action="store_true", help="really remove it (prints the preview too)")
    purge.add_argument("--preview", type=int, default=None, metavar="RUN",
                       help="with --confirm: purge exactly what the dry run RUN (its id) counted")
    purge.add_argument("--as-of", type=moment, default=None, metavar="ISO-TIME",
                       help="with --dry-run only: measure age from this moment instead of now")
    purge.add_argument("--by", default=None, metavar="USERNAME",
                       help="portal user to record as the actor (default: your OS user)")
    purge.add_argument("--json", action="store_true", help="print the report as JSON")
    purge.set_defaults(handler=handle_purge)
    policy = sub.add_parser("policy", help="export, import or explain retention policies")
    policy.add_argument("action", choices=["get", "set", "explain"],
                        help="get: print policies as JSON; set: make them what --file holds; "
                             "explain: the effective policy for --queue/--outcome and why")
    policy.add_argument("--file", metavar="F", help="JSON file for get (default stdout) or set ('-' = stdin)")
    policy.add_argument("--dry-run", action="store_true", help="set: report the changes, make none")
    policy.add_argument("--queue", default="", help="explain: queue name")
    policy.add_argument("--outcome", default="success", help="explain: outcome (default success)")
    policy.add_argument("--by", default=None, metavar="USERNAME",
                        help="set: portal user to record as the actor (default: your OS user)")
    policy.set_defaults(handler=handle_policy)


def _execute(cmd, run, options) -> None:
    """Do a recorded run where the warehouse lives (the worker, else here) and print its report."""
    from apps.retention.tasks import execute_run
    from apps.warehouse.dispatch import run_on_warehouse

    cmd.stderr.write(f"run {run.pk}: {run.get_kind_display().lower()}{' (dry run)' if run.dry_run else ''}...")
    report = run_on_warehouse(execute_run, timeout=3600, run_id=run.pk)
    _print_report(cmd, report, options["json"])
    if report["state"] == "failed":
        raise CommandError(f"run {run.pk} failed: {report['error']}")


def handle_run(cmd, options):
    from django.core.exceptions import PermissionDenied

    from apps.retention.services import RunRefused, retention_run_request

    steps = [s.strip() for s in options["steps"].split(",") if s.strip()] if options["steps"] else None
    try:
        run = retention_run_request(actor=actor(options["by"]), dry_run=options["dry_run"], as_of=options["as_of"],
                                    **({"steps": tuple(steps)} if steps else {}))
    except (RunRefused, PermissionDenied) as exc:
        raise CommandError(str(exc)) from None
    _execute(cmd, run, options)


def handle_purge(cmd, options):
    from django.core.exceptions import PermissionDenied

    from apps.core.durations import DurationError, parse_duration
    from apps.retention.models import RetentionRun
    from apps.retention.services import RunRefused, purge_confirm, purge_request

    who = actor(options["by"])
    try:
        if options["preview"] is not None:
            if not options["confirm"] or options["older_than"] or options["queues"] or options["outcomes"] \
                    or options["as_of"]:
                raise CommandError("--preview RUN goes with --confirm alone: the preview fixed the selection")
            preview = RetentionRun.objects.filter(pk=options["preview"]).first()
            if preview is None:
                raise CommandError(f"no run {options['preview']}")
            run = purge_confirm(preview=preview, actor=who)
        else:
            if not options["older_than"]:
                raise CommandError("give --older-than DURATION (or --confirm --preview RUN)")
            if options["as_of"] and not options["dry_run"]:
                raise CommandError("--as-of goes with --dry-run only: a purge measures age from now")
            run = purge_request(actor=who, older_than=parse_duration(options["older_than"]),
                                dry_run=options["dry_run"], queues=options["queues"] or None,
                                outcomes=options["outcomes"] or None, as_of=options["as_of"])
    except (DurationError, RunRefused, PermissionDenied) as exc:
        raise CommandError(str(exc)) from None
    _execute(cmd, run, options)
    if options["dry_run"] and not options["json"]:
        cmd.stderr.write(f"to purge exactly this: archive purge --confirm --preview {run.pk}")


def _print_report(cmd, report: dict, as_json: bool) -> None:
    if as_json:
        cmd.stdout.write(json.dumps(report, default=str))
    else:
        verb = "would do (dry run, nothing changed)" if report["dry_run"] else "planned"
        if report["state"] == "failed" and not report["plan"]:
            return
        cmd.stdout.write(f"run {report['run']} {verb}:")
        cmd.stdout.write(json.dumps(report["plan"], indent=2, default=str))
        if not report["dry_run"]:
            cmd.stdout.write("done:")
            cmd.stdout.write(json.dumps(report["result"], indent=2, default=str))
    for alert in report["alerts"]:
        cmd.stderr.write(f"ALERT: {alert}")

def handle_policy(cmd, options):
    from django.core.exceptions import PermissionDenied

    from apps.retention import selectors, services

    if options["action"] == "get":
        text = json.dumps(selectors.policies_as_json(), indent=2)
        if options["file"] and options["file"] != "-":
            with open(options["file"], "w") as handle:
                handle.write(text + "\n")
            cmd.stderr.write(f"wrote {options['file']}")
        else:
            cmd.stdout.write(text)
    elif options["action"] == "set":
        if not options["file"]:
            raise CommandError("set needs --file F (a JSON array, as `archive policy get` prints)")
        items = read_json(options["file"])
        try:
            changes = services.policy_set(items=items, actor=actor(options["by"]), dry_run=options["dry_run"])
        except services.PolicyFileError as exc:
            raise CommandError(f"{exc}; nothing was changed") from None
        except PermissionDenied as exc:
            raise CommandError(str(exc)) from None
        for verb, scopes in changes.as_dict().items():
            if scopes:
                cmd.stdout.write(f"{verb}{' (dry run)' if options['dry_run'] and verb != 'unchanged' else ''}: "
                                  f"{', '.join(scopes)}")
    else:
        resolved = selectors.policy_book().for_pair(options["queue"], options["outcome"])
        cmd.stdout.write(f"queue={options['queue'] or '(any)'} outcome={options['outcome']}:")
        for line in resolved.explain():
            cmd.stdout.write(f"  {line}")
