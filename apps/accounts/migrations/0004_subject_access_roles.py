"""Subject access requests (GDPR art. 15): compliance officers and administrators file and see them
(a bundle is downloaded only by whoever filed it, which the service checks); nobody else sees them."""

from django.db import migrations

from apps.accounts import grants

PERMISSIONS = ["erasure.view_subjectaccessrequest", "erasure.add_subjectaccessrequest",
               "erasure.change_subjectaccessrequest"]
ROLES = ("Compliance Officer", "Administrator")


def grant(apps, schema_editor):
    grants.grant(apps, PERMISSIONS, ROLES)


def revoke(apps, schema_editor):
    grants.revoke(apps, PERMISSIONS, ROLES)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_erasure_roles"), ("erasure", "0002_subject_access")]
    operations = [migrations.RunPython(grant, revoke)]
