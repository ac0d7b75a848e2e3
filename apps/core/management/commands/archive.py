"""`manage.py archive <subcommand>`: the operator's command line; `archive --help` lists the subcommands.

The subcommands live in `apps/core/cli/`, one module per concern; this command only collects
their parsers and dispatches to the handler each subcommand sets.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from apps.accounts.actors import Actor, UnknownActor, audit_context
from apps.core.cli import (alerts, approvals, audit, erasure, explorer, exports, health, holds, jobs, lake,
                           rehydration, restore, retention, schemas, stream, subject_access, subjects, tokens,
                           tui, warehouse)

# In the order `archive --help` lists them.
MODULES = (exports, explorer, jobs, restore, warehouse, stream, retention, approvals, holds, erasure, subject_access,
           subjects, schemas, rehydration, lake, audit, alerts, tokens, health, tui)


class Command(BaseCommand):
    help = "Archive operations. Run `manage.py archive <subcommand> --help` for each."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True, metavar="subcommand")
        for module in MODULES:
            module.register(sub)

    def handle(self, *args, **options):
        try:
            with audit_context(_acting(options.get("by"))):
                options["handler"](self, options)
        except KeyboardInterrupt:
            raise CommandError("interrupted") from None


def _acting(username: str | None) -> Actor:
    """Who django-auditlog's rows name during the command; a bad --by is refused by the subcommand itself."""
    try:
        return Actor.cli(username)
    except UnknownActor:
        return Actor.cli()
