"""Stream commands: `archive demo`, the demo feed."""

from __future__ import annotations

from apps.core.cli import add_format, print_json


def register(sub) -> None:
    demo = sub.add_parser("demo", help="feed realistic demo jobs into the stream until interrupted")
    demo.add_argument("--rate", type=float, default=None, help="jobs per second (ARCHIVE_DEMO_JOBS_PER_SECOND)")
    demo.add_argument("--count", type=int, default=None, help="stop after this many jobs")
    add_format(demo)
    demo.set_defaults(handler=handle_demo)


def handle_demo(cmd, options):
    from django.conf import settings

    from apps.stream.demo import feed

    rate = options["rate"] if options["rate"] is not None else settings.ARCHIVE_DEMO_JOBS_PER_SECOND
    as_json = options["format"] == "json"
    start = f"feeding demo jobs at {rate}/s into {settings.ARCHIVE_STREAM} (Ctrl-C to stop)"
    (cmd.stderr if as_json else cmd.stdout).write(start)
    sent = feed(rate=rate, count=options["count"])
    if as_json:
        print_json(cmd, {"sent": sent, "stream": settings.ARCHIVE_STREAM, "rate": rate})
    else:
        cmd.stdout.write(f"sent {sent} demo jobs")
