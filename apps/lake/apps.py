"""App config for apps.lake."""

from django.apps import AppConfig


class LakeConfig(AppConfig):
    name = "apps.lake"
