"""Jobs commands: `archive list` (the jobs search) and `archive show JOB_ID` (every attempt of one job).

Both are audited query runs (templates `job_search` and `job_lookup`), executed by the worker that
owns the warehouse, with the same filters as the jobs page and the API (apps/explorer/filters.py).
"""

from __future__ import annotations

import json

from django.core.management.base import CommandError

from apps.core.cli import actor, table

_AS_HELP = "run with this portal user's role, audited as them (default: the operator)"
_LISTED = ("job_id", "retries", "queue", "outcome", "enqueue_time", "worker_id", "error_type", "tenant_id")


def register(sub) -> None:
    listing = sub.add_parser(
        "list", help="search archived jobs by queue, status, time, worker, tenant, tags, trace, payload keys",
        description="Archived attempts matching every filter given, newest first, from whichever tier holds "
                    "them (jobs_all): an audited query run, executed by the worker that owns the warehouse. "
                    "Times are ISO dates or moments (UTC unless they say otherwise), now, or -7d / -24h; "
                    "without --from the last 7 days are searched.")
    listing.add_argument("--queue", metavar="Q")
    listing.add_argument("--status", metavar="S", help="the outcome: success, failed, timeout, cancelled, retry, dead")
    listing.add_argument("--from", dest="from_", metavar="DATE", help="enqueued at or after (default -7d)")
    listing.add_argument("--to", metavar="DATE", help="enqueued before")
    listing.add_argument("--worker", metavar="W")
    listing.add_argument("--tenant", metavar="T")
    listing.add_argument("--error-type", metavar="E")
    listing.add_argument("--tag", metavar="K=V", help="a tag, e.g. region=eu-west-1")
    listing.add_argument("--trace-id", metavar="ID")
    listing.add_argument("--job-id", metavar="ID")
    listing.add_argument("--payload", metavar="K=V", help="a key inside the (redacted) payload sample, e.g. event=order.paid")
    listing.add_argument("--limit", type=int, metavar="N", default=100, help="at most N attempts (1-1000, default 100)")
    listing.add_argument("--as", dest="as_user", metavar="USER", help=_AS_HELP)
    listing.add_argument("--format", choices=["table", "json"], default="table",
                         help="json prints an array with one object per attempt")
    listing.set_defaults(handler=handle_list)
    show = sub.add_parser(
        "show", help="every archived attempt of one job: times, outcome, error, payload sample, tags, tier, partition",
        description="Every archived attempt of the job, found through the job index and read from whichever tier "
                    "holds it; an audited query run. `restorable` says whether the kept payload is the payload "
                    "as sent (only those can be restored: `archive restore`).")
    show.add_argument("job_id", metavar="JOB_ID")
    show.add_argument("--as", dest="as_user", metavar="USER", help=_AS_HELP)
    show.add_argument("--format", choices=["table", "json"], default="table")
    show.set_defaults(handler=handle_show)


def _filters(options) -> dict:
    given = {"queue": options["queue"], "outcome": options["status"], "from": options["from_"], "to": options["to"],
             "worker": options["worker"], "tenant": options["tenant"], "error_type": options["error_type"],
             "tag": options["tag"], "trace_id": options["trace_id"], "job_id": options["job_id"],
             "payload": options["payload"], "limit": options["limit"]}
    return {name: str(value) for name, value in given.items() if value not in (None, "")}


def _refusing(call, **kwargs):
    from django.core.exceptions import PermissionDenied

    from apps.explorer.allowed import QueryRefused
    from apps.explorer.jobs import JobsUnavailable
    from apps.explorer.templates import TemplateError

    try:
        return call(**kwargs)
    except (TemplateError, QueryRefused, PermissionDenied, JobsUnavailable) as exc:
        raise CommandError(str(exc).replace("\n", " ")) from None


def handle_list(cmd, options):
    from apps.explorer import jobs

    found = _refusing(jobs.search, actor=actor(options["as_user"]), filters=_filters(options))
    if options["format"] == "json":
        cmd.stdout.write(json.dumps(found["jobs"], default=str))
        return
    cmd.stdout.write(table(list(_LISTED), [[job.get(c) for c in _LISTED] for job in found["jobs"]]))
    cmd.stderr.write(f"{len(found['jobs'])} attempts (run {found['run']['id']}); `archive show JOB_ID` for one")


def handle_show(cmd, options):
    from apps.explorer import jobs

    job = _refusing(jobs.show, actor=actor(options["as_user"]), job_id=options["job_id"])
    if not job["attempts"]:
        raise CommandError(f"no archived attempt of job {options['job_id']!r} (erased, purged or never archived)")
    if options["format"] == "json":
        cmd.stdout.write(json.dumps(job, default=str))
        return
    fields = ("outcome", "queue", "enqueue_time", "start_time", "end_time", "worker_id", "worker_version",
              "tenant_id", "error_type", "error_msg", "trace_id", "payload_size", "payload_hash", "tags",
              "tier", "warm_partition", "cold_partition", "restorable", "payload_sample")
    for attempt in job["attempts"]:
        cmd.stdout.write(f"attempt {attempt['retries']}")
        for name in fields:
            value = attempt.get(name)
            cmd.stdout.write(f"  {name:<15} {json.dumps(value) if isinstance(value, dict) else value}")
