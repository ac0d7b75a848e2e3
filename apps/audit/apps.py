"""The audit chain app: events, digests, verification, the viewer."""

from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "apps.audit"
    label = "audit"
    verbose_name = "Audit chain"

    def ready(self) -> None:
        from apps.audit import task_actor  # noqa: F401  (connects the Celery signals)
