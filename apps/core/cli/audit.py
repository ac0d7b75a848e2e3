"""`archive audit verify|anchor|list`: the audit chain from the command line."""

from __future__ import annotations

import csv
import json

from django.core.management.base import CommandError

from apps.core.cli import actor, moment, table


def register(sub) -> None:
    audit = sub.add_parser("audit", help="verify the audit chain, anchor its head in the locked bucket, list events",
                           description="verify: walk the chain and check every digest, exit non-zero naming the "
                                       "first bad event; anchor: write a digest of the chain head to the Object "
                                       "Lock bucket now; list: events, oldest first (docs/compliance.md).")
    actions = audit.add_subparsers(dest="audit_action", required=True, metavar="action")
    verify = actions.add_parser("verify", help="check every event's hash and link, and every digest")
    verify.add_argument("--format", choices=["text", "json"], default="text", help="json prints one object")
    verify.add_argument("--by", metavar="USERNAME", help="portal user to act as (needs audit.verify_chain)")
    verify.set_defaults(handler=handle_verify)
    anchor = actions.add_parser("anchor", help="write a digest of the chain head to the locked bucket now")
    anchor.add_argument("--format", choices=["text", "json"], default="text", help="json prints one object")
    anchor.add_argument("--by", metavar="USERNAME", help="portal user to act as (needs audit.verify_chain)")
    anchor.set_defaults(handler=handle_anchor)
    listing = actions.add_parser("list", help="audit events, oldest first")
    listing.add_argument("--actor", default="", metavar="U", help="only this actor (e.g. alice, os:deploy, beat)")
    listing.add_argument("--action", default="", metavar="A", help="only actions starting with this, e.g. audit.")
    listing.add_argument("--since", type=moment, default=None, metavar="T", help="only from this ISO time on")
    listing.add_argument("--format", choices=["table", "json", "csv"], default="table",
                         help="json prints one array; csv has every hashed field and the hash")
    listing.add_argument("--by", metavar="USERNAME", help="portal user to act as (needs audit.view_auditevent)")
    listing.set_defaults(handler=handle_list)


def _refused(exc) -> CommandError:
    return CommandError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)


def handle_verify(cmd, options):
    from botocore.exceptions import BotoCoreError, ClientError
    from django.core.exceptions import PermissionDenied

    from apps.audit.services import audit_verify

    try:
        result = audit_verify(actor=actor(options["by"]))
    except PermissionDenied as exc:
        raise _refused(exc) from None
    except (BotoCoreError, ClientError) as exc:
        raise CommandError(f"cannot read the audit digests: {exc}") from None
    if options["format"] == "json":
        cmd.stdout.write(json.dumps(result.as_dict()))
    else:
        for warning in result.warnings:
            cmd.stderr.write(f"warning: {warning}")
    if not result.ok:
        raise CommandError(result.line())
    if options["format"] != "json":
        cmd.stdout.write(result.line())


def handle_anchor(cmd, options):
    from botocore.exceptions import BotoCoreError, ClientError
    from django.core.exceptions import PermissionDenied

    from apps.audit.anchors import DigestError
    from apps.audit.services import audit_anchor

    try:
        digest = audit_anchor(actor=actor(options["by"]))
    except (PermissionDenied, DigestError) as exc:
        raise _refused(exc) from None
    except (BotoCoreError, ClientError) as exc:
        raise CommandError(f"cannot write the digest: {exc}") from None
    if options["format"] == "json":
        cmd.stdout.write(json.dumps(digest.as_dict()))
    else:
        cmd.stdout.write(f"anchored event {digest.seq} ({digest.hash[:16]}...) in {digest.key}")


def handle_list(cmd, options):
    from django.core.exceptions import PermissionDenied

    from apps.audit.selectors import COLUMNS, EventFilter, audit_events, event_row
    from apps.audit.services import audit_export

    who = actor(options["by"])
    filters = EventFilter(actor=options["actor"], action=options["action"], since=options["since"])
    try:
        if options["format"] == "csv":  # a file of the trail leaves the portal: recorded like the page's export
            _, events = audit_export(actor=who, filters=filters)
        else:
            events = audit_events(actor=who, filters=filters).order_by("seq").iterator(chunk_size=2000)
    except PermissionDenied as exc:
        raise _refused(exc) from None
    if options["format"] == "csv":
        writer = csv.DictWriter(cmd.stdout, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for event in events:
            writer.writerow({**event_row(event), "details": event.details_json})
    elif options["format"] == "json":
        cmd.stdout.write("[", ending="")
        for index, event in enumerate(events):
            cmd.stdout.write(("," if index else "") + json.dumps(event_row(event)), ending="")
        cmd.stdout.write("]")
    else:
        rows = [[e.seq, e.at.strftime("%Y-%m-%d %H:%M:%S"), e.actor, e.via, e.action, e.target,
                 e.details_json[:80]] for e in events]
        cmd.stdout.write(table(["seq", "at (UTC)", "actor", "via", "action", "target", "details"], rows)
                         if rows else "no audit events")
