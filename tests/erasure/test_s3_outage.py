"""S3 goes away in the middle of an erasure's cold step: the request fails there, saying so, and a
retry once S3 is back completes it with exact counts."""

from __future__ import annotations

import uuid

import pytest
from django.conf import settings as django_settings
from django.core.management.base import CommandError

from apps.core import faults
from apps.lake.seaweedfs import SeaweedFS
from apps.warehouse import client as ch
from tests.conftest import Archive
from tests.erasure.helpers import (
    TYPED,
    cli,
    cli_json,
    found_anywhere,
    others_exactly_once,
    spread_subject,
    stored_copy,
)
from tests.roles import user_in

BACKGROUND = 200
EXACT = ("stream", "dead_letters", "warm", "cold", "rehydrated")


@pytest.fixture
def own_s3(seaweedfs, settings, redis_conn, transactional_db, _release_catalog_connections, _chdb_path, tmp_path):
    """An archive on an S3 server of its own (stopping the shared one would break other tests)."""
    server = SeaweedFS(tmp_path / "s3", access_key=django_settings.AWS_ACCESS_KEY_ID,
                       secret_key=django_settings.AWS_SECRET_ACCESS_KEY, bucket=django_settings.S3_BUCKET).start()
    suffix = uuid.uuid4().hex[:10]
    settings.S3_ENDPOINT_URL = server.endpoint_url
    settings.ARCHIVE_STREAM = f"test:{suffix}:archive:completed"
    settings.CLICKHOUSE_DATABASE = f"test_{suffix}"
    settings.ICEBERG_TABLE = f"jobs_{suffix}"
    from apps.warehouse.services import warehouse_migrate

    warehouse_migrate()
    try:
        yield server, Archive(settings.ARCHIVE_STREAM, settings.CLICKHOUSE_DATABASE, settings.ICEBERG_TABLE,
                              redis_conn)
    finally:
        server.stop()
        redis_conn.delete(settings.ARCHIVE_STREAM, f"{settings.ARCHIVE_STREAM}:dead")
        ch.command("DROP DATABASE IF EXISTS {db} SYNC", tag="test")


def test_s3_stopped_mid_cold_step_fails_there_and_a_retry_completes(own_s3, monkeypatch):
    server, archive = own_s3
    spread = spread_subject(archive, background=BACKGROUND)
    copy = stored_copy()
    user_in("Compliance Officer", "officer_a")
    user_in("Compliance Officer", "officer_b")
    filed = cli_json("erasure", "file", "--subject", TYPED, "--basis", "GDPR art. 17(1)(a)",
                     "--reason", "DSR-12", "--by", "officer_a")
    preview = cli_json("erasure", "preview", str(filed["id"]))
    cli("erasure", "approve", str(filed["id"]), "--by", "officer_b")

    checkpoint = faults.checkpoint

    def stop_s3_after_the_delete(name: str) -> None:
        checkpoint(name)
        if name == "erasure_cold_deleted":  # the Iceberg delete is committed; expiry and removal are not done
            server.stop()

    monkeypatch.setattr(faults, "checkpoint", stop_s3_after_the_delete)
    with pytest.raises(CommandError, match="failed at step cold"):
        cli("erasure", "run", str(filed["id"]))
    failed = cli_json("erasure", "show", str(filed["id"]))
    assert (failed["state"], failed["step"]) == ("failed", "cold"), failed
    assert f"S3 at {server.endpoint_url} did not answer" in failed["error"], failed["error"]
    assert [s["state"] for s in failed["steps"] if s["name"] == "cold"] == ["failed"]

    monkeypatch.setattr(faults, "checkpoint", checkpoint)
    server.start()
    done = cli_json("erasure", "run", str(filed["id"]))
    assert done["state"] == "completed", done
    assert done["attempts"] == 2 and done["verification"]["passed"] is True
    assert {p: done["counts"][p] for p in EXACT} == {p: preview["counts"][p] for p in EXACT}
    assert done["counts"]["copies"] == copy.records
    cold = next(s for s in done["steps"] if s["name"] == "cold")["result"]
    assert cold["files_removed"] == cold["files_rewritten"] > 0 and cold["snapshots_expired"] > 0

    after = found_anywhere(archive)
    assert after == {key: 0 for key in after}, after
    assert others_exactly_once(spread["background"]) == (BACKGROUND, BACKGROUND)
