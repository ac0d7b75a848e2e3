"""`archive alerts`: the alert conditions now (what turns the status page red), and their Prometheus rule file."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from django.core.management.base import CommandError

from apps.core.cli import add_format, print_json, table

RULES_FILE = "docker/prometheus/alerts.yml"


def register(sub) -> None:
    cmd = sub.add_parser(
        "alerts", help="the alert conditions now (firing or not), or write their Prometheus rules",
        description="Evaluates every alert condition of apps/operations/alerts.py on PostgreSQL and Redis (the "
                    "same conditions Prometheus evaluates from /metrics) and exits 1 while one is firing. "
                    f"--write renders the rules into {RULES_FILE} (or PATH).")
    add_format(cmd)
    cmd.add_argument("--write", nargs="?", const=RULES_FILE, metavar="PATH",
                     help=f"write the Prometheus rule file instead (default {RULES_FILE})")
    cmd.set_defaults(handler=handle)


def handle(cmd, options) -> None:
    from apps.operations import alerts

    if options["write"]:
        path = Path(options["write"])
        try:
            path.write_text(alerts.rules_yaml())
        except OSError as exc:
            raise CommandError(f"cannot write {path}: {exc}") from None
        cmd.stdout.write(f"wrote {len(alerts.CONDITIONS)} alert rules to {path}")
        return
    states = alerts.evaluate()
    firing = [s for s in states if s.firing]
    if options["format"] == "json":
        print_json(cmd, {"firing": len(firing), "alerts": [asdict(s) for s in states]})
    else:
        cmd.stdout.write(table(["alert", "state", "now", "summary"],
                               [[s.name, "FIRING" if s.firing else "ok", s.value, s.summary] for s in states]))
    if firing:
        raise SystemExit(1)
