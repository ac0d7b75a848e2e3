"""`archive health`: the health report of `/health/` and GET /api/v1/health/ (no warehouse needed)."""

from __future__ import annotations

from django.core.management.base import CommandError

from apps.core.cli import add_format, print_json


def register(sub) -> None:
    health = sub.add_parser(
        "health", help="is the portal healthy: PostgreSQL, Redis, S3 and the export's lag",
        description="The report `/health/` serves: each component ok or down, the age of the oldest entry not "
                    "yet exported, and the overall status (ok, degraded while the export lags, down). Exits "
                    "non-zero unless the status is ok, so a script can test it.")
    add_format(health)
    health.set_defaults(handler=handle_health)


def handle_health(cmd, options):
    from apps.operations.health import health_report

    report = health_report()
    if options["format"] == "json":
        print_json(cmd, report)
    else:
        cmd.stdout.write(f"status: {report['status']}")
        for name, value in report["components"].items():
            cmd.stdout.write(f"  {name}: {value}")
    if report["status"] != "ok":
        raise CommandError(f"the portal is {report['status']}")
