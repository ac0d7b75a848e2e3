"""Retention commands: `archive run`, `archive purge`, `archive policy`."""

from __future__ import annotations

import json

from django.core.management.base import CommandError

from apps.core.cli import actor, add_format, add_quiet, moment, print_json, read_json
from apps.core.cli.progress import polling, progress


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
    add_format(run, json_alias=True)
    add_quiet(run)
    run.set_defaults(handler=handle_run)
    purge = sub.add_parser(
        "purge", help="remove old records from every place they live (preview with --dry-run first)",
        description="Removes records from the stream (pending entries too), ClickHouse, the Iceberg table, dead "
                    "letters and rehydrated tables; records under a legal hold stay. Preview with --dry-run; then "
                    "--confirm --by USERNAME, either with the same options (previewed now) or with --preview RUN "
                    "(exactly what that dry run showed): that asks for a second person's approval and prints "
                    "'approval <ID>' last; `archive approval approve ID --by OTHER` runs the purge.")
    purge.add_argument("--older-than", metavar="DURATION",
                       help="records enqueued longer ago than this, e.g. 90d, 12h, 2w (not with --preview)")
    purge.add_argument("--queue", dest="queues", action="append", default=[], metavar="QUEUE",
                       help="only this queue (repeat for more); default every queue")
    purge.add_argument("--status", dest="outcomes", action="append", default=[], metavar="OUTCOME",
                       help="only this outcome (success, failed, timeout, cancelled, retry, dead; repeatable)")
    purge_mode = purge.add_mutually_exclusive_group(required=True)
    purge_mode.add_argument("--dry-run", action="store_true", help="preview: count what would go, per tier")
    purge_mode.add_argument("--confirm", action="store_true",
                            help="ask for the purge (an approval; nothing is removed until it is approved)")
    purge_mode.add_argument("--show", type=int, default=None, metavar="RUN",
                            help="print a purge preview's plan (records per place, held) or a purge's result")
    purge.add_argument("--preview", type=int, default=None, metavar="RUN",
                       help="with --confirm: ask to purge exactly what the dry run RUN (its id) counted")
    purge.add_argument("--as-of", type=moment, default=None, metavar="ISO-TIME",
                       help="with --dry-run only: measure age from this moment instead of now")
    purge.add_argument("--by", default=None, metavar="USERNAME",
                       help="portal user to record as the actor (default: your OS user)")
    purge.add_argument("--reason", default="", help="with --confirm: why, for the approver")
    add_format(purge, json_alias=True)
    add_quiet(purge)
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
                        help="set: portal user to record as the actor (default: your OS user; a change that "
                             "weakens retention or payload handling needs one: it opens an approval)")
    policy.add_argument("--reason", default="", help="set: why, for the approver of a weakening change")
    policy.add_argument("--format", choices=["text", "json"], default="text",
                        help="json: set prints the changes as one object (the API's keys), explain the resolved "
                             "policy and its reasons; get prints JSON either way")
    policy.set_defaults(handler=handle_policy)


def _run_reading(run_id: int) -> dict | None:
    """A run's progress as its row records it: queued, planning, applying the plan (unless a dry run), ended."""
    from apps.retention.models import RetentionRun, RunState

    run = RetentionRun.objects.filter(pk=run_id).only("kind", "state", "dry_run", "plan").first()
    if run is None:
        return None
    total = 1 if run.dry_run else 2
    name = f"{run.kind} {run.pk}"
    if run.state == RunState.QUEUED:
        return {"completed": 0, "total": total, "description": f"{name}: queued for the warehouse"}
    if run.state == RunState.RUNNING:
        if not run.plan:
            return {"completed": 0, "total": total, "description": f"{name}: planning"}
        return {"completed": 1, "total": total, "description": f"{name}: applying the plan"}
    return {"completed": total, "total": total, "description": f"{name}: {run.state}"}


def execute_report(cmd, run_id: int, options: dict | None = None) -> dict:
    """Do a recorded run where the warehouse lives (the worker, else here); its report. On a terminal
    a bar follows the run's row while the command waits."""
    from apps.retention.tasks import execute_run
    from apps.warehouse.dispatch import run_on_warehouse

    with progress(cmd, options or {}, f"run {run_id}") as bar:
        bar.note(f"run {run_id}: running on the warehouse...")
        with polling(bar, lambda: _run_reading(run_id)):
            return run_on_warehouse(execute_run, timeout=3600, run_id=run_id)


def _execute(cmd, run, options) -> None:
    """Do a recorded run where the warehouse lives and print its report."""
    report = execute_report(cmd, run.pk, options)
    _print_report(cmd, report, options["format"] == "json")
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

    from apps.approvals.services import ApprovalRefused
    from apps.core.durations import DurationError, parse_duration
    from apps.retention.models import RetentionRun
    from apps.retention.services import (
        RunRefused,
        purge_approval_request,
        purge_request,
    )

    if options["show"] is not None:
        return _show_purge(cmd, options)
    who = actor(options["by"])

    def asker_named() -> None:
        if who.user_id is None:
            raise CommandError("a purge needs a second person's approval, so it is asked for by a portal user: "
                               "add --by USERNAME")

    try:
        if options["preview"] is not None:
            if not options["confirm"] or options["older_than"] or options["queues"] or options["outcomes"] \
                    or options["as_of"]:
                raise CommandError("--preview RUN goes with --confirm alone: the preview fixed the selection")
            preview = RetentionRun.objects.filter(pk=options["preview"]).first()
            if preview is None:
                raise CommandError(f"no run {options['preview']}")
            asker_named()
        else:
            if not options["older_than"]:
                raise CommandError("give --older-than DURATION (or --confirm --preview RUN)")
            if options["as_of"] and not options["dry_run"]:
                raise CommandError("--as-of goes with --dry-run only: a purge measures age from now")
            if options["confirm"]:
                asker_named()
            preview = purge_request(actor=who, older_than=parse_duration(options["older_than"]), dry_run=True,
                                    queues=options["queues"] or None, outcomes=options["outcomes"] or None,
                                    as_of=options["as_of"])
            _execute(cmd, preview, options)
            if options["dry_run"]:
                if options["format"] != "json":
                    cmd.stderr.write(f"to ask for exactly this purge: archive purge --confirm --preview {preview.pk} "
                                     "--by USERNAME (a second person approves it)")
                return
        approval = purge_approval_request(preview=preview, actor=who, reason=options["reason"])
    except (DurationError, RunRefused, PermissionDenied, ApprovalRefused) as exc:
        raise CommandError(str(exc)) from None
    cmd.stderr.write(f"nothing was removed: the purge of preview {preview.pk} waits for a second person "
                     f"(archive approval approve {approval.pk} --by USERNAME)")
    if options["format"] == "json":
        from apps.approvals.selectors import approval_as_dict

        print_json(cmd, approval_as_dict(approval))
    else:
        cmd.stdout.write(f"approval {approval.pk}")


def _show_purge(cmd, options) -> None:
    """`purge --show RUN`: what GET /api/v1/purges/<id>/ answers (its keys), with the report's too."""
    from apps.retention.models import RetentionRun
    from apps.retention.tasks import report

    run = RetentionRun.objects.filter(pk=options["show"], kind="purge").first()
    if run is None:
        raise CommandError(f"no purge {options['show']}")
    if options["format"] == "json":
        print_json(cmd, {"id": run.pk, "kind": run.kind, "parameters": run.parameters,
                         "finished_at": run.finished_at.isoformat() if run.finished_at else None, **report(run),
                         "error": run.error or None})
        return
    _print_report(cmd, report(run), False)
    cmd.stdout.write(f"state: {run.state}" + (f"; error: {run.error}" if run.error else ""))


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
        from django.core.exceptions import PermissionDenied

        from apps.approvals.services import ApprovalRefused

        try:
            changes = services.policy_set(items=items, actor=actor(options["by"]), dry_run=options["dry_run"],
                                          reason=options["reason"])
        except services.PolicyFileError as exc:
            raise CommandError(f"{exc}; nothing was changed") from None
        except (ApprovalRefused, PermissionDenied) as exc:
            raise CommandError(f"{exc}; nothing was changed") from None
        pending = changes.approval is not None
        if options["format"] == "json":  # the keys of PUT /api/v1/retention-policies/
            print_json(cmd, {**changes.as_dict(), "weakened": changes.weakened, "approval": changes.approval,
                             "dry_run": options["dry_run"]})
            return
        for verb, scopes in changes.as_dict().items():
            if scopes:
                note = " (dry run)" if options["dry_run"] else " (once approved)" if pending else ""
                cmd.stdout.write(f"{verb}{note if verb != 'unchanged' else ''}: {', '.join(scopes)}")
        for line in changes.weakened:
            cmd.stderr.write(f"weakens: {line}")
        if pending:
            cmd.stderr.write("nothing was changed: the change weakens retention or payload handling, so a second "
                             f"person approves it (archive approval approve {changes.approval} --by USERNAME)")
            cmd.stdout.write(f"approval {changes.approval}")
    else:
        resolved = selectors.policy_book().for_pair(options["queue"], options["outcome"])
        if options["format"] == "json":
            from apps.retention.resolution import BUILT_IN, SETTINGS

            print_json(cmd, {"queue": options["queue"], "outcome": options["outcome"],
                             "settings": {name: {"value": getattr(resolved, name),
                                                 "from": resolved.sources.get(name, BUILT_IN)} for name in SETTINGS},
                             "explain": resolved.explain()})
            return
        cmd.stdout.write(f"queue={options['queue'] or '(any)'} outcome={options['outcome']}:")
        for line in resolved.explain():
            cmd.stdout.write(f"  {line}")
