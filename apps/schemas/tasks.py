"""Schema registry tasks: applying a version evolves the warehouse, so it runs on the worker that owns it."""

from celery import shared_task

from apps.accounts.actors import Actor
from apps.schemas import services


@shared_task(acks_late=False, expires=600)
def schema_apply(spec: dict, via: str = "", actor: dict | None = None) -> dict:
    # A refusal is an answer, not a failure: return the reasons rather than raise them through Celery.
    # The service checks the actor's permission (a PermissionDenied is raised: nothing was applied).
    try:
        return services.schema_apply(spec=spec, actor=Actor.from_task(actor), via=via)
    except services.SchemaRefused as exc:
        return {"applied": False, "version": exc.version, "reasons": exc.reasons}
