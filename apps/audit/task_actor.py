"""django-auditlog's actor inside Celery tasks: taken from the task's `actor` (Actor.as_task) or `actor_id`."""

from __future__ import annotations

from contextlib import ExitStack

from celery.signals import task_postrun, task_prerun

_open: dict[str, tuple[ExitStack, object]] = {}


def _actor_of(task, kwargs: dict):
    from django.contrib.auth import get_user_model

    from apps.accounts.actors import Actor

    if isinstance(kwargs.get("actor"), dict):
        return Actor.from_task(kwargs["actor"])
    user = get_user_model().objects.filter(pk=kwargs["actor_id"]).first() if kwargs.get("actor_id") else None
    return Actor.of_user(user, via="task") if user else Actor(user_id=None, label=f"task:{task.name}", via="task")


@task_prerun.connect(weak=False, dispatch_uid="audit.task_actor.enter")
def enter(task_id=None, task=None, kwargs=None, **_):
    from auditlog.context import auditlog_value

    from apps.accounts.actors import audit_context

    stack = ExitStack()
    # Kept to restore afterwards: auditlog's context does not reset its variable, and an eager task
    # inside a request would otherwise leave the request's own rows without their actor.
    previous = auditlog_value.get(None)
    stack.enter_context(audit_context(_actor_of(task, kwargs or {})))
    _open[task_id] = (stack, previous)


@task_postrun.connect(weak=False, dispatch_uid="audit.task_actor.leave")
def leave(task_id=None, **_):
    from auditlog.context import auditlog_value

    stack, previous = _open.pop(task_id, (None, None))
    if stack is None:
        return
    stack.close()
    if previous is not None:
        auditlog_value.set(previous)
