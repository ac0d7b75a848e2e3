"""Export tasks: beat runs `export_stream` often; each run exports for a bounded time."""

from celery import shared_task

from apps.exports.exporter import Exporter


@shared_task(acks_late=True, expires=30)
def export_stream(max_seconds: float = 25.0) -> dict:
    """Export what is in the stream now (recovering orphaned batches first), for at most max_seconds."""
    return Exporter().run(max_seconds=max_seconds).as_dict()
