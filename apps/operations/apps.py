"""App config for apps.operations: what operators, monitors and load balancers read (health, metrics, alerts)."""

from django.apps import AppConfig


class OperationsConfig(AppConfig):
    name = "apps.operations"
