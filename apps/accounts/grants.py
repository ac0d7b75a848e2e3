"""For data migrations that give roles the permissions of models added later (one way to do it)."""

from __future__ import annotations


def grant(apps, permissions: list[str], roles) -> None:
    """Create the permissions now (post_migrate runs only after every migration), then add them to the groups."""
    from django.contrib.auth.management import create_permissions

    for config in apps.get_app_configs():
        config.models_module = True
        create_permissions(config, apps=apps, verbosity=0)
        config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    wanted = [Permission.objects.get(content_type__app_label=d.split(".")[0], codename=d.split(".")[1])
              for d in permissions]
    for group in Group.objects.filter(name__in=roles):
        group.permissions.add(*wanted)


def revoke(apps, permissions: list[str], roles) -> None:
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    found = [p for d in permissions for p in Permission.objects.filter(
        content_type__app_label=d.split(".")[0], codename=d.split(".")[1])]
    for group in Group.objects.filter(name__in=roles):
        group.permissions.remove(*found)


def operation(pairs):
    """The RunPython of a roles migration whose GRANTS are (permissions, roles) pairs: grant them, and
    revoke them when migrating back."""
    from django.db import migrations

    def forwards(apps, schema_editor):
        for permissions, roles in pairs:
            grant(apps, permissions, roles)

    def backwards(apps, schema_editor):
        for permissions, roles in pairs:
            revoke(apps, permissions, roles)

    return migrations.RunPython(forwards, backwards)
