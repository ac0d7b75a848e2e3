"""Schema registry tasks: applying a version evolves the warehouse, so it runs on the worker that owns it."""

from celery import shared_task
from django.contrib.auth import get_user_model

from apps.schemas import services


@shared_task(acks_late=False, expires=600)
def schema_apply(spec: dict, via: str = "", actor_id: int | None = None) -> dict:
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    # A refusal is an answer, not a failure: return the reasons rather than raise them through Celery.
    try:
        return services.schema_apply(spec=spec, actor=actor, via=via)
    except services.SchemaRefused as exc:
        return {"applied": False, "version": exc.version, "reasons": exc.reasons}
