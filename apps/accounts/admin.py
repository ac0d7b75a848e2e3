"""The admin's users page, kept within the roles: only a superuser makes superusers or grants
permissions one by one; an Administrator gives roles (Groups) and staff status."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

User = get_user_model()


class RoleUserAdmin(UserAdmin):
    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        if request.user.is_superuser:
            return fields
        # Either would give a user more than any role: superuser status, or permissions outside the roles.
        return (*fields, "is_superuser", "user_permissions")

    def has_change_permission(self, request, obj=None):
        # A superuser's account (and password) is changed by superusers only, or it could be taken over.
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)


admin.site.unregister(User)
admin.site.register(User, RoleUserAdmin)
