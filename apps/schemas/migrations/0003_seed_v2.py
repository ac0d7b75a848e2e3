"""Seeds version 2 of the record schema, which the archive ships: version 1's fields plus `subject_keys`.

Version 1's fields are read from its row (0002's literal copy) and `subject_keys` is written out
here, so this migration never changes with the code. `subject_keys` is computed by the
archive at ingest (keyed hashes of the identifiers in the payload and tags); producers never send
it. The warehouse migrate adds its column to `jobs_archive` and its field to the Iceberg table.
"""

from django.db import migrations

SUBJECT_KEYS = {
    "name": "subject_keys", "kind": "keys", "nullable": False, "default": [], "added_in": 2,
    "deprecated_in": None, "doc": "Keyed hashes (HMAC-SHA256) of the subject's identifiers, read at ingest",
}
V2_DOC = "Adds subject_keys, which the archive computes at ingest; producers never send it."


def seed_v2(apps, schema_editor):
    schema_version = apps.get_model("schemas", "SchemaVersion")
    taken = schema_version.objects.filter(number=2).first()
    if taken is not None:
        if [f["name"] for f in taken.fields][-1:] == ["subject_keys"]:
            return  # seeded already
        raise RuntimeError(
            "schema version 2 was applied here before the archive shipped its own version 2 (subject_keys); "
            "the registry cannot hold both. Restore a database from before that apply, or ask for a "
            "renumbering migration; nothing was changed")
    v1 = schema_version.objects.get(number=1)  # seeded by 0002_seed_v1
    schema_version.objects.create(number=2, fields=[*v1.fields, SUBJECT_KEYS], doc=V2_DOC,
                                  applied_via="migration")


def unseed_v2(apps, schema_editor):
    apps.get_model("schemas", "SchemaVersion").objects.filter(number=2, applied_via="migration").delete()


class Migration(migrations.Migration):
    dependencies = [("schemas", "0002_seed_v1")]

    operations = [migrations.RunPython(seed_v2, unseed_v2)]
