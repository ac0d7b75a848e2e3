"""The portal's roles as Django groups, with their permissions (README, "Roles").

The map is written out here, not imported, so this migration means the same thing forever; a
role that gains a permission later gets a new data migration.
"""

from django.db import migrations

VIEWER = [
    "exports.view_exportbatch", "exports.view_exporterror", "exports.view_exportday",
    "retention.view_retentionpolicy", "retention.view_retentionrun", "schemas.view_schemaversion",
]
ANALYST = VIEWER + ["rehydration.view_rehydration", "rehydration.add_rehydration"]
SRE = VIEWER + [
    "exports.view_deadletter", "exports.change_deadletter", "exports.requeue_deadletter",
    "retention.start_retentionrun", "retention.purge_records",
    "rehydration.view_rehydration", "rehydration.add_rehydration", "rehydration.delete_rehydration",
    "schemas.add_schemaversion", "schemas.change_schemaversion",
    "approvals.view_approval",
]
COMPLIANCE_OFFICER = VIEWER + [
    "retention.add_retentionpolicy", "retention.change_retentionpolicy", "retention.delete_retentionpolicy",
    "compliance.view_legalhold", "compliance.add_legalhold", "compliance.release_legalhold",
    "approvals.view_approval", "approvals.approve_purge", "approvals.approve_policy_change",
    "approvals.approve_hold_release", "approvals.approve_erasure",
    "audit.view_auditevent", "audit.export_auditevent", "audit.verify_chain",
    "auditlog.view_logentry",
]
# Everything the roles above hold, plus running the portal: users and roles, the beat schedule.
ADMINISTRATOR = sorted(set(ANALYST + SRE + COMPLIANCE_OFFICER) | {
    "auth.view_user", "auth.add_user", "auth.change_user", "auth.view_group",
    "django_celery_beat.view_periodictask", "django_celery_beat.change_periodictask",
})
ROLES = {
    "Viewer": VIEWER,
    "Analyst": ANALYST,
    "SRE": SRE,
    "Compliance Officer": COMPLIANCE_OFFICER,
    "Administrator": ADMINISTRATOR,
}


def create_roles(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after every migration ran; the roles need them now.
    for config in apps.get_app_configs():
        config.models_module = True
        create_permissions(config, apps=apps, verbosity=0)
        config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, permissions in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        wanted = []
        for dotted in permissions:
            app_label, codename = dotted.split(".")
            wanted.append(Permission.objects.get(content_type__app_label=app_label, codename=codename))
        group.permissions.set(wanted)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("exports", "0003_record_keys_daily_totals"),
        ("retention", "0002_queued_runs_actor_preview"),
        ("schemas", "0001_initial"),
        ("rehydration", "0001_initial"),
        ("approvals", "0001_initial"),
        ("compliance", "0001_initial"),
        ("audit", "0001_initial"),
        ("auditlog", "__latest__"),
        ("django_celery_beat", "__latest__"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
