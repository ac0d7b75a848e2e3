"""The dashboard (/dashboard/): every role sees it (counts, durations, queue names, due dates); SRE and
Administrator may have its figures computed again now."""

from django.db import migrations

from apps.accounts import grants

# (permissions, roles) pairs
GRANTS = [
    (["dashboard.view_dashboardsnapshot"], ("Viewer", "Analyst", "SRE", "Compliance Officer", "Administrator")),
    (["dashboard.add_dashboardsnapshot"], ("SRE", "Administrator")),
]


class Migration(migrations.Migration):
    dependencies = [("accounts", "0006_stats_roles"), ("dashboard", "0001_initial")]
    operations = [grants.operation(GRANTS)]
