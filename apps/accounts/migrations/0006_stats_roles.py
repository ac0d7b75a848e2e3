"""The stats page (/explorer/stats/): every role sees the archive's figures (numbers and queue names
only); SRE and Administrator may have them computed again now."""

from django.db import migrations

from apps.accounts import grants

# (permissions, roles) pairs
GRANTS = [
    (["explorer.view_statssnapshot"], ("Viewer", "Analyst", "SRE", "Compliance Officer", "Administrator")),
    (["explorer.add_statssnapshot"], ("SRE", "Administrator")),
]


def grant(apps, schema_editor):
    for permissions, roles in GRANTS:
        grants.grant(apps, permissions, roles)


def revoke(apps, schema_editor):
    for permissions, roles in GRANTS:
        grants.revoke(apps, permissions, roles)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0005_explorer_roles"), ("explorer", "0002_stats_snapshot")]
    operations = [migrations.RunPython(grant, revoke)]
