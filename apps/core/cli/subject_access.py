"""Subject access commands: `archive subject export` (GDPR art. 15; apps/erasure/access.py)."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import CommandError

from apps.core.cli import actor, add_format, print_json, table


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

    listing = actions.add_parser("list", help="subject access requests, newest first (at most 200)")
    listing.add_argument("--state", default=None, help="only this state (e.g. requested, ready, failed, expired)")
    add_format(listing, choices=("table", "json"))
    listing.set_defaults(handler=handle_list)
    show = actions.add_parser("show", help="one request: state, records per tier, whether its bundle is there")
    show.add_argument("id", type=int, help="the request's id (from `subject list`)")
    add_format(show)
    show.set_defaults(handler=handle_show)
    bundle = actions.add_parser("bundle", help="write a ready request's bundle file (only whoever filed it may)")
    bundle.add_argument("id", type=int, help="the request's id (from `subject list`)")
    bundle.add_argument("--file-format", choices=["json", "csv"], default="json",
                        help="which file of the bundle (default json)")
    bundle.add_argument("--by", required=True, metavar="USERNAME", help="the compliance officer who filed it")
    bundle.add_argument("--out", required=True, metavar="FILE", help="where to write it ('-' = standard output)")
    add_format(bundle)
    bundle.set_defaults(handler=handle_bundle)


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


def _request(request_id: int):
    from apps.erasure.models import SubjectAccessRequest

    found = SubjectAccessRequest.objects.select_related("bundle", "requested_by").filter(pk=request_id).first()
    if found is None:
        raise CommandError(f"no subject access request {request_id}")
    return found


def handle_list(cmd, options):
    from apps.erasure.access_selectors import access_as_dict, access_requests_listed

    items = [access_as_dict(r) for r in access_requests_listed(state=options["state"])[:200]]
    if options["format"] == "json":
        print_json(cmd, items)
        return
    cmd.stdout.write(table(["id", "reference", "state", "names", "records", "requested_by", "expires_at"],
                           [[d["id"], d["reference"], d["state"], d["names"], d["records"], d["requested_by"],
                             d["expires_at"][:19]] for d in items]) if items else "no subject access requests")


def handle_show(cmd, options):
    from apps.erasure.access_selectors import access_as_dict

    item = access_as_dict(_request(options["id"]))
    if options["format"] == "json":
        print_json(cmd, item)
        return
    for key in ("id", "reference", "state", "error", "requested_by", "legal_basis", "names", "records", "counts",
                "available", "created_at", "ready_at", "downloaded_at", "expires_at", "expired_at"):
        if item[key] not in (None, "", {}):
            cmd.stdout.write(f"{key}: {json.dumps(item[key]) if isinstance(item[key], dict) else item[key]}")


def handle_bundle(cmd, options):
    from apps.erasure import access

    request = _request(options["id"])
    try:
        got = access.access_download(request=request, actor=actor(options["by"]), fmt=options["file_format"])
    except _refusals() as exc:
        raise CommandError(str(exc)) from None
    if options["out"] == "-":  # JSON or CSV: text
        cmd.stdout.write(got.body.decode(), ending="")
        return
    try:
        Path(options["out"]).write_bytes(got.body)
    except OSError as exc:
        raise CommandError(f"cannot write {options['out']}: {exc}") from None
    if options["format"] == "json":
        print_json(cmd, {"id": request.pk, "reference": request.reference, "file": options["out"],
                         "bytes": len(got.body), "content_type": got.content_type})
    else:
        cmd.stdout.write(f"{options['out']} written ({len(got.body)} bytes of {request.reference}'s bundle)")
