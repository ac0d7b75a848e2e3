"""App config for apps.accounts: who acts (people, the command line, scheduled work), roles, login audit."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "apps.accounts"

    def ready(self) -> None:
        from apps.accounts import login_audit

        login_audit.connect()
