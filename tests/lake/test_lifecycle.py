"""`archive lifecycle show|apply` against the real SeaweedFS: safe expiration rules, transitions refused clearly."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.lake import s3


@pytest.fixture
def bucket(archive):
    """The test run's bucket, with no lifecycle configuration before and after the test."""
    cfg = s3.S3Config.from_settings()
    client = s3.client(cfg)
    client.delete_bucket_lifecycle(Bucket=cfg.bucket)
    yield client, cfg.bucket
    client.delete_bucket_lifecycle(Bucket=cfg.bucket)


def _run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("archive", "lifecycle", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _server_rules(client, bucket) -> dict[str, dict]:
    return {r["ID"]: r for r in client.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}


def _table_prefix() -> str:
    from apps.lake.table import load_table

    return load_table().location().removeprefix("s3://").partition("/")[2] + "/"


def test_show_previews_and_apply_sets_the_expiration_rules(bucket):
    client, name = bucket
    data_prefix = f"{_table_prefix()}data/"

    out, _ = _run("show")
    assert f"current rules on bucket {name}: none" in out
    preview = out.split("would set:", 1)[1]
    assert "archive-portal-abort-incomplete-uploads: the whole bucket: abort incomplete multipart uploads after 7 days" \
        in preview
    assert "archive-portal-noncurrent-versions: the whole bucket: delete old versions 30 days" in preview
    assert "archive-portal-expire-results: objects under results/: delete current objects 30 days after creation" \
        in preview
    assert (f"archive-portal-cold-data-glacier-ir: objects under {data_prefix}: move to GLACIER_IR 90 days after "
            "creation (only where the server supports storage-class transitions)") in preview
    # show changes nothing.
    with pytest.raises(client.exceptions.ClientError, match="NoSuchLifecycleConfiguration"):
        client.get_bucket_lifecycle_configuration(Bucket=name)

    out, err = _run("apply")

    rules = _server_rules(client, name)
    assert set(rules) == {"archive-portal-abort-incomplete-uploads", "archive-portal-noncurrent-versions",
                          "archive-portal-expire-results"}
    assert rules["archive-portal-abort-incomplete-uploads"]["AbortIncompleteMultipartUpload"] == {
        "DaysAfterInitiation": 7}
    assert rules["archive-portal-noncurrent-versions"]["NoncurrentVersionExpiration"]["NoncurrentDays"] == 30
    assert rules["archive-portal-expire-results"]["Expiration"] == {"Days": 30}
    assert rules["archive-portal-expire-results"]["Filter"] == {"Prefix": "results/"}
    # No rule the server holds deletes current objects of the Iceberg table.
    for rule in rules.values():
        if "Expiration" in rule:
            prefix = rule["Filter"]["Prefix"]
            assert prefix and not _table_prefix().startswith(prefix) and not prefix.startswith("iceberg/")

    # SeaweedFS has no storage classes: the refusal is reported, not raised, and the rest applied.
    applied, refused = out.split("not applied:", 1)
    assert "archive-portal-expire-results" in applied and "glacier" not in applied
    assert "archive-portal-cold-data-glacier-ir" in refused
    assert "the server refused the storage-class transition (NotImplemented" in refused
    assert "does not implement transitions" in refused and "the other rules were applied" in refused
    assert "Traceback" not in out + err

    out, _ = _run("show")
    current = out.split("would set:", 1)[0]
    assert "archive-portal-expire-results: objects under results/: delete current objects 30 days" in current


def test_settings_change_the_rules_and_apply_replaces_only_the_portals(bucket, settings):
    client, name = bucket
    client.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": [
        {"ID": "team-logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"}, "Expiration": {"Days": 3}},
        {"ID": "archive-portal-expire-results", "Status": "Enabled", "Filter": {"Prefix": "old/"},
         "Expiration": {"Days": 99}},
    ]})
    settings.S3_LIFECYCLE_RESULTS_PREFIX = "query-results/"
    settings.S3_LIFECYCLE_RESULTS_DAYS = 5
    settings.S3_LIFECYCLE_NONCURRENT_DAYS = 0
    settings.S3_LIFECYCLE_COLD_TRANSITION_DAYS = 0

    out, _ = _run("apply")

    rules = _server_rules(client, name)
    assert set(rules) == {"team-logs", "archive-portal-abort-incomplete-uploads", "archive-portal-expire-results"}
    assert rules["team-logs"]["Expiration"] == {"Days": 3}
    assert rules["archive-portal-expire-results"]["Filter"] == {"Prefix": "query-results/"}
    assert rules["archive-portal-expire-results"]["Expiration"] == {"Days": 5}
    assert "kept as is (not the portal's): team-logs: objects under logs/" in out
    assert "not applied" not in out


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("S3_LIFECYCLE_RESULTS_PREFIX", "iceberg/archive/", "overlaps the Iceberg warehouse"),
        ("S3_LIFECYCLE_RESULTS_PREFIX", "", "S3_LIFECYCLE_RESULTS_PREFIX is empty"),
        ("S3_LIFECYCLE_COLD_STORAGE_CLASS", "GLACIER", "needs a restore before each read"),
    ],
)
def test_a_configuration_that_would_break_the_table_is_refused(bucket, settings, setting, value, message):
    client, name = bucket
    setattr(settings, setting, value)
    for action in ("show", "apply"):
        with pytest.raises(CommandError, match=message):
            _run(action)
    with pytest.raises(client.exceptions.ClientError, match="NoSuchLifecycleConfiguration"):
        client.get_bucket_lifecycle_configuration(Bucket=name)


def test_show_warns_about_someone_elses_rule_that_expires_table_files(bucket):
    client, name = bucket
    client.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": [
        {"ID": "cleanup-everything", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 365}},
    ]})
    out, err = _run("show")
    assert "cleanup-everything: the whole bucket: delete current objects 365 days after creation" in out
    assert "warning: rule cleanup-everything deletes current objects" in err
    assert "Iceberg table's live files" in err
