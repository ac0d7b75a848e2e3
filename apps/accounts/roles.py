"""The portal's five roles: Django groups whose permissions the roles migration sets (0001_roles.py).

Live code names the roles here; the migration writes its own copy of the names and the
permission map, so its meaning never changes with this module (a test checks they agree).
"""

from __future__ import annotations

VIEWER = "Viewer"
ANALYST = "Analyst"
SRE = "SRE"
COMPLIANCE_OFFICER = "Compliance Officer"
ADMINISTRATOR = "Administrator"
ROLES = (VIEWER, ANALYST, SRE, COMPLIANCE_OFFICER, ADMINISTRATOR)


def roles_of(user) -> list[str]:
    """The roles `user` is in, in the order of ROLES (a superuser is in none unless added)."""
    if not getattr(user, "is_authenticated", False):
        return []
    names = set(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
    return [role for role in ROLES if role in names]


def in_any_role(user, roles: tuple[str, ...] = ROLES) -> bool:
    """An active superuser, or an active user in one of `roles`."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return user.is_superuser or user.groups.filter(name__in=roles).exists()
