"""`archive token create USER` and `archive token revoke USER`: API tokens (README, "REST API")."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.core.management.base import CommandError

from apps.core.cli import actor, add_format, print_json


def register(sub) -> None:
    token = sub.add_parser("token", help="create or revoke a user's REST API token",
                           description="A user has at most one token (`Authorization: Token <token>`); create "
                                       "replaces the old one and prints the new one alone on its last line (it "
                                       "is shown only this once). Audited, without the token itself.")
    actions = token.add_subparsers(dest="action", required=True, metavar="create|revoke")
    for name, text in (("create", "make a new token for USER and print it"), ("revoke", "revoke USER's token")):
        one = actions.add_parser(name, help=text)
        one.add_argument("username", metavar="USER")
        one.add_argument("--by", metavar="ADMIN", help="the Administrator doing it (default: the operator)")
        add_format(one)
        one.set_defaults(handler=handle_token)


def handle_token(cmd, options):
    from apps.accounts.actors import UnknownActor
    from apps.accounts.tokens import token_create, token_revoke

    who = actor(options["by"])
    try:
        if options["action"] == "create":
            key = token_create(actor=who, username=options["username"])
            cmd.stderr.write(f"token for {options['username']} (the old one, if any, no longer works):")
            if options["format"] == "json":
                print_json(cmd, {"username": options["username"], "token": key})
            else:
                cmd.stdout.write(key)  # alone on its last line: scripts take it with `tail -1`
        else:
            revoked = token_revoke(actor=who, username=options["username"])
            if options["format"] == "json":
                print_json(cmd, {"username": options["username"], "revoked": bool(revoked)})
            elif revoked:
                cmd.stdout.write(f"revoked the token of {options['username']}")
            else:
                cmd.stdout.write(f"{options['username']} had no token")
    except (UnknownActor, PermissionDenied) as exc:
        raise CommandError(str(exc)) from None
