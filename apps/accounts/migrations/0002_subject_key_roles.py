"""Subject key rules: compliance officers and administrators see and configure them (the rules say
where personal data sits in the records, so nobody else needs them)."""

from django.db import migrations

PERMISSIONS = ["compliance.view_subjectkeyrule", "compliance.add_subjectkeyrule",
               "compliance.change_subjectkeyrule", "compliance.delete_subjectkeyrule"]
ROLES = ("Compliance Officer", "Administrator")


def grant(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    for config in apps.get_app_configs():
        config.models_module = True
        create_permissions(config, apps=apps, verbosity=0)
        config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    wanted = [Permission.objects.get(content_type__app_label=d.split(".")[0], codename=d.split(".")[1])
              for d in PERMISSIONS]
    for group in Group.objects.filter(name__in=ROLES):
        group.permissions.add(*wanted)


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    found = Permission.objects.filter(content_type__app_label="compliance", codename__endswith="_subjectkeyrule")
    for group in Group.objects.filter(name__in=ROLES):
        group.permissions.remove(*found)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_roles"), ("compliance", "0002_subject_key_rules")]
    operations = [migrations.RunPython(grant, revoke)]
