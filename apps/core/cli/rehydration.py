"""`archive rehydrate`: cold days copied back into ClickHouse for a while."""

from __future__ import annotations

from django.core.management.base import CommandError

from apps.core.cli import actor, add_format, add_quiet, day, os_user, print_json, table
from apps.core.cli.progress import polling, progress


def register(sub) -> None:
    rehydrate = sub.add_parser("rehydrate", help="copy a date range of cold data into a ClickHouse table for a while")
    rehydrate_mode = rehydrate.add_mutually_exclusive_group()
    rehydrate_mode.add_argument("--list", action="store_true", help="list recent rehydrations")
    rehydrate_mode.add_argument("--drop", metavar="ID", help="drop a rehydrated table now (id from --list)")
    rehydrate.add_argument("--from", dest="date_from", type=day, metavar="YYYY-MM-DD",
                           help="first day (UTC), included")
    rehydrate.add_argument("--to", dest="date_to", type=day, metavar="YYYY-MM-DD", help="last day (UTC), included")
    rehydrate.add_argument("--queue", dest="queues", action="append", default=[], metavar="QUEUE",
                           help="only this queue (repeat for more); default every queue")
    rehydrate.add_argument("--expires", default=None, metavar="DURATION",
                           help="drop the table after this long, e.g. 12h, 7d (REHYDRATION_DEFAULT_EXPIRY)")
    rehydrate.add_argument("--by", metavar="USERNAME", help="portal user recorded as requester (audit log)")
    add_format(rehydrate)
    add_quiet(rehydrate)
    rehydrate.set_defaults(handler=handle_rehydrate)


def handle_rehydrate(cmd, options):
    from django.conf import settings
    from django.core.exceptions import PermissionDenied, ValidationError
    from django.template.defaultfilters import filesizeformat

    from apps.core.durations import DurationError, parse_duration
    from apps.rehydration import selectors, services
    from apps.rehydration.tasks import rehydration_drop_table, rehydration_run
    from apps.warehouse.dispatch import run_on_warehouse

    who = actor(options["by"])
    as_json = options["format"] == "json"
    if options["list"]:
        if as_json:
            print_json(cmd, [services.as_dict(r) for r in selectors.rehydration_list()])
            return
        rows = [[r.short_id, r.state, r.date_from, r.date_to, ",".join(r.queues) or "all", r.table_name, r.rows,
                 filesizeformat(r.bytes).replace("\xa0", " ") if r.bytes is not None else "",
                 r.expires_at.strftime("%Y-%m-%d %H:%M UTC"), r.requested_by or r.requested_via]
                for r in selectors.rehydration_list()]
        columns = ["id", "state", "from", "to", "queues", "table", "rows", "size", "expires", "requested by"]
        cmd.stdout.write(table(columns, rows) if rows else "no rehydrations")
        return
    if options["drop"]:
        try:
            rehydration = selectors.rehydration_find(reference=options["drop"])
        except selectors.RehydrationNotFound as exc:
            raise CommandError(str(exc)) from None
        try:
            services.rehydration_drop(rehydration=rehydration, actor=who, dispatch=False)
        except PermissionDenied as exc:
            raise CommandError(str(exc)) from None
        result = run_on_warehouse(rehydration_drop_table, timeout=600, rehydration_id=str(rehydration.id),
                                  actor=who.as_task())
        if as_json:
            rehydration.refresh_from_db()
            print_json(cmd, {**services.as_dict(rehydration), "dropped": result["table"]})
            return
        cmd.stdout.write(f"dropped {result['table']} (rehydration {rehydration.short_id} is expired)")
        return
    if options["date_from"] is None or options["date_to"] is None:
        raise CommandError("give --from and --to (or --list, or --drop ID)")
    try:
        rehydration = services.rehydration_request(
            date_from=options["date_from"], date_to=options["date_to"], queues=options["queues"],
            expires_in=parse_duration(options["expires"] or settings.REHYDRATION_DEFAULT_EXPIRY),
            actor=who, via=f"cli ({os_user()})", dispatch=False,
        )
    except (DurationError, PermissionDenied) as exc:
        raise CommandError(str(exc)) from None
    except ValidationError as exc:
        raise CommandError(" ".join(exc.messages)) from None
    with progress(cmd, options, f"rehydration {rehydration.short_id}", total=2) as bar:
        bar.note(f"rehydration {rehydration.short_id}: copying {rehydration} from the cold tier...")
        with polling(bar, lambda: _reading(rehydration.pk)):
            result = run_on_warehouse(rehydration_run, timeout=6 * 3600, rehydration_id=str(rehydration.id))
    if result["state"] != "ready":
        raise CommandError(f"rehydration {rehydration.short_id} {result['state']}: {result['error']}")
    if as_json:
        print_json(cmd, result)
        return
    cmd.stdout.write(
        f"{result['table']}: {result['rows']} rows, {filesizeformat(result['bytes'])}, "
        f"expires {rehydration.expires_at:%Y-%m-%d %H:%M} UTC".replace("\xa0", " ")
    )
    cmd.stderr.write(f'query it with: archive query "SELECT count() FROM {result["table"]}"')


def _reading(rehydration_id) -> dict | None:
    """A rehydration's progress as the worker records it: pending, copying, then ready (or failed)."""
    from apps.rehydration.models import Rehydration, RehydrationState

    found = Rehydration.objects.filter(pk=rehydration_id).only("state", "rows").first()
    if found is None:
        return None
    completed = {RehydrationState.PENDING: 0, RehydrationState.RUNNING: 1}.get(found.state, 2)
    label = {RehydrationState.PENDING: "waiting for the warehouse", RehydrationState.RUNNING: "copying from the cold tier"}
    return {"completed": completed, "description": f"rehydration: {label.get(found.state, found.state)}"}
