"""`archive tui`: the terminal dashboard (apps/tui, docs/tui.md)."""

from __future__ import annotations

from apps.core.cli import actor


def register(sub) -> None:
    tui = sub.add_parser(
        "tui", help="the terminal dashboard: status, query runs, schema, compliance and alerts",
        description="A full-screen dashboard in the terminal (Textual): Status (export health per sink, lag, "
                    "pending, oldest unexported, throughput, records and bytes per tier, dead letters, the last "
                    "retention run; red while an alert fires), Query (templates and SQL as audited query runs on "
                    "the worker that owns the warehouse), Schema, Compliance (open and overdue erasure requests, "
                    "legal holds) and Alerts. Keys: 1-5 or Ctrl+1-5 choose a tab, F5 runs the query, Ctrl+R "
                    "refreshes, Ctrl+Q quits. What it shows follows the role of --by (docs/tui.md).")
    tui.add_argument("--by", metavar="USERNAME", default=None,
                     help="act as this portal user (their role decides what each tab shows); default: the OS user")
    tui.add_argument("--refresh", type=float, default=5.0, metavar="SECONDS",
                     help="how often the figures are read again (default 5)")
    tui.set_defaults(handler=handle_tui)


def handle_tui(cmd, options):
    from django.core.management.base import CommandError

    from apps.tui.app import ArchiveDashboard

    if options["refresh"] < 1:
        raise CommandError("--refresh must be at least 1 second")
    ArchiveDashboard(actor=actor(options["by"]), refresh_s=options["refresh"]).run()
