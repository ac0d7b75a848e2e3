"""App config for apps.accounts: who acts (people, the command line, scheduled work)."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "apps.accounts"
