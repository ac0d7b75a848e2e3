"""Legal hold commands: `archive hold add|release|list` (apps/compliance)."""

from __future__ import annotations

import json

from django.core.management.base import CommandError

from apps.core.cli import actor, add_format, day, print_item, print_json, table


def register(sub) -> None:
    hold = sub.add_parser(
        "hold", help="legal holds: records no purge, retention run or trim removes until the hold is released",
        description="A hold keeps every record it matches (all the criteria given must match) in every place it "
                    "lives. Placing one needs one compliance officer; releasing one opens an approval.")
    actions = hold.add_subparsers(dest="hold_action", required=True, metavar="action")
    add = actions.add_parser("add", help="place a hold")
    add.add_argument("--queue", default="", help="records of this queue")
    add.add_argument("--tenant", default="", help="records of this tenant id")
    add.add_argument("--job-id", dest="job_ids", action="append", default=[], metavar="ID",
                     help="records of this job (repeat for more)")
    add.add_argument("--subject", dest="subjects", action="append", default=[], metavar="KEY=VALUE",
                     help="records of this person, e.g. email=ann@example.org (repeat for more; only the keyed "
                          "hash is kept)")
    add.add_argument("--from", dest="date_from", type=day, default=None, metavar="DATE",
                     help="records enqueued on or after this day (UTC)")
    add.add_argument("--to", dest="date_to", type=day, default=None, metavar="DATE",
                     help="records enqueued on or before this day (UTC)")
    add.add_argument("--reason", required=True, help="why the records must be kept")
    add.add_argument("--owner", default=None, metavar="USERNAME", help="who answers for it (default: --by)")
    add.add_argument("--review-on", type=day, default=None, metavar="DATE",
                     help="when it is due for review (default: in 90 days)")
    add.add_argument("--by", required=True, metavar="USERNAME", help="the compliance officer placing it")
    add.add_argument("--format", choices=["text", "json"], default="text")
    add.set_defaults(handler=handle_add)
    release = actions.add_parser("release", help="ask for a hold's release (a second person approves it)")
    release.add_argument("id", type=int)
    release.add_argument("--by", required=True, metavar="USERNAME")
    release.add_argument("--reason", required=True, help="why the records need not be kept any more")
    add_format(release)
    release.set_defaults(handler=handle_release)
    show = actions.add_parser("show", help="one hold: what it keeps, who owns it, when it is due for review")
    show.add_argument("id", type=int, help="the hold's id (from `hold list`)")
    add_format(show)
    show.set_defaults(handler=handle_show)
    listing = actions.add_parser("list", help="holds (default: active ones)")
    listing.add_argument("--all", action="store_true", help="released ones too")
    listing.add_argument("--format", choices=["table", "json"], default="table")
    listing.set_defaults(handler=handle_list)


def handle_add(cmd, options):
    from django.core.exceptions import PermissionDenied

    from apps.compliance.selectors import hold_as_dict
    from apps.compliance.services import HoldRefused, hold_place

    try:
        hold = hold_place(actor=actor(options["by"]), reason=options["reason"], queue=options["queue"],
                          tenant=options["tenant"], job_ids=options["job_ids"], subjects=options["subjects"],
                          date_from=options["date_from"],
                          date_to=options["date_to"], owner=options["owner"], review_on=options["review_on"])
    except (HoldRefused, PermissionDenied) as exc:
        raise CommandError(str(exc)) from None
    if options["format"] == "json":
        cmd.stdout.write(json.dumps(hold_as_dict(hold)))
    else:
        cmd.stdout.write(f"hold {hold.pk} placed: {hold.criteria_label} (review on {hold.review_on})")


def handle_release(cmd, options):
    from django.core.exceptions import PermissionDenied

    from apps.approvals.services import ApprovalRefused
    from apps.compliance.models import LegalHold
    from apps.compliance.services import HoldRefused, hold_release_request

    hold = LegalHold.objects.filter(pk=options["id"]).first()
    if hold is None:
        raise CommandError(f"no hold {options['id']}")
    try:
        approval = hold_release_request(hold=hold, actor=actor(options["by"]), reason=options["reason"])
    except (HoldRefused, ApprovalRefused, PermissionDenied) as exc:
        raise CommandError(str(exc)) from None
    cmd.stderr.write(f"hold {hold.pk} stays active until a second person approves its release "
                     f"(archive approval approve {approval.pk} --by USERNAME)")
    if options["format"] == "json":
        from apps.approvals.selectors import approval_as_dict

        print_json(cmd, approval_as_dict(approval))
        return
    cmd.stdout.write(f"approval {approval.pk}")


def handle_show(cmd, options):
    from apps.compliance.models import LegalHold
    from apps.compliance.selectors import hold_as_dict

    hold = LegalHold.objects.filter(pk=options["id"]).first()
    if hold is None:
        raise CommandError(f"no hold {options['id']}")
    item = hold_as_dict(hold)
    print_item(cmd, options, item)


def handle_list(cmd, options):
    from apps.compliance.models import HoldState
    from apps.compliance.selectors import hold_as_dict, holds_listed

    items = [hold_as_dict(h) for h in holds_listed(state=None if options["all"] else HoldState.ACTIVE)]
    if options["format"] == "json":
        cmd.stdout.write(json.dumps(items))
        return
    cmd.stdout.write(table(["id", "state", "holds", "owner", "review_on", "reason"],
                           [[h["id"], h["state"], h["label"], h["owner"], h["review_on"], h["reason"][:60]]
                            for h in items]))
