"""App config for apps.operations: what operators and load balancers probe (health)."""

from django.apps import AppConfig


class OperationsConfig(AppConfig):
    name = "apps.operations"
