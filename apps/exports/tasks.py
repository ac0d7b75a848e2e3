"""Export tasks: beat runs `export_stream` often; each run exports for a bounded time."""

from celery import shared_task

from apps.accounts.actors import Actor
from apps.exports import services


@shared_task(acks_late=True, expires=30)
def export_stream(max_seconds: float = 25.0, actor: dict | None = None, record_empty: bool = False) -> dict:
    """Export what is in the stream now (recovering orphaned batches first), for at most max_seconds.

    Beat sends no actor; `archive export --drain` sends its own when a worker runs it.
    """
    who = Actor.from_task(actor) if actor else Actor.system("beat")
    return services.export_run(actor=who, max_seconds=max_seconds, record_empty=record_empty)
