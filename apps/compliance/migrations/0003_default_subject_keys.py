"""The default subject keys: payload fields email, user_id and customer_id, and the tag user_id.

Written out here (not imported from apps.compliance.subject_keys), so this migration means the
same thing forever.
"""

from django.db import migrations

DEFAULTS = [
    {"name": "email", "source": "payload", "field": "email", "kind": "email"},
    {"name": "user_id", "source": "payload", "field": "user_id", "kind": "text"},
    {"name": "customer_id", "source": "payload", "field": "customer_id", "kind": "text"},
    {"name": "user_id", "source": "tag", "field": "user_id", "kind": "text"},
]


def add_defaults(apps, schema_editor):
    Rule = apps.get_model("compliance", "SubjectKeyRule")
    for rule in DEFAULTS:
        Rule.objects.get_or_create(source=rule["source"], field=rule["field"],
                                   defaults={"name": rule["name"], "kind": rule["kind"]})


def remove_defaults(apps, schema_editor):
    Rule = apps.get_model("compliance", "SubjectKeyRule")
    for rule in DEFAULTS:
        Rule.objects.filter(**rule).delete()


class Migration(migrations.Migration):
    dependencies = [("compliance", "0002_subject_key_rules")]
    operations = [migrations.RunPython(add_defaults, remove_defaults)]
