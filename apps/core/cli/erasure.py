"""Erasure commands: `archive erasure file|preview|approve|reject|run|show|certificate|list` (apps/erasure)."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import CommandError

from apps.core.cli import actor, add_format, add_quiet, day, print_json, table
from apps.core.cli.progress import polling, progress


def register(sub) -> None:
    erasure = sub.add_parser(
        "erasure", help="erasure requests (GDPR art. 17): file, preview, approve (four eyes), run, certificate",
        description="A request names a person's records by subject keys (KEY=VALUE, hashed at once), job ids, "
                    "trace ids or payload hashes, narrowed by a tenant and dates. A second compliance officer "
                    "approves it; the run removes the records from every place the archive keeps them, "
                    "verifies that independently and issues a certificate.")
    actions = erasure.add_subparsers(dest="erasure_action", required=True, metavar="action")

    file = actions.add_parser("file", help="file (and submit) a request; its preview opens the approval")
    file.add_argument("--subject", dest="subjects", action="append", default=[], metavar="KEY=VALUE",
                      help="a subject key and value, e.g. email=ann@example.org (repeat for more)")
    file.add_argument("--job-id", dest="job_ids", action="append", default=[], metavar="ID")
    file.add_argument("--trace-id", dest="trace_ids", action="append", default=[], metavar="ID")
    file.add_argument("--payload-hash", dest="payload_hashes", action="append", default=[], metavar="HEX")
    file.add_argument("--tenant", default="", help="only records of this tenant")
    file.add_argument("--from", dest="date_from", type=day, default=None, metavar="DATE",
                      help="only records enqueued on or after this day (UTC)")
    file.add_argument("--to", dest="date_to", type=day, default=None, metavar="DATE",
                      help="only records enqueued on or before this day (UTC)")
    file.add_argument("--basis", required=True, help="the legal basis, e.g. 'GDPR art. 17(1)(a)'")
    file.add_argument("--reason", required=True, help="why (the data subject's request, its reference)")
    file.add_argument("--due", type=day, default=None, metavar="DATE", help="answer due (default: in 30 days)")
    file.add_argument("--draft", action="store_true", help="save as a draft, not submitted (no preview yet)")
    file.add_argument("--by", required=True, metavar="USERNAME", help="the compliance officer filing it")
    file.add_argument("--format", choices=["text", "json"], default="text")
    file.set_defaults(handler=handle_file)

    preview = actions.add_parser("preview", help="the records a request names, counted in every place")
    preview.add_argument("id", type=int)
    preview.add_argument("--format", choices=["text", "json"], default="text")
    preview.set_defaults(handler=handle_preview)

    approve = actions.add_parser("approve", help="approve a request (not its requester); it then runs")
    approve.add_argument("id", type=int)
    approve.add_argument("--by", required=True, metavar="USERNAME")
    approve.add_argument("--hash", default=None, metavar="SHA256",
                         help="refuse unless the approval's content still has this hash (what you reviewed)")
    add_format(approve)
    approve.set_defaults(handler=handle_approve)

    reject = actions.add_parser("reject", help="reject a request (it ends; only hashes are kept)")
    reject.add_argument("id", type=int)
    reject.add_argument("--by", required=True, metavar="USERNAME")
    reject.add_argument("--reason", required=True, help="why (kept with the decision)")
    add_format(reject)
    reject.set_defaults(handler=handle_reject)

    run = actions.add_parser("run", help="run or resume an approved request and wait for its end")
    run.add_argument("id", type=int)
    run.add_argument("--format", choices=["text", "json"], default="text")
    add_quiet(run)
    run.set_defaults(handler=handle_run)

    show = actions.add_parser("show", help="one request: state, step, counts, verification, certificate hash")
    show.add_argument("id", type=int)
    show.add_argument("--format", choices=["text", "json"], default="text")
    show.set_defaults(handler=handle_show)

    certificate = actions.add_parser("certificate", help="write the certificate of erasure (JSON, HTML or PDF)")
    certificate.add_argument("id", type=int)
    certificate.add_argument("--out", default=None, metavar="FILE",
                             help="where to write it; .pdf, .html or .json by its name (default JSON); without "
                                  "it, --format json prints {document, sha256}")
    add_format(certificate)
    certificate.set_defaults(handler=handle_certificate)

    listing = actions.add_parser("list", help="requests, newest first")
    listing.add_argument("--state", default=None, help="only this state (e.g. submitted, failed, completed)")
    listing.add_argument("--format", choices=["table", "json"], default="table")
    listing.set_defaults(handler=handle_list)


def _request(options):
    from apps.erasure.models import ErasureRequest
    from apps.erasure.services import erasure_reap

    erasure_reap()
    request = ErasureRequest.objects.filter(pk=options["id"]).first()
    if request is None:
        raise CommandError(f"no erasure request {options['id']}")
    return request


def _refusals():
    from django.core.exceptions import PermissionDenied

    from apps.approvals.services import ApprovalRefused
    from apps.erasure.services import ErasureRefused
    from apps.warehouse.dispatch import WorkerUnavailable

    return ErasureRefused, ApprovalRefused, PermissionDenied, WorkerUnavailable


def _print(cmd, options, data: dict, text: str) -> None:
    cmd.stdout.write(json.dumps(data) if options["format"] == "json" else text)


def _run_preview(request_id: int, who) -> dict:
    from apps.erasure.tasks import erasure_preview
    from apps.warehouse.dispatch import run_on_warehouse

    return run_on_warehouse(erasure_preview, timeout=3600, request_id=request_id, actor=who.as_task())


def _preview_text(preview: dict) -> str:
    counts = ", ".join(f"{k} {v}" for k, v in preview["counts"].items())
    held = "; ".join(f"{h['records']} kept by hold {h['hold']} ({h['label']})" for h in preview["held"]) or "none held"
    return (f"records: {counts}\nheld: {held}\ncold files to rewrite: {preview['files']['to_rewrite']} of "
            f"{preview['files']['in_table']}; partitions: warm {len(preview['partitions']['warm'])}, "
            f"cold {len(preview['partitions']['cold'])}")


def handle_file(cmd, options):
    from apps.erasure.selectors import erasure_as_dict
    from apps.erasure.services import erasure_file

    who = actor(options["by"])
    try:
        request = erasure_file(actor=who, legal_basis=options["basis"], reason=options["reason"],
                               subjects=options["subjects"], job_ids=options["job_ids"], trace_ids=options["trace_ids"],
                               payload_hashes=options["payload_hashes"], tenant=options["tenant"],
                               date_from=options["date_from"], date_to=options["date_to"], due_on=options["due"],
                               submit=not options["draft"])
        if not options["draft"]:
            _run_preview(request.pk, who)
    except _refusals() as exc:
        raise CommandError(str(exc)) from None
    request.refresh_from_db()
    data = erasure_as_dict(request)
    text = f"{request.reference} filed ({request.get_state_display().lower()}), id {request.pk}, due {request.due_on}"
    if request.preview:
        text += "\n" + _preview_text(request.preview)
    if request.approval_id:
        text += (f"\nwaiting for a second person: archive erasure approve {request.pk} --by USERNAME "
                 f"(approval {request.approval_id})")
    _print(cmd, options, data, text)


def handle_preview(cmd, options):
    request = _request(options)
    if not request.preview:
        if request.state != "submitted":
            raise CommandError(f"{request.reference} has no preview ({request.get_state_display().lower()})")
        _run_preview(request.pk, actor(None))
        request.refresh_from_db()
    preview = request.preview
    _print(cmd, options, preview, f"{request.reference}: {request.get_state_display().lower()}\n" + _preview_text(preview))


def handle_approve(cmd, options):
    from apps.erasure.services import erasure_approve
    from apps.warehouse.dispatch import warehouse_worker_live

    request = _request(options)
    try:
        live = warehouse_worker_live()
        request = erasure_approve(request=request, actor=actor(options["by"]), submit=live,
                                  content_hash_seen=options["hash"])
    except _refusals() as exc:
        raise CommandError(str(exc)) from None
    if options["format"] == "json":
        from apps.erasure.selectors import erasure_as_dict

        print_json(cmd, {**erasure_as_dict(request), "running_on_worker": live})
        return
    where = "it runs on the worker now" if live else f"no worker serves the warehouse: archive erasure run {request.pk}"
    cmd.stdout.write(f"{request.reference} approved by {options['by']}; {where}")


def handle_reject(cmd, options):
    from apps.erasure.services import erasure_reject

    try:
        request = erasure_reject(request=_request(options), actor=actor(options["by"]), reason=options["reason"])
    except _refusals() as exc:
        raise CommandError(str(exc)) from None
    if options["format"] == "json":
        from apps.erasure.selectors import erasure_as_dict

        print_json(cmd, erasure_as_dict(request))
        return
    cmd.stdout.write(f"{request.reference} rejected; only keyed hashes of its identifiers are kept")


def handle_run(cmd, options):
    from apps.erasure.tasks import erasure_execute
    from apps.warehouse.dispatch import run_on_warehouse

    request = _request(options)
    if request.state in ("draft", "submitted"):
        raise CommandError(f"{request.reference} is {request.get_state_display().lower()}: it runs only once approved")
    try:
        with progress(cmd, options, f"{request.reference}", total=len(_steps())) as bar, \
                polling(bar, lambda: _run_reading(request.pk)):
            data = run_on_warehouse(erasure_execute, timeout=6 * 3600, request_id=request.pk)
    except _refusals() as exc:
        raise CommandError(str(exc)) from None
    if data["state"] == "failed":
        raise CommandError(f"{data['reference']} failed at step {data['step']}: {data['error']} "
                           f"(run it again to resume: archive erasure run {request.pk})")
    _print(cmd, options, data, _show_text(data))


def _steps() -> tuple[str, ...]:
    from apps.erasure.execution import STEPS

    return STEPS


def _run_reading(request_id: int) -> dict | None:
    """An erasure's progress as the worker records it on the request: steps done, and the step running."""
    from apps.erasure.models import ErasureRequest

    request = ErasureRequest.objects.filter(pk=request_id).only("reference", "state", "step", "steps").first()
    if request is None:
        return None
    steps = _steps()
    done = sum(1 for name in steps if (request.steps or {}).get(name, {}).get("done"))
    where = f"step {request.step}" if request.step and request.state == "executing" else request.state
    return {"completed": done, "total": len(steps), "description": f"{request.reference}: {where}"}


def _show_text(data: dict) -> str:
    lines = [f"{data['reference']} ({data['id']}): {data['state']}" + (f", step {data['step']}" if data["step"] else ""),
             f"names: {data['criteria']}", f"requested by {data['requested_by']}, approved by {data['approved_by'] or '-'}",
             f"due {data['due_on']}" + (" (OVERDUE)" if data["overdue"] else ""),
             "removed: " + ", ".join(f"{k} {v}" for k, v in data["counts"].items()),
             f"late records not archived: {data['late_dropped']}"]
    if data["held"]:
        lines.append("held: " + "; ".join(f"{h['records']} by hold {h['hold']}" for h in data["held"]))
    if data["verification"].get("at"):
        lines.append(f"verification: {'passed' if data['verification']['passed'] else 'FAILED'}")
    if data["error"]:
        lines.append(f"error: {data['error']}")
    if data["certificate_sha256"]:
        lines.append(f"certificate sha256: {data['certificate_sha256']}")
    return "\n".join(lines)


def handle_show(cmd, options):
    from apps.erasure.selectors import erasure_as_dict

    data = erasure_as_dict(_request(options))
    _print(cmd, options, data, _show_text(data))


def handle_certificate(cmd, options):
    from apps.erasure import certificate

    request = _request(options)
    if not request.certificate_sha256:
        raise CommandError(f"{request.reference} has no certificate yet ({request.get_state_display().lower()})")
    if options["out"] is None:
        if options["format"] != "json":
            raise CommandError("give --out FILE (.pdf, .html or .json), or --format json to print the certificate")
        print_json(cmd, {"document": request.certificate, "sha256": request.certificate_sha256})
        return
    out = Path(options["out"])
    if out.suffix == ".pdf":
        out.write_bytes(certificate.render_pdf(request))
    elif out.suffix in (".html", ".htm"):
        from django.template.loader import render_to_string

        out.write_text(render_to_string("erasure/certificate_pdf.html", {"doc": request.certificate,
                                                                         "sha256": request.certificate_sha256}))
    else:
        import rfc8785

        out.write_bytes(rfc8785.dumps(request.certificate))
    if options["format"] == "json":
        print_json(cmd, {"file": str(out), "sha256": request.certificate_sha256})
        return
    cmd.stdout.write(f"{out} written (certificate sha256 {request.certificate_sha256})")


def handle_list(cmd, options):
    from apps.erasure.selectors import erasure_as_dict, requests_listed
    from apps.erasure.services import erasure_reap

    erasure_reap()
    items = [erasure_as_dict(r) for r in requests_listed(state=options["state"])]
    if options["format"] == "json":
        cmd.stdout.write(json.dumps(items))
        return
    cmd.stdout.write(table(["id", "reference", "state", "step", "due", "requested_by", "names"],
                           [[d["id"], d["reference"], d["state"], d["step"], d["due_on"] + (" OVERDUE" if d["overdue"] else ""),
                             d["requested_by"], d["criteria"][:50]] for d in items]))
