"""Subject key rules: compliance officers and administrators see and configure them (the rules say
where personal data sits in the records, so nobody else needs them)."""

from django.db import migrations

from apps.accounts import grants

PERMISSIONS = ["compliance.view_subjectkeyrule", "compliance.add_subjectkeyrule",
               "compliance.change_subjectkeyrule", "compliance.delete_subjectkeyrule"]
ROLES = ("Compliance Officer", "Administrator")


def grant(apps, schema_editor):
    grants.grant(apps, PERMISSIONS, ROLES)


def revoke(apps, schema_editor):
    grants.revoke(apps, PERMISSIONS, ROLES)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_roles"), ("compliance", "0002_subject_key_rules")]
    operations = [migrations.RunPython(grant, revoke)]
