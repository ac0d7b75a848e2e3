"""App config for apps.stream."""

from django.apps import AppConfig


class StreamConfig(AppConfig):
    name = "apps.stream"
