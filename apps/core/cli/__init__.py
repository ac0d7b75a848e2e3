"""The `archive` command's subcommands, one module per concern; this module holds what they share.

Each module has `register(sub)`, which adds its subparsers and sets a `handler(cmd, options)`
for each; `apps/core/management/commands/archive.py` lists the modules and dispatches.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

from django.core.management.base import CommandError


def table(columns: list[str], rows: list[list]) -> str:
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths))
    sep = "  ".join("-" * w for w in widths)
    body = ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in cells]
    return "\n".join([line, sep, *body])


def day(text: str):
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date: {text!r}; use YYYY-MM-DD") from None


def os_user() -> str:
    from apps.accounts.actors import os_user as name

    return name()


def moment(text: str):
    from datetime import datetime, timezone

    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO time: {text!r} (e.g. 2027-03-01T00:00:00Z)") from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def actor(username: str | None):
    """Who a command acts as: `--by USERNAME` (an existing, active portal user), else the OS user."""
    from apps.accounts.actors import Actor, UnknownActor

    try:
        return Actor.cli(username)
    except UnknownActor as exc:
        raise CommandError(str(exc)) from None


def read_json(path: str):
    """The JSON in file `path` ('-' = standard input); a clear CommandError when it cannot be read."""
    try:
        return json.loads(sys.stdin.read() if path == "-" else Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise CommandError(f"cannot read {path}: {exc}") from None


def add_format(parser, choices=("text", "json"), default: str | None = None, json_alias: bool = False) -> None:
    """`--format` (json: one JSON object or array on stdout); `json_alias` keeps an older `--json` working."""
    default = default or choices[0]
    parser.add_argument("--format", choices=list(choices), default=default,
                        help=f"how to print the result (default {default}); json prints one JSON value on stdout")
    if json_alias:
        parser.add_argument("--json", dest="format", action="store_const", const="json",
                            help="the same as --format json")


def add_quiet(parser) -> None:
    """`--quiet`: no progress bar (apps/core/cli/progress.py)."""
    from apps.core.cli.progress import QUIET_HELP

    parser.add_argument("--quiet", action="store_true", help=QUIET_HELP)


def print_json(cmd, data) -> None:
    cmd.stdout.write(json.dumps(data, default=str))


def print_item(cmd, options: dict, item: dict) -> None:
    """One object: JSON with `--format json`, else a `key: value` line for each field that has a value."""
    if options["format"] == "json":
        print_json(cmd, item)
        return
    for key, value in item.items():
        if value not in (None, "", [], {}):
            cmd.stdout.write(f"{key}: {json.dumps(value) if isinstance(value, (dict, list)) else value}")
