"""App config for apps.warehouse."""

from django.apps import AppConfig


class WarehouseConfig(AppConfig):
    name = "apps.warehouse"
