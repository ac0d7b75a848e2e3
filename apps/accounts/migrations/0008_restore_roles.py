"""Restore into the live queue: SREs and Administrators restore archived jobs and see the restores;
Compliance Officers see them (what went back into the live queue, by whom)."""

from django.db import migrations

from apps.accounts import grants

# (permissions, roles) pairs
GRANTS = [
    (["restore.add_restore", "restore.view_restore"], ("SRE", "Administrator")),
    (["restore.view_restore"], ("Compliance Officer",)),
]


class Migration(migrations.Migration):
    dependencies = [("accounts", "0007_dashboard_roles"), ("restore", "0001_initial")]
    operations = [grants.operation(GRANTS)]
