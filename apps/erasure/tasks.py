"""Erasure and subject-access work on the warehouse worker: the preview that opens the approval, the
run, a subject-access bundle's build and the expiry of bundles."""

from __future__ import annotations

from celery import shared_task

from apps.accounts.actors import Actor


@shared_task(name="apps.erasure.tasks.erasure_preview")
def erasure_preview(*, request_id: int, actor: dict | None = None) -> dict:
    from apps.erasure.services import erasure_preview as preview

    return preview(request_id=request_id, actor=Actor.from_task(actor))


@shared_task(name="apps.erasure.tasks.erasure_execute")
def erasure_execute(*, request_id: int) -> dict:
    from apps.erasure.services import erasure_run

    return erasure_run(request_id=request_id)


@shared_task(name="apps.erasure.tasks.erasure_reap")
def erasure_reap() -> list[int]:
    from apps.erasure.services import erasure_reap as reap

    return reap()


@shared_task(name="apps.erasure.tasks.subject_access_build")
def subject_access_build(*, request_id: int) -> dict:
    from apps.erasure.access import access_build

    return access_build(request_id=request_id)


@shared_task(name="apps.erasure.tasks.subject_access_expire", expires=600)
def subject_access_expire() -> dict:
    from apps.erasure.access import access_expire_due

    return access_expire_due(actor=Actor.system("beat"))
