"""Approval commands: `archive approval list|show|approve|reject|withdraw` (four eyes, apps/approvals)."""

from __future__ import annotations

import json

from django.core.management.base import CommandError

from apps.core.cli import actor, add_format, add_quiet, print_json, table


def register(sub) -> None:
    approval = sub.add_parser(
        "approval", help="list, approve or reject what waits for a second person (purges, policy changes, "
                         "hold releases)",
        description="Approving runs exactly the approved content: a purge runs on the warehouse (the worker, "
                    "else here), a policy change or a hold release is made at once. The requester cannot "
                    "approve or reject their own request.")
    actions = approval.add_subparsers(dest="approval_action", required=True, metavar="action")
    listing = actions.add_parser("list", help="approvals, pending ones first (default: pending only)")
    listing.add_argument("--all", action="store_true", help="every approval, decided ones too")
    listing.add_argument("--state", default=None, metavar="STATE",
                         help="only this state (pending, approved, rejected, withdrawn, failed, ...; all = --all)")
    listing.add_argument("--format", choices=["table", "json"], default="table")
    listing.set_defaults(handler=handle_list)
    show = actions.add_parser("show", help="one approval, with exactly what approving it runs")
    show.add_argument("id", type=int)
    show.add_argument("--format", choices=["text", "json"], default="text")
    show.set_defaults(handler=handle_show)
    approve = actions.add_parser("approve", help="approve and run it")
    approve.add_argument("id", type=int)
    approve.add_argument("--by", required=True, metavar="USERNAME", help="the approver (not the requester)")
    approve.add_argument("--hash", default=None, metavar="SHA256",
                         help="refuse unless the content still has this hash (as `approval show` printed it)")
    approve.add_argument("--reason", default="", help="a note kept with the decision")
    approve.add_argument("--format", choices=["text", "json"], default="text")
    add_quiet(approve)
    approve.set_defaults(handler=handle_approve)
    reject = actions.add_parser("reject", help="reject it (nothing runs)")
    reject.add_argument("id", type=int)
    reject.add_argument("--by", required=True, metavar="USERNAME")
    reject.add_argument("--reason", required=True, help="why (shown to the requester)")
    add_format(reject)
    reject.set_defaults(handler=handle_reject)
    withdraw = actions.add_parser("withdraw", help="the requester takes their request back")
    withdraw.add_argument("id", type=int)
    withdraw.add_argument("--by", required=True, metavar="USERNAME")
    add_format(withdraw)
    withdraw.set_defaults(handler=handle_withdraw)


def _approval(approval_id: int):
    from apps.approvals.models import Approval

    found = Approval.objects.select_related("requested_by", "decided_by").filter(pk=approval_id).first()
    if found is None:
        raise CommandError(f"no approval {approval_id}")
    return found


def handle_list(cmd, options):
    from apps.approvals.models import Approval
    from apps.approvals.selectors import approval_as_dict, approvals_pending

    approvals = Approval.objects.select_related("requested_by", "decided_by") if options["all"] \
        else approvals_pending()
    if options["state"] and options["state"] != "all":  # as GET /api/v1/approvals/?state= chooses them
        approvals = Approval.objects.select_related("requested_by", "decided_by").filter(state=options["state"])
    elif options["state"] == "all":
        approvals = Approval.objects.select_related("requested_by", "decided_by")
    items = [approval_as_dict(a) for a in approvals]
    if options["format"] == "json":
        cmd.stdout.write(json.dumps(items, default=str))
        return
    cmd.stdout.write(table(["id", "state", "action", "on", "requested_by", "requested_at", "reason"],
                           [[a["id"], a["state"], a["action"], a["target"], a["requested_by"],
                             a["requested_at"][:19], a["reason"][:60]] for a in items]))


def handle_show(cmd, options):
    from apps.approvals.selectors import approval_as_dict

    item = approval_as_dict(_approval(options["id"]))
    if options["format"] == "json":
        cmd.stdout.write(json.dumps(item, default=str))
        return
    for key in ("id", "state", "action", "target", "requested_by", "requested_at", "reason", "decided_by",
                "decision_reason", "error"):
        if item[key] not in (None, ""):
            cmd.stdout.write(f"{key}: {item[key]}")
    cmd.stdout.write("approving runs exactly this (content):")
    cmd.stdout.write(json.dumps(item["content"], indent=2, default=str))
    cmd.stdout.write(f"content hash (SHA-256 of its RFC 8785 JSON): {item['content_hash']}")
    cmd.stdout.write("what the requester's preview found:")
    cmd.stdout.write(json.dumps(item["summary"], indent=2, default=str))


def handle_approve(cmd, options):
    from django.core.exceptions import PermissionDenied

    from apps.approvals.models import ApprovalState
    from apps.approvals.selectors import approval_as_dict
    from apps.approvals.services import ApprovalRefused, approval_approve

    try:
        approval = approval_approve(approval=_approval(options["id"]), actor=actor(options["by"]),
                                    content_hash_seen=options["hash"], reason=options["reason"], submit=False)
    except (ApprovalRefused, PermissionDenied) as exc:
        raise CommandError(str(exc)) from None
    if approval.state == ApprovalState.FAILED:
        raise CommandError(f"approval {approval.pk} was approved but cannot run: {approval.error}")
    report = None
    if "run" in approval.result:  # warehouse work: run it where the warehouse lives, and wait
        from apps.core.cli.retention import execute_report

        report = execute_report(cmd, approval.result["run"], options)
    if options["format"] == "json":
        cmd.stdout.write(json.dumps({**approval_as_dict(approval), "run_report": report}, default=str))
    else:
        cmd.stdout.write(f"approval {approval.pk} approved by {options['by']}: {json.dumps(approval.result)}")
        if report is not None:
            cmd.stdout.write(json.dumps(report["result"] or report["plan"], indent=2, default=str))
    if report is not None and report["state"] == "failed":
        raise CommandError(f"run {report['run']} failed: {report['error']}")


def handle_reject(cmd, options):
    from django.core.exceptions import PermissionDenied

    from apps.approvals.services import ApprovalRefused, approval_reject

    try:
        approval = approval_reject(approval=_approval(options["id"]), actor=actor(options["by"]),
                                   reason=options["reason"])
    except (ApprovalRefused, PermissionDenied) as exc:
        raise CommandError(str(exc)) from None
    if options["format"] == "json":
        from apps.approvals.selectors import approval_as_dict

        print_json(cmd, approval_as_dict(approval))
        return
    cmd.stdout.write(f"approval {approval.pk} rejected by {options['by']}: nothing was run")


def handle_withdraw(cmd, options):
    from apps.approvals.services import ApprovalRefused, approval_withdraw

    try:
        approval = approval_withdraw(approval=_approval(options["id"]), actor=actor(options["by"]))
    except ApprovalRefused as exc:
        raise CommandError(str(exc)) from None
    if options["format"] == "json":
        from apps.approvals.selectors import approval_as_dict

        print_json(cmd, approval_as_dict(approval))
        return
    cmd.stdout.write(f"approval {approval.pk} withdrawn")
