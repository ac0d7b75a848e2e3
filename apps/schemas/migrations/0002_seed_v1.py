"""Seeds version 1 of the record schema: a literal copy, so this migration never changes with the code."""

from django.db import migrations

# (name, kind, nullable, default, doc); every field added in version 1, none deprecated.
V1_FIELDS = [
    ('job_id', 'string', False, None, "Producer's job id (1-128 chars)"),
    ('queue', 'lowcard', False, None, 'Queue the job ran on'),
    ('tenant_id', 'lowcard', False, '', 'Tenant, empty when the producer sent none'),
    ('priority', 'int', False, 0, 'Job priority, 0 by default'),
    ('enqueue_time', 'time', False, None, 'When the job was enqueued (UTC)'),
    ('start_time', 'time', True, None, 'When the attempt started'),
    ('end_time', 'time', True, None, 'When the attempt finished'),
    ('outcome', 'lowcard', False, None, 'success, failed, timeout, cancelled, retry or dead'),
    ('retries', 'int', False, 0, 'Attempt number; (job_id, retries) names one record'),
    ('error_type', 'lowcard', False, '', 'Exception class or error code'),
    ('error_msg', 'string', False, '', 'Error message, PII redacted'),
    ('worker_id', 'lowcard', False, '', 'Worker that ran the attempt'),
    ('worker_version', 'lowcard', False, '', 'Version of the worker code'),
    ('payload_size', 'long', False, 0, 'Payload size in bytes as received'),
    ('payload_hash', 'string', False, '', 'BLAKE2b-128 of the payload, hex; empty without payload'),
    ('payload_sample', 'string', False, '', 'Redacted, size-capped payload sample, or empty'),
    ('trace_id', 'string', False, '', 'Distributed trace id'),
    ('span_id', 'string', False, '', 'Span id within the trace'),
    ('correlation_id', 'string', False, '', "Producer's correlation id"),
    ('tags', 'tags', False, {}, 'String-to-string labels'),
    ('schema_version', 'int', False, 1, 'Stream contract version the producer used'),
    ('stream_id', 'string', False, None, 'Redis stream entry id the record came from'),
]
V1_DOC = "The record as first archived (stream contract v1)."


def seed_v1(apps, schema_editor):
    schema_version = apps.get_model("schemas", "SchemaVersion")
    fields = [
        {"name": name, "kind": kind, "nullable": nullable, "default": default, "added_in": 1,
         "deprecated_in": None, "doc": doc}
        for name, kind, nullable, default, doc in V1_FIELDS
    ]
    schema_version.objects.get_or_create(
        number=1, defaults={"fields": fields, "doc": V1_DOC, "applied_via": "migration"}
    )


def unseed_v1(apps, schema_editor):
    apps.get_model("schemas", "SchemaVersion").objects.filter(number=1).delete()


class Migration(migrations.Migration):
    dependencies = [("schemas", "0001_initial")]

    operations = [migrations.RunPython(seed_v1, unseed_v1)]
