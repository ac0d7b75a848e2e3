from django.apps import AppConfig


class RestoreConfig(AppConfig):
    name = "apps.restore"
    label = "restore"
    verbose_name = "Restore into the live queue"
    default_auto_field = "django.db.models.BigAutoField"
