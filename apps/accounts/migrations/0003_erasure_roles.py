"""Erasure requests and subject access: compliance officers and administrators file, see and run
them (approving is `approvals.approve_erasure`, which they have already); nobody else sees them."""

from django.db import migrations

from apps.accounts import grants

PERMISSIONS = ["erasure.view_erasurerequest", "erasure.add_erasurerequest", "erasure.change_erasurerequest",
               "erasure.run_erasurerequest", "compliance.view_storedcopy"]
ROLES = ("Compliance Officer", "Administrator")


def grant(apps, schema_editor):
    grants.grant(apps, PERMISSIONS, ROLES)


def revoke(apps, schema_editor):
    grants.revoke(apps, PERMISSIONS, ROLES)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_subject_key_roles"), ("erasure", "0001_initial"),
                    ("compliance", "0004_storedcopy")]
    operations = [migrations.RunPython(grant, revoke)]
