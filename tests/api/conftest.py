"""API fixtures: the explorer's exported demo archive and its records."""

from tests.explorer.conftest import exported, records  # noqa: F401 - fixtures, used by name


def new_token(username: str) -> str:
    """A new token for an existing user, as `archive token create` prints it (alone on its last line)."""
    import io

    from django.core.management import call_command

    out = io.StringIO()
    call_command("archive", "token", "create", username, stdout=out, stderr=io.StringIO())
    return out.getvalue().strip().splitlines()[-1]


def token_client(role: str, username: str):
    """An API client authenticated with a new token of a new user in `role`."""
    from rest_framework.test import APIClient

    from tests.roles import user_in

    user_in(role, username)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {new_token(username)}")
    return client
