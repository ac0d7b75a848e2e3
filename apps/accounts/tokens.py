"""API tokens (DRF's `Token`, one per user): created and revoked here, from the admin or the CLI.

`archive token create USER` makes a new token (replacing the user's old one) and prints it; it is
shown once and never written anywhere else: the audit chain records that a token was created or
revoked for whom and by whom, never the key.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction

from apps.accounts.actors import Actor, UnknownActor, require_permission
from apps.audit.services import audit_record

PERMISSION = "auth.change_user"


def _user(username: str):
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise UnknownActor(f"no portal user {username!r}")
    if not user.is_active:
        raise UnknownActor(f"portal user {username!r} is inactive; it cannot have a token")
    return user


def token_create(*, actor: Actor, username: str) -> str:
    """A new token for `username` (the old one, if any, stops working); returns its key."""
    from rest_framework.authtoken.models import Token

    require_permission(actor, PERMISSION)
    user = _user(username)
    with transaction.atomic():
        replaced = Token.objects.filter(user=user).delete()[0] > 0
        token = Token.objects.create(user=user)
        audit_record(actor=actor, action="token.created", target=f"user:{user.pk}",
                     details={"user": user.get_username(), "replaced": replaced})
    return token.key


def token_revoke(*, actor: Actor, username: str) -> bool:
    """Revoke `username`'s token; False when there was none."""
    from rest_framework.authtoken.models import Token

    require_permission(actor, PERMISSION)
    user = _user(username)
    with transaction.atomic():
        revoked = Token.objects.filter(user=user).delete()[0] > 0
        audit_record(actor=actor, action="token.revoked", target=f"user:{user.pk}",
                     details={"user": user.get_username(), "had_token": revoked})
    return revoked
