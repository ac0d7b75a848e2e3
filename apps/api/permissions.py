"""Role permissions for API views: the same Django permissions the pages check (the services check them
again). A view names them per HTTP method in `required`; a method it does not name is refused."""

from __future__ import annotations

from rest_framework.permissions import BasePermission


class RolePermission(BasePermission):
    message = "your role may not do this"

    def has_permission(self, request, view) -> bool:
        required = getattr(view, "required", {})
        method = "GET" if request.method in ("HEAD", "OPTIONS") else request.method
        needed = required.get(getattr(view, "action", None) or "", required.get(method))
        if needed is None:
            return False
        self.message = f"{request.user.get_username()} may not do this (needs the permission {needed})"
        return request.user.has_perm(needed)
