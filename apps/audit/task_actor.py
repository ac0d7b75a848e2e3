"""django-auditlog's actor inside Celery tasks: the task's `actor` (Actor.as_task) or `actor_id`, else the caller's."""

from __future__ import annotations

from contextlib import ExitStack

from celery.signals import task_postrun, task_prerun

_open: dict[str, tuple[ExitStack, object]] = {}


def _sent_with(kwargs: dict):
    from django.contrib.auth import get_user_model

    from apps.accounts.actors import Actor

    if isinstance(kwargs.get("actor"), dict):
        return Actor.from_task(kwargs["actor"])
    user = get_user_model().objects.filter(pk=kwargs["actor_id"]).first() if kwargs.get("actor_id") else None
    return Actor.of_user(user, via="task") if user else None


def _live(context) -> bool:
    """Is auditlog's context `context` still in force? (Its variable outlives the `with` that set it.)"""
    from django.db.models.signals import pre_save

    return bool(context) and any(key[0] == context.get("signal_duid") for key, *_ in pre_save.receivers)


@task_prerun.connect(weak=False, dispatch_uid="audit.task_actor.enter")
def enter(task_id=None, task=None, kwargs=None, **_):
    from auditlog.context import auditlog_value

    from apps.accounts.actors import Actor, audit_context

    previous = auditlog_value.get(None)
    actor = _sent_with(kwargs or {})
    if actor is None:
        # A task run in the caller's process (the CLI without a worker, tests) acts for that caller.
        if _live(previous):
            return
        actor = Actor(user_id=None, label=f"task:{task.name}", via="task")
    stack = ExitStack()
    stack.enter_context(audit_context(actor))
    _open[task_id] = (stack, previous)


@task_postrun.connect(weak=False, dispatch_uid="audit.task_actor.leave")
def leave(task_id=None, **_):
    from auditlog.context import auditlog_value

    stack, previous = _open.pop(task_id, (None, None))
    if stack is None:
        return
    stack.close()
    # auditlog does not restore its variable: put the caller's context back, or its later rows lose their actor.
    if previous is not None:
        auditlog_value.set(previous)
