"""App config for the export pipeline (stream to ClickHouse and Iceberg)."""

from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "apps.exports"
    verbose_name = "Exports"
