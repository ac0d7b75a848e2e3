"""Access checks for pages: `role_required` and `permission_required`, answering 403 with the reason.

    from apps.accounts.decorators import permission_required, role_required

    @role_required()                                   # any of the five roles (or a superuser)
    def status(request): ...

    @role_required(roles.SRE, roles.ADMINISTRATOR)    # one of these roles
    def lag(request): ...

    @permission_required("exports.requeue_deadletter")  # what the page's service checks too
    def requeue(request): ...

For a class-based view: `method_decorator(permission_required("app.codename"), name="dispatch")`.

An anonymous visitor is sent to the login page; a logged-in user without the role or permission
gets a 403 page (templates/403.html) that names what is missing. Prefer `permission_required`
with the permission the service checks (`require_permission`): the page then refuses exactly what
the service would refuse. A superuser passes both. The services check again whatever the page
does: a page check is for a clear answer, not the only guard.
"""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied

from apps.accounts.roles import ROLES, in_any_role


def role_required(*roles: str):
    """Let through a superuser or a user in one of `roles` (none given: any of the five roles)."""
    wanted = tuple(roles) or ROLES
    unknown = sorted(set(wanted) - set(ROLES))
    if unknown:
        raise ValueError(f"unknown roles {unknown}; the roles are {', '.join(ROLES)}")
    needed = "one of the roles " + ", ".join(wanted) if len(wanted) > 1 else f"the role {wanted[0]}"

    def decorator(view):
        @wraps(view)
        def checked(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not in_any_role(request.user, wanted):
                raise PermissionDenied(f"This page needs {needed}; {request.user.get_username()} has none of "
                                       "them. An administrator can add you to a role (admin, Users, Groups).")
            return view(request, *args, **kwargs)

        return checked

    return decorator


def permission_required(*permissions: str):
    """Let through a user who holds every one of `permissions` ("app_label.codename")."""
    if not permissions or any(p.count(".") != 1 for p in permissions):
        raise ValueError("give permissions as 'app_label.codename'")

    def decorator(view):
        @wraps(view)
        def checked(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            missing = [p for p in permissions if not request.user.has_perm(p)]
            if missing:
                raise PermissionDenied(f"This page needs the permission {', '.join(missing)}, which "
                                       f"{request.user.get_username()} does not hold through any role. An "
                                       "administrator can add you to a role that has it (admin, Users, Groups).")
            return view(request, *args, **kwargs)

        return checked

    return decorator
