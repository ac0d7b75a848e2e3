"""Subject key commands: `archive subject-keys get|set --file F` (where identifiers of people are read)."""

from __future__ import annotations

import json

from django.core.management.base import CommandError

from apps.core.cli import actor, read_json


def register(sub) -> None:
    keys = sub.add_parser(
        "subject-keys", help="the subject keys: which payload fields and tags identify a person",
        description="Identifiers are read from the full payload at ingest (before sampling and redaction), "
                    "normalised, and stored only as keyed hashes (ARCHIVE_SUBJECT_KEY_SECRET). `get` prints "
                    "the rules as JSON; `set --file F` makes them exactly what F holds.")
    keys.add_argument("action", choices=["get", "set"])
    keys.add_argument("--file", metavar="F", help="set: a JSON array of rules ('-' = standard input)")
    keys.add_argument("--by", default=None, metavar="USERNAME",
                      help="set: the portal user to record (default: your OS user)")
    keys.add_argument("--format", choices=["text", "json"], default="text",
                      help="json: set prints its changes as one object (get prints JSON either way)")
    keys.set_defaults(handler=handle)


def handle(cmd, options):
    from django.core.exceptions import PermissionDenied

    from apps.compliance.subject_key_rules import rules_as_json, subject_keys_set
    from apps.compliance.subject_keys import SubjectKeyError

    if options["action"] == "get":
        cmd.stdout.write(json.dumps(rules_as_json(), indent=2))
        return
    if not options["file"]:
        raise CommandError("set needs --file F (a JSON array, as `archive subject-keys get` prints)")
    try:
        summary = subject_keys_set(items=read_json(options["file"]), actor=actor(options["by"]))
    except (SubjectKeyError, PermissionDenied) as exc:
        raise CommandError(f"{exc}; nothing was changed") from None
    if options["format"] == "json":
        cmd.stdout.write(json.dumps(summary, default=str))
        return
    for verb, rules in summary.items():
        for rule in rules:
            cmd.stdout.write(f"{verb}: {rule['name']} from {rule['source']} {rule['field']} ({rule['kind']})")
    if not any(summary.values()):
        cmd.stdout.write("unchanged")
