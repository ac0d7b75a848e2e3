"""A version whose warehouse migration fails is not recorded, and the failure is: an audit event that
`archive_schema_migration_failures_total` counts and the schema-migration alert fires on."""

from __future__ import annotations

import pytest

from apps.audit.models import AuditEvent
from apps.operations import alerts
from apps.schemas.models import SchemaVersion
from apps.schemas.services import SCHEMA_APPLY_FAILED, schema_apply
from apps.warehouse import client as ch
from tests.actors import TESTS
from tests.schemas.conftest import NEXT


def test_a_failed_migration_is_recorded_and_fires_the_alert(archive, next_spec, client):
    # A column of the new version's name but another type, left by someone by hand: the migration's check refuses it.
    ch.command("ALTER TABLE {db}.jobs_archive ADD COLUMN region UInt8", tag="test")
    assert not {s.name: s for s in alerts.evaluate()}["ArchiveSchemaMigrationFailed"].firing

    with pytest.raises(Exception) as failure:
        schema_apply(spec=next_spec, actor=TESTS, via="test")

    assert "region" in str(failure.value)
    assert not SchemaVersion.objects.filter(number=NEXT).exists()
    event = AuditEvent.objects.get(action=SCHEMA_APPLY_FAILED)
    assert event.target == f"schema:{NEXT}" and event.details["version"] == NEXT
    state = {s.name: s for s in alerts.evaluate()}["ArchiveSchemaMigrationFailed"]
    assert state.firing and state.value == "1 in the last hour"
    assert b"archive_schema_migration_failures_total 1.0" in client.get("/metrics").content
