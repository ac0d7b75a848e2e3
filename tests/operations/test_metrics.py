"""/metrics: Prometheus exposition of the export and compliance figures, summed across the portal's processes,
only for a scraper with the token or from an allowed address; the alert rules Prometheus loads are the portal's own
conditions, which also turn the status page red."""

from __future__ import annotations

import json
import subprocess
import time

from django.test import override_settings
from prometheus_client.parser import text_string_to_metric_families

from apps.exports.exporter import Exporter
from apps.exports.tasks import export_stream
from apps.operations import alerts
from apps.stream.demo import generate
from tests.conftest import ROOT
from tests.roles import user_in


def scrape(client, **extra) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", **extra)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.content.decode()) for s in family.samples}


def value(samples, name: str, **labels) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def _produce(archive, records: list[dict]) -> None:
    pipe = archive.redis.pipeline()
    for fields in records:
        pipe.xadd(archive.stream, fields)
    pipe.execute()


def test_records_exported_per_sink_equal_what_the_worker_exported(archive, warehouse_worker, client):
    records = list(generate(300, seed=7))
    before = scrape(client)
    _produce(archive, records)

    assert warehouse_worker.run(export_stream, max_seconds=60)["records"] == 300

    after = scrape(client)
    assert value(after, "archive_records_exported_total", sink="clickhouse") == 300
    assert value(after, "archive_records_exported_total", sink="iceberg") == 300
    # The batch histogram was observed in the worker's process and is read here, in another one.
    added = value(after, "archive_export_batch_records_sum") - (value(before, "archive_export_batch_records_sum") or 0)
    assert added == 300
    assert value(after, "archive_export_stage_seconds_count", stage="iceberg") > (
        value(before, "archive_export_stage_seconds_count", stage="iceberg") or 0)
    assert value(after, "archive_stream_lag") == 0
    assert value(after, "archive_stream_oldest_unexported_age_seconds") == 0

    # The same records again are dropped as duplicates: the counts per sink stay at 300.
    _produce(archive, records)
    assert warehouse_worker.run(export_stream, max_seconds=60)["duplicates"] == 300
    again = scrape(client)
    assert value(again, "archive_records_exported_total", sink="clickhouse") == 300
    assert value(again, "archive_duplicates_dropped_total") == 300


def test_dead_letters_are_counted_by_the_field_that_broke_the_contract(archive, client):
    good = next(iter(generate(1, seed=3)))
    _produce(archive, [{**good, "outcome": "exploded"}, {**good, "job_id": "j-2", "retries": "many"}, good])

    summary = Exporter().run()

    assert summary.records == 1 and summary.dead_letters == 2
    samples = scrape(client)
    assert value(samples, "archive_dead_letters_waiting", field="outcome") == 1
    assert value(samples, "archive_dead_letters_waiting", field="retries") == 1
    assert value(samples, "archive_dead_letters_total") == 2
    # A label never carries the value that was refused.
    assert not any("exploded" in str(labels) or "many" in str(labels) for _, labels in samples)


def test_metrics_need_the_token_or_an_allowed_address(archive, client):
    outside = {"REMOTE_ADDR": "203.0.113.9"}
    assert client.get("/metrics", **outside).status_code == 403
    with override_settings(ARCHIVE_METRICS_TOKEN="s3cret-scrape"):
        assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong", **outside).status_code == 403
        assert value(scrape(client, HTTP_AUTHORIZATION="Bearer s3cret-scrape", **outside), "archive_stream_up") == 1
    with override_settings(ARCHIVE_METRICS_ALLOWED_ADDRESSES=["203.0.113.0/24"]):
        assert client.get("/metrics", **outside).status_code == 200
        assert client.get("/metrics").status_code == 403  # 127.0.0.1 is no longer on the list
    # No token configured: a bearer header alone lets nobody in.
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ", **outside).status_code == 403


def test_the_shipped_rule_file_is_the_conditions_and_promtool_accepts_it():
    shipped = ROOT / "docker" / "prometheus" / "alerts.yml"
    assert shipped.read_text() == alerts.rules_yaml(), "run `manage.py archive alerts --write` after changing alerts.py"
    checked = subprocess.run(["promtool", "check", "rules", str(shipped)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(alerts.CONDITIONS)} rules found" in checked.stdout
    # Every rule's expression reads metrics /metrics exposes, and every runbook section exists.
    runbook = (ROOT / "docs" / "operations.md").read_text()
    for condition in alerts.CONDITIONS:
        assert f'<a id="{condition.runbook}"></a>' in runbook, condition.name


def test_an_old_unexported_entry_turns_the_status_page_red_and_fails_archive_alerts(archive, client):
    viewer = user_in("Viewer")
    client.force_login(viewer)
    page = client.get("/").content.decode()
    assert "No alert firing." in page

    # An entry written two minutes ago that no exporter has read yet.
    old_ms = int(time.time() * 1000) - 120_000
    archive.redis.xadd(archive.stream, next(iter(generate(1, seed=5))), id=f"{old_ms}-0")

    page = client.get("/").content.decode()
    assert "1 alert firing" in page
    row = page.split('id="alert-ArchiveExportLagging"')[1].split("</tr>")[0]
    assert "firing" in row and any(f"{age} s" in row for age in (120, 121, 122)), row
    checked = archive.manage("archive", "alerts", "--format", "json", check=False)
    assert checked.returncode == 1
    lagging = next(a for a in json.loads(checked.stdout)["alerts"] if a["name"] == "ArchiveExportLagging")
    assert lagging["firing"] and lagging["runbook"] == "docs/operations.md#export-lagging"
    status = client.get("/status.json").json()
    assert [a["name"] for a in status["alerts"] if a["firing"]] == ["ArchiveExportLagging"]
    samples = scrape(client)
    assert value(samples, "archive_stream_oldest_unexported_age_seconds") >= 120
    assert value(samples, "archive_stream_lag") == 1


def test_a_failed_audit_verification_fires_the_chain_alert(archive, client):
    from apps.accounts.actors import Actor
    from apps.audit.services import audit_record

    audit_record(actor=Actor.system("beat"), action="audit.verified", target="chain",
                 details={"ok": False, "events": 10, "digests": 0, "head_seq": 10, "first_bad_seq": 4})
    states = {s.name: s for s in alerts.evaluate()}
    assert states["ArchiveAuditChainBroken"].firing and states["ArchiveAuditChainBroken"].value == "broken"
    assert value(scrape(client), "archive_audit_chain_verified") == 0

    audit_record(actor=Actor.system("beat"), action="audit.verified", target="chain",
                 details={"ok": True, "events": 11, "digests": 0, "head_seq": 11, "first_bad_seq": None})
    assert not {s.name: s for s in alerts.evaluate()}["ArchiveAuditChainBroken"].firing
    assert value(scrape(client), "archive_audit_chain_verified") == 1


def test_the_compose_prometheus_config_loads_the_rules_and_scrapes_with_the_token(tmp_path):
    import shutil

    import yaml

    for name in ("prometheus.yml", "alerts.yml"):
        shutil.copy(ROOT / "docker" / "prometheus" / name, tmp_path / name)
    token = tmp_path / "metrics_token"
    token.write_text("not-a-real-token\n")
    config = tmp_path / "prometheus.yml"
    config.write_text(config.read_text().replace("/run/secrets/metrics_token", str(token)))

    checked = subprocess.run(["promtool", "check", "config", str(config)], capture_output=True, text=True, check=False)

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(alerts.CONDITIONS)} rules found" in checked.stdout
    compose = yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text())
    assert {"prometheus", "alertmanager"} <= set(compose["services"])
    for service in ("web", "worker"):  # one metrics directory for every process of the portal
        assert "metrics:/app/var/metrics" in compose["services"][service]["volumes"]


def test_with_redis_down_the_status_page_still_answers_and_the_lag_alert_fires(archive, client, settings):
    client.force_login(user_in("Viewer"))
    settings.REDIS_URL = f"redis://127.0.0.1:{_closed_port()}/0"

    page = client.get("/")

    assert page.status_code == 200
    text = page.content.decode()
    assert "Redis cannot be reached" in text and "alert firing" in text
    assert "firing" in text.split('id="alert-ArchiveExportLagging"')[1].split("</tr>")[0]
    status = client.get("/status.json")
    assert status.status_code == 503 and "Redis cannot be reached" in status.json()["error"]
    assert value(scrape(client), "archive_stream_up") == 0


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
