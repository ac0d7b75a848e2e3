from django.db import migrations, models

# Append-only at the database: UPDATE and DELETE of an audit event are refused for every role
# the trigger applies to. A superuser can disable it; the digests in S3 then catch the rewrite.
APPEND_ONLY = """
CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only: % of event % refused', TG_OP, OLD.seq
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION audit_event_append_only();
"""
DROP = """
DROP TRIGGER IF EXISTS audit_event_append_only ON audit_auditevent;
DROP FUNCTION IF EXISTS audit_event_append_only();
"""


class Migration(migrations.Migration):
    initial = True
    dependencies = []

    operations = [
        migrations.CreateModel(
            name="AuditEvent",
            fields=[
                ("seq", models.BigIntegerField(help_text="Position in the chain: 1, 2, 3... without gaps",
                                               primary_key=True, serialize=False)),
                ("at", models.DateTimeField(db_index=True)),
                ("actor", models.CharField(db_index=True, help_text="The portal user, os:<name> for a command "
                                           "without --by, beat, anonymous", max_length=150)),
                ("actor_user_id", models.IntegerField(blank=True, null=True)),
                ("via", models.CharField(help_text="web, admin, cli, beat, task", max_length=16)),
                ("action", models.CharField(db_index=True, help_text="What happened, e.g. purge.approved",
                                            max_length=64)),
                ("target", models.CharField(blank=True, db_index=True, help_text="What it happened to, e.g. "
                                            "approval:12 or policy:queue=emails", max_length=200)),
                ("details", models.JSONField(blank=True, default=dict,
                                             help_text="Figures and ids; never raw payloads or PII")),
                ("prev_hash", models.CharField(max_length=64)),
                ("hash", models.CharField(max_length=64, unique=True)),
            ],
            options={
                "ordering": ["-seq"],
                "permissions": [("verify_chain", "Can verify the audit chain and write its digest"),
                                ("export_auditevent", "Can export audit events as CSV")],
            },
        ),
        migrations.RunSQL(APPEND_ONLY, DROP),
    ]
