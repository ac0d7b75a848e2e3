"""Query runs and saved queries: Analysts, SREs and Administrators run queries and keep saved ones.

Which tables each may read is the guard's allow-list per role (apps/warehouse/allowlists.py);
Viewers and Compliance Officers run no SQL."""

from django.db import migrations

from apps.accounts import grants

PERMISSIONS = ["explorer.add_queryrun", "explorer.view_queryrun", "explorer.add_savedquery",
               "explorer.change_savedquery", "explorer.delete_savedquery", "explorer.view_savedquery"]
ROLES = ("Analyst", "SRE", "Administrator")


def grant(apps, schema_editor):
    grants.grant(apps, PERMISSIONS, ROLES)


def revoke(apps, schema_editor):
    grants.revoke(apps, PERMISSIONS, ROLES)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0004_subject_access_roles"), ("explorer", "0001_initial")]
    operations = [migrations.RunPython(grant, revoke)]
