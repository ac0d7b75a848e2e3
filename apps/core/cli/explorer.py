"""Explorer commands: `archive query` (an audited query run, SQL or a template), `archive templates` and
`archive stats`."""

from __future__ import annotations

import csv
import io
import json

from django.core.management.base import CommandError

from apps.core.cli import actor, print_item, print_json, table


def register(sub) -> None:
    query = sub.add_parser(
        "query", help="run one SELECT (or a template) as an audited query run",
        description="Runs one SELECT, exactly as written, or a template (`archive templates` lists them), as a "
                    "query run: audited under who runs it, executed by the worker that owns the warehouse, its "
                    "result kept in S3 for download from the portal. `--as USER` runs with that user's role and "
                    "allow-list and is audited as them; without it, you run as the operator with the "
                    "Administrator's allow-list. Refused, with the reason: more than one statement, anything but "
                    "SELECT, tables outside the allow-list (the portal's internal tables for everyone), table "
                    "functions, dictionaries, file functions, INTO OUTFILE, SETTINGS and FORMAT. Capped in time, "
                    "rows and bytes read, result rows and memory (docs/explorer.md).")
    query.add_argument("sql", nargs="?", help='e.g. "SELECT queue, count() FROM jobs_all GROUP BY queue"')
    query.add_argument("--template", metavar="NAME", help="run a template instead of SQL")
    query.add_argument("--param", action="append", default=[], metavar="K=V",
                       help="a template parameter (repeat), e.g. --param queue=emails --param from=2026-11-01")
    query.add_argument("--as", dest="as_user", metavar="USER", default=None,
                       help="run with this portal user's role, audited as them")
    query.add_argument("--format", choices=["table", "json", "csv"], default="table",
                       help="json prints an array with one object per row; csv a header and the rows")
    query.add_argument("--max-rows", type=int, default=None, help="rows to print (never above CLICKHOUSE_QUERY_MAX_ROWS)")
    query.add_argument("--explain", action="store_true", help="print the engine's plan instead of running it")
    query.set_defaults(handler=handle_query)
    templates = sub.add_parser("templates", help="list the query templates and their parameters",
                               description="The templates `archive query --template NAME` runs, with typed "
                                           "parameters (`--param K=V`).")
    templates.add_argument("--format", choices=["table", "json"], default="table")
    templates.set_defaults(handler=handle_templates)
    stats = sub.add_parser(
        "stats", help="records, bytes, compression, oldest and newest record per tier and per queue",
        description="What the archive holds, computed now by the worker that owns the warehouse: records and "
                    "stored bytes per tier (warm: ClickHouse; cold: the Iceberg table, which keeps every record "
                    "until purged), the same records' size as JSON lines (from a sample), the compression ratio "
                    "and bytes saved, and per queue the records, oldest and newest (docs/explorer.md, Stats).")
    stats.add_argument("--queue", metavar="Q", help="only this queue")
    stats.add_argument("--latest", action="store_true",
                       help="the figures as the worker last computed them (what GET /api/v1/stats/ answers), "
                            "without computing them now")
    stats.add_argument("--format", choices=["table", "json"], default="table")
    stats.set_defaults(handler=handle_stats)

    runs = sub.add_parser(
        "query-run", help="your query runs: list them, show one, write its stored result",
        description="Query runs as GET /api/v1/query-runs/ shows them: `--as USER` for that portal user's own "
                    "runs (only theirs), else the operator's (runs from the command line without --as).")
    actions = runs.add_subparsers(dest="query_run_action", required=True, metavar="action")
    listing = actions.add_parser("list", help="the newest runs (at most 200)")
    listing.add_argument("--as", dest="as_user", metavar="USER", default=None, help="this portal user's runs")
    listing.add_argument("--format", choices=["table", "json"], default="table",
                         help="json prints an array, one object per run (the API's keys)")
    listing.set_defaults(handler=handle_runs_list)
    show = actions.add_parser("show", help="one run: state, timings, rows, bytes read, columns")
    show.add_argument("id", metavar="ID", help="the run's id (a UUID)")
    show.add_argument("--as", dest="as_user", metavar="USER", default=None, help="a run of this portal user's")
    show.add_argument("--format", choices=["text", "json"], default="text",
                      help="json prints the run as one object (the API's keys)")
    show.set_defaults(handler=handle_runs_show)
    result = actions.add_parser("result", help="write a run's stored result as CSV, JSON or Parquet (audited)")
    result.add_argument("id", metavar="ID", help="the run's id (a UUID)")
    result.add_argument("--as", dest="as_user", metavar="USER", default=None, help="a run of this portal user's")
    result.add_argument("--file-format", choices=["csv", "json", "parquet"], default="csv",
                        help="the download's format (default csv)")
    result.add_argument("--out", required=True, metavar="FILE", help="where to write it ('-' = standard output)")
    result.add_argument("--format", choices=["text", "json"], default="text",
                        help="how to print what was written (json: one object)")
    result.set_defaults(handler=handle_runs_result)


def _params(pairs: list[str]) -> dict:
    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise CommandError(f"--param {pair!r}: write K=V, e.g. --param queue=emails")
        params[key.strip()] = value
    return params


def handle_query(cmd, options):
    from django.conf import settings
    from django.core.exceptions import PermissionDenied

    from apps.explorer.allowed import QueryRefused
    from apps.explorer.models import RunState
    from apps.explorer.services import query_run_submit, query_run_wait
    from apps.explorer.templates import TemplateError

    if bool(options["sql"]) == bool(options["template"]):
        raise CommandError('give either "SQL" or --template NAME (`archive templates` lists them)')
    if options["param"] and not options["template"]:
        raise CommandError("--param goes with --template")
    who = actor(options["as_user"])
    cap = min(options["max_rows"] or settings.CLICKHOUSE_QUERY_MAX_ROWS, settings.CLICKHOUSE_QUERY_MAX_ROWS)
    try:
        run = query_run_submit(actor=who, sql=options["sql"], template=options["template"],
                               params=_params(options["param"]), explain=options["explain"])
    except (QueryRefused, TemplateError, PermissionDenied) as exc:
        raise CommandError(str(exc)) from None
    if run.state == RunState.REFUSED:
        raise CommandError(run.error)
    done = query_run_wait(run, rows_back=cap)
    summary, rows = done["run"], done["rows"]
    if summary["state"] != RunState.SUCCEEDED:
        raise CommandError(summary["error"] or f"the query run ended {summary['state']}")
    columns = [name for name, _ in summary["columns"]]
    if options["format"] == "json":
        cmd.stdout.write(json.dumps([dict(zip(columns, row)) for row in rows], default=str))
    elif options["format"] == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[json.dumps(v) if isinstance(v, (list, dict)) else v for v in row] for row in rows])
        cmd.stdout.write(out.getvalue(), ending="")
    else:
        cmd.stdout.write(table(columns, rows))
        cmd.stderr.write(f"{len(rows)} rows in {summary['elapsed_ms']} ms (run {summary['id']})")
    if summary["truncated"] or len(rows) < (summary["rows"] or 0):
        cmd.stderr.write("warning: result truncated at the row cap")


def handle_templates(cmd, options):
    from apps.explorer.templates import TEMPLATES

    listed = [t.as_dict() for t in TEMPLATES.values()]
    if options["format"] == "json":
        cmd.stdout.write(json.dumps(listed, indent=2))
        return
    cmd.stdout.write(table(["name", "parameters", "what it answers"],
                           [[t["name"], ", ".join(f"{p['name']}:{p['type']}" + ("" if p["required"] else "?")
                                                  for p in t["params"]), t["title"]] for t in listed]))


def _size(n) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def handle_stats(cmd, options):
    from apps.explorer.tasks import stats_refresh
    from apps.warehouse.dispatch import run_on_warehouse

    if options["latest"]:
        from apps.explorer.selectors import latest_stats

        if options["queue"]:
            raise CommandError("--latest shows the whole archive's figures; leave out --queue")
        snapshot = latest_stats()
        if snapshot is None:
            raise CommandError("no figures yet: the worker computes them every 15 minutes (or run `archive stats`)")
        figures = {**snapshot.figures, "computed_at": snapshot.computed_at.isoformat()}
    else:
        figures = run_on_warehouse(stats_refresh, timeout=600, queue=options["queue"])
    if options["format"] == "json":
        cmd.stdout.write(json.dumps(figures, indent=2))
        return
    tiers = figures["tiers"]
    cmd.stdout.write(table(
        ["tier", "records", "stored", "as JSON", "ratio", "saved", "oldest", "newest"],
        [[name, t["records"], _size(t["stored_bytes"]), _size(t["raw_json_bytes"]), t["compression_ratio"] or "-",
          _size(t["bytes_saved"]), t["oldest"] or "-", t["newest"] or "-"] for name, t in tiers.items()]))
    cmd.stdout.write("")
    cmd.stdout.write(table(
        ["queue", "warm records", "warm newest", "cold records", "cold oldest", "cold newest"],
        [[q["queue"], q["warm"]["records"], q["warm"]["newest"] or "-", q["cold"]["records"],
          q["cold"]["oldest"] or "-", q["cold"]["newest"] or "-"] for q in figures["queues"]]))


def _user_of(as_user: str | None):
    """The portal user whose runs are meant (None: the operator's, which have no user)."""
    return actor(as_user).user if as_user else None


def _run_of(options):
    from django.core.exceptions import ValidationError

    from apps.explorer.models import QueryRun

    try:
        run = QueryRun.objects.select_related("result").filter(pk=options["id"]).first()
    except (ValueError, ValidationError) as exc:  # not a UUID
        raise CommandError(f"no query run {options['id']}: {exc}") from None
    user = _user_of(options["as_user"])
    if run is None or run.user_id != (user.pk if user else None):  # as run_for: only one's own
        raise CommandError(f"no query run {options['id']} of {options['as_user'] or 'the operator'}")
    return run


def handle_runs_list(cmd, options):
    from apps.explorer.selectors import history_for, run_as_dict

    items = [run_as_dict(r) for r in history_for(_user_of(options["as_user"]), limit=200)]
    if options["format"] == "json":
        print_json(cmd, items)
        return
    cmd.stdout.write(table(["id", "state", "submitted_at", "template", "rows", "elapsed_ms", "sql"],
                           [[r["id"], r["state"], (r["submitted_at"] or "")[:19], r["template"] or "", r["rows"],
                             r["elapsed_ms"], (r["sql"] or "").replace("\n", " ")[:60]] for r in items])
                     if items else "no query runs")


def handle_runs_show(cmd, options):
    from apps.explorer.selectors import run_as_dict

    item = run_as_dict(_run_of(options))
    print_item(cmd, options, item)


def handle_runs_result(cmd, options):
    from pathlib import Path

    from django.core.exceptions import PermissionDenied

    from apps.explorer.allowed import QueryRefused
    from apps.explorer.services import query_result_download

    run = _run_of(options)
    try:
        name, content_type, body = query_result_download(run=run, actor=actor(options["as_user"]),
                                                         fmt=options["file_format"])
    except (QueryRefused, PermissionDenied) as exc:
        raise CommandError(str(exc)) from None
    if options["out"] == "-":
        if options["file_format"] == "parquet":
            raise CommandError("a Parquet result is binary: give --out FILE")
        cmd.stdout.write(body.decode(), ending="")
        return
    try:
        Path(options["out"]).write_bytes(body)
    except OSError as exc:
        raise CommandError(f"cannot write {options['out']}: {exc}") from None
    if options["format"] == "json":
        print_json(cmd, {"id": str(run.pk), "file": options["out"], "name": name, "content_type": content_type,
                         "bytes": len(body)})
    else:
        cmd.stdout.write(f"{options['out']} written ({len(body)} bytes, {content_type})")
