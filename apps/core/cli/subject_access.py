"""Subject access commands: `archive subject export` (GDPR art. 15; apps/erasure/access.py)."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import CommandError

from apps.core.cli import actor


def register(sub) -> None:
    subject = sub.add_parser(
        "subject", help="subject access (GDPR art. 15): a person's archived records as JSON and CSV",
        description="A request names a person by subject keys (KEY=VALUE, hashed at once) and job ids. "
                    "Its bundle holds every archived record of the person, from both tiers; it is kept "
                    "for ARCHIVE_SUBJECT_ACCESS_HOURS and deleted by an erasure of the person.")
    actions = subject.add_subparsers(dest="subject_action", required=True, metavar="action")

    export = actions.add_parser("export", help="file a request, build its bundle and write its files into DIR")
    export.add_argument("--subject", dest="subjects", action="append", default=[], metavar="KEY=VALUE",
                        help="a subject key and value, e.g. email=ann@example.org (repeat for more)")
    export.add_argument("--job-id", dest="job_ids", action="append", default=[], metavar="ID",
                        help="a job id of the person's (repeat for more)")
    export.add_argument("--basis", default="GDPR art. 15", help="the legal basis (default: GDPR art. 15)")
    export.add_argument("--reason", default="",
                        help="why: the data subject's request, its reference (default: filed from the command line)")
    export.add_argument("--by", required=True, metavar="USERNAME", help="the compliance officer asking")
    export.add_argument("--out", required=True, metavar="DIR", help="where records.json and records.csv go")
    export.add_argument("--format", choices=["text", "json"], default="text", help="how to print the result")
    export.set_defaults(handler=handle_export)


def _refusals():
    from django.core.exceptions import PermissionDenied

    from apps.erasure.access import AccessRefused
    from apps.warehouse.dispatch import WorkerUnavailable

    return AccessRefused, PermissionDenied, WorkerUnavailable


def handle_export(cmd, options):
    from apps.erasure import access, access_bundle
    from apps.erasure.models import AccessState
    from apps.erasure.tasks import subject_access_build
    from apps.warehouse.dispatch import run_on_warehouse

    out = Path(options["out"])
    if out.exists() and not out.is_dir():
        raise CommandError(f"--out {out}: not a directory")
    who = actor(options["by"])
    reason = options["reason"] or f"subject access filed from the command line by {options['by']}"
    try:
        request = access.access_request(actor=who, subjects=options["subjects"], job_ids=options["job_ids"],
                                        reason=reason, basis=options["basis"], submit=False)
        built = run_on_warehouse(subject_access_build, timeout=3600, request_id=request.pk)
        if built["state"] != AccessState.READY:
            raise CommandError(f"{built['reference']} (id {built['id']}) failed: {built['error']}")
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for fmt in access_bundle.FILES:
            download = access.access_download(request=request, actor=who, fmt=fmt)
            path = out / access_bundle.FILES[fmt][0]
            path.write_bytes(download.body)
            written.append(str(path))
    except _refusals() as exc:
        raise CommandError(str(exc)) from None
    except OSError as exc:
        raise CommandError(f"cannot write into {out}: {exc}") from None
    data = {"id": request.pk, "reference": request.reference, "records": built["records"], "files": written,
            "expires_at": built["expires_at"]}
    if options["format"] == "json":
        cmd.stdout.write(json.dumps(data))
    else:
        cmd.stdout.write(f"{request.reference} (id {request.pk}): {built['records']} records; "
                         f"written {', '.join(written)}; the bundle is deleted at {built['expires_at']}")
