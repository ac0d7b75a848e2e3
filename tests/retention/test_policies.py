"""Retention policies: the most specific rule wins, setting by setting, in the exporter and in purges by count."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from auditlog.models import LogEntry

from apps.retention.models import RetentionPolicy
from apps.retention.resolution import BUILT_IN, Rule, resolve
from apps.retention.services import retention_run
from apps.warehouse import client as ch
from tests.roles import user_in
from tests.actors import TESTS
from tests.retention.helpers import T0, days, export, jobs_all_counts, per_pair, produce

DEFAULTS = {"redis_hours": 24, "warm_days": 30, "cold_days": 0, "max_records": 0, "payload_mode": "sample",
            "sample_rate": 0.01, "keep_failures": True, "payload_max_bytes": 1000, "redaction_patterns": ""}
RULES = [
    Rule(values={"warm_days": 10, "max_records": 1000}),
    Rule(outcome="failed", values={"warm_days": 20, "max_records": 10}),
    Rule(queue="emails", values={"warm_days": 5, "payload_mode": "hash"}),
    Rule(queue="emails", outcome="failed", values={"max_records": 5}),
]


def test_most_specific_rule_wins_setting_by_setting():
    emails_failed = resolve(RULES, "emails", "failed", DEFAULTS)
    assert emails_failed.max_records == 5 and emails_failed.sources["max_records"] == "queue=emails outcome=failed"
    assert emails_failed.warm_days == 5 and emails_failed.sources["warm_days"] == "queue=emails"  # queue beats outcome
    assert emails_failed.payload_mode == "hash"
    assert emails_failed.redis_hours == 24 and emails_failed.sources["redis_hours"] == BUILT_IN

    other_failed = resolve(RULES, "billing", "failed", DEFAULTS)
    assert (other_failed.warm_days, other_failed.max_records) == (20, 10)
    assert other_failed.sources["warm_days"] == "outcome=failed"

    emails_success = resolve(RULES, "emails", "success", DEFAULTS)
    assert (emails_success.warm_days, emails_success.max_records) == (5, 1000)
    assert emails_success.sources["max_records"] == "global default"

    plain = resolve(RULES, "billing", "success", DEFAULTS)
    assert (plain.warm_days, plain.max_records, plain.payload_mode) == (10, 1000, "sample")
    assert any("warm_days = 10 (from global default)" in line for line in plain.explain())


def test_count_caps_follow_the_most_specific_rule(archive):
    RetentionPolicy.objects.create(max_records=0, description="no cap by default")
    RetentionPolicy.objects.create(outcome="failed", max_records=4)
    RetentionPolicy.objects.create(queue="emails", max_records=40)
    RetentionPolicy.objects.create(queue="emails", outcome="failed", max_records=2)
    produced = produce(archive, 900, now=T0, days=5, seed=3)
    export()
    before = per_pair()

    run = retention_run(actor=TESTS, dry_run=False, as_of=T0, steps=("purge",))

    after = per_pair()
    expected = Counter()
    for (queue, outcome), n in before.items():
        if queue == "emails":
            cap = 2 if outcome == "failed" else 40
        else:
            cap = 4 if outcome == "failed" else None
        expected[(queue, outcome)] = min(n, cap) if cap else n
    assert after == expected
    # The caps really bit, at every level.
    assert before[("emails", "success")] > 40 and before[("emails", "failed")] > 2
    assert any(n > 4 for (q, o), n in before.items() if o == "failed" and q != "emails")
    # A cap keeps the newest records.
    newest = sorted((r for r in produced if (r["queue"], r["outcome"]) == ("emails", "failed")),
                    key=lambda r: r["ms"])[-2:]
    kept = ch.query("SELECT job_id FROM {db}.jobs_all WHERE queue = 'emails' AND outcome = 'failed'",
                    tag="test").result_rows
    assert {r[0] for r in kept} == {r["job_id"] for r in newest}
    assert run.result["purge"]["records"] == sum(before.values()) - sum(after.values())
    assert jobs_all_counts()[0] == sum(after.values())


def test_payload_policy_per_queue_reaches_the_exporter(archive):
    RetentionPolicy.objects.create(sample_rate=0.0, keep_failures=False)
    RetentionPolicy.objects.create(queue="billing", payload_mode="none")
    RetentionPolicy.objects.create(queue="emails", payload_mode="full")
    RetentionPolicy.objects.create(queue="emails", outcome="failed", payload_mode="hash")
    produce(archive, 400, now=T0, days=1, seed=5)
    export()
    rows = ch.query(
        "SELECT toString(queue), toString(outcome), countIf(payload_hash != ''), countIf(payload_sample != ''), "
        "count() FROM {db}.jobs_archive GROUP BY 1, 2", tag="test").result_rows
    seen = {(q, o): (hashed, sampled, n) for q, o, hashed, sampled, n in rows}
    for (queue, outcome), (hashed, sampled, n) in seen.items():
        if queue == "billing":
            assert (hashed, sampled) == (0, 0), (queue, outcome)
        elif queue == "emails" and outcome == "failed":
            assert (hashed, sampled) == (n, 0)
        elif queue == "emails":
            assert (hashed, sampled) == (n, n)
        else:
            assert (hashed, sampled) == (n, 0)  # rate 0 and failures not kept
    # Full payloads are whole (demo payloads are JSON) and redacted: no email address survives.
    full = ch.query("SELECT payload_sample FROM {db}.jobs_archive WHERE queue = 'emails' AND outcome = 'success' "
                    "LIMIT 20", tag="test").result_rows
    for (text,) in full:
        assert text.endswith("}") and "@example" not in text


def test_policy_file_round_trip_is_audited_and_bad_files_change_nothing(archive, tmp_path):
    user_in("Compliance Officer", "officer")
    user_in("Administrator", "second")
    RetentionPolicy.objects.create(warm_days=14)
    wanted = [
        {"queue": "", "outcome": "", "warm_days": 21, "cold_days": 365},
        {"queue": "emails", "outcome": "", "cold_days": 30, "redaction_patterns": "ticket=TCK-\\d{6}",
         "description": "emails hold PII"},
    ]
    policy_file = tmp_path / "policies.json"
    policy_file.write_text(json.dumps(wanted))
    preview = archive.manage("archive", "policy", "set", "--file", str(policy_file), "--dry-run")
    assert "created (dry run): queue=emails" in preview.stdout
    assert RetentionPolicy.objects.count() == 1

    # A cold-tier limit where there was none (keep forever) shortens retention: a second person approves it.
    asked = archive.manage("archive", "policy", "set", "--file", str(policy_file), "--by", "officer")
    assert "weakens: queue=emails outcome=failed: cold_days 0 -> 30" in asked.stderr
    assert asked.stdout.strip().splitlines()[-1].startswith("approval ")
    assert "updated (once approved): global default" in asked.stdout
    assert list(RetentionPolicy.objects.values_list("warm_days", flat=True)) == [14]  # nothing changed yet
    approval = asked.stdout.strip().splitlines()[-1].split()[1]
    own = archive.manage("archive", "approval", "approve", approval, "--by", "officer", check=False)
    assert own.returncode != 0 and "cannot decide on it: a second person must" in own.stderr
    done = archive.manage("archive", "approval", "approve", approval, "--by", "second")
    assert '"updated": ["global default"]' in done.stdout and '"created": ["queue=emails"]' in done.stdout
    got = json.loads(archive.manage("archive", "policy", "get").stdout)
    assert got == [{"queue": "", "outcome": "", **{k: v for k, v in wanted[0].items() if k not in ("queue", "outcome")}},
                   {"queue": "emails", "outcome": "", "description": "emails hold PII", "cold_days": 30,
                    "redaction_patterns": "ticket=TCK-\\d{6}"}]
    changes = LogEntry.objects.get_for_model(RetentionPolicy)
    assert changes.filter(actor__username="second").count() == 2  # made when approved, by the approver
    assert any("warm_days" in (entry.changes_dict or {}) for entry in changes)

    policy_file.write_text(json.dumps([{"queue": "x", "warm_days": -3}, {"queue": "y", "redaction_patterns": "a=("}]))
    bad = archive.manage("archive", "policy", "set", "--file", str(policy_file), check=False)
    assert bad.returncode != 0 and "policy 1 (queue=x): warm_days" in bad.stderr and "nothing was changed" in bad.stderr
    assert RetentionPolicy.objects.count() == 2

    explained = archive.manage("archive", "policy", "explain", "--queue", "emails", "--outcome", "failed")
    assert "cold_days = 30 (from queue=emails)" in explained.stdout
    assert "warm_days = 21 (from global default)" in explained.stdout


@pytest.mark.parametrize("text", ["1d", "2w"])
def test_durations_parse(text):
    from apps.core.durations import format_duration, parse_duration

    assert format_duration(parse_duration(text)) == text
    assert parse_duration("1w2d") == days(9)
