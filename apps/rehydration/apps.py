"""App config for rehydration (cold data back in ClickHouse until an expiry)."""

from django.apps import AppConfig


class RehydrationConfig(AppConfig):
    name = "apps.rehydration"
    verbose_name = "Rehydration"
