"""Django app config for retention."""

from django.apps import AppConfig


class RetentionConfig(AppConfig):
    name = "apps.retention"
    label = "retention"
    verbose_name = "Retention and tiering"
    default_auto_field = "django.db.models.BigAutoField"
