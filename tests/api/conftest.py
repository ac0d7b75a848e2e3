"""API fixtures: the explorer's exported demo archive and its records."""

from tests.explorer.conftest import exported, records  # noqa: F401 - fixtures, used by name


def token_client(role: str, username: str):
    """An API client authenticated with a new token of a new user in `role` (made as `archive token create` makes it)."""
    import io

    from django.core.management import call_command
    from rest_framework.test import APIClient

    from tests.roles import user_in

    user_in(role, username)
    out = io.StringIO()
    call_command("archive", "token", "create", username, stdout=out, stderr=io.StringIO())
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {out.getvalue().strip().splitlines()[-1]}")
    return client
