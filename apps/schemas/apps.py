"""App config for the schema registry."""

from django.apps import AppConfig


class SchemasConfig(AppConfig):
    name = "apps.schemas"
    verbose_name = "Record schema"
