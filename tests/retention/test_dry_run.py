"""A dry run reports exactly what the real run then does: same plan, same numbers, nothing changed before."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.retention.models import RetentionPolicy, RetentionRun
from apps.retention.services import retention_run
from tests.actors import TESTS
from tests.retention.helpers import (T0, days, export, four_eyes, jobs_all_counts, per_pair, produce, purge_approved,
                                     warm_days)


def test_retention_dry_run_matches_the_real_run(archive):
    RetentionPolicy.objects.create(warm_days=7, cold_days=30)
    RetentionPolicy.objects.create(queue="reports", max_records=50)
    for week in range(8):  # eight exports, one per simulated week: several small files per day
        produce(archive, 250, now=T0 + days(7 * week), days=8, seed=40 + week)
        export()
    now = T0 + days(56)
    before = (jobs_all_counts(), per_pair(), warm_days())

    dry = retention_run(actor=TESTS, dry_run=True, as_of=now)
    assert (jobs_all_counts(), per_pair(), warm_days()) == before  # a dry run changes nothing
    real = retention_run(actor=TESTS, dry_run=False, as_of=now)

    assert dry.state == "previewed" and real.state == "done"
    assert real.plan == dry.plan
    plan = dry.plan
    assert plan["purge"]["records"] > 0 and plan["tiering"]["records"] > 0 and plan["compaction"]["days"] > 0
    assert plan["tiering"]["warm_bytes_estimate"] > 0 and plan["tiering"]["oldest_day"] < plan["tiering"]["newest_day"]
    assert real.result["purge"]["records"] == plan["purge"]["records"]
    assert jobs_all_counts()[0] == before[0][0] - plan["purge"]["records"]
    # Tiering planned its groups after the purge's preview; what it moved is what it had counted, and
    # the groups the purge emptied are among them with zero rows left, never more.
    assert real.result["tiering"]["evicted_groups"] == plan["tiering"]["groups"]
    assert real.result["compaction"]["compacted_days"] == plan["compaction"]["days"]
    assert real.result["compaction"]["files_before"] == plan["compaction"]["files"]
    assert RetentionRun.objects.filter(dry_run=True).count() == 1


def test_purge_preview_numbers_are_what_the_purge_removes(archive):
    produce(archive, 1200, now=T0, days=40, seed=8)
    export()
    retention_run(actor=TESTS, dry_run=False, as_of=T0, steps=("tiering",))  # some days warm, some cold only
    assert warm_days()

    # The records are from simulated March; "older than" counts from now, so reach back to T0 - 20 days.
    older_than = f"{int((datetime.now(timezone.utc) - (T0 - days(20))).total_seconds() // 60)}m"
    out = StringIO()
    call_command("archive", "purge", "--older-than", older_than, "--queue", "emails", "--queue", "reports",
                 "--dry-run", "--json", stdout=out)
    preview = json.loads(out.getvalue())
    assert preview["dry_run"] and preview["result"] == {}
    plan = preview["plan"]
    assert plan["records"] > 0 and set(plan["queues"]) == {"emails", "reports"}
    assert plan["warm"]["records"] + plan["cold"]["records"] >= plan["records"]  # both tiers counted
    assert plan["cold"]["files_rewritten"] > 0 and plan["cold"]["bytes_in_those_files"] > 0
    assert plan["warm"]["records"] > 0 and plan["warm"]["bytes_estimate"] > 0 and plan["warm"]["partitions"] > 0
    assert plan["oldest"] < plan["newest"]
    cutoff = datetime.fromisoformat(plan["criteria"][0]["before"])
    expected = sum(n for (q, _), n in per_pair("jobs_all").items() if q in ("emails", "reports")) - \
        sum(n for (q, _), n in _recent_pairs(cutoff).items() if q in ("emails", "reports"))
    assert plan["records"] == expected
    before = jobs_all_counts()[0]

    # Confirmed later, the purge acts on exactly the previewed selection: the same moment, not a new "now".
    done = purge_approved("--preview", str(preview["run"]))
    assert done["plan"] == plan
    assert done["result"]["records"] == plan["records"]
    assert jobs_all_counts() == (before - plan["records"],) * 2
    again = StringIO()
    call_command("archive", "purge", "--older-than", "20d", "--queue", "emails", "--queue", "reports",
                 "--as-of", T0.isoformat(), "--dry-run", "--json", stdout=again)
    assert json.loads(again.getvalue())["plan"]["records"] == 0


def test_as_of_only_previews_and_a_preview_is_confirmed_once(archive):
    produce(archive, 50, now=T0, days=3, seed=9)
    export()
    sre, _ = four_eyes()
    with pytest.raises(CommandError, match="--as-of goes with --dry-run only"):
        call_command("archive", "purge", "--older-than", "1d", "--as-of", T0.isoformat(), "--confirm", "--by", "sre")
    out = StringIO()
    call_command("archive", "purge", "--older-than", "1d", "--as-of", T0.isoformat(), "--dry-run", "--json",
                 stdout=out)
    with pytest.raises(CommandError, match="measured age from a chosen moment"):
        call_command("archive", "purge", "--confirm", "--preview", str(json.loads(out.getvalue())["run"]),
                     "--by", "sre")
    out = StringIO()
    call_command("archive", "purge", "--older-than", "1d", "--dry-run", "--json", stdout=out)
    preview = json.loads(out.getvalue())["run"]
    purge_approved("--preview", str(preview))
    with pytest.raises(CommandError, match="confirmed already"):
        call_command("archive", "purge", "--confirm", "--preview", str(preview), "--by", "sre")
    assert jobs_all_counts() == (0, 0)


def _recent_pairs(cutoff):
    from apps.warehouse import client as ch

    rows = ch.query("SELECT toString(queue), toString(outcome), count() FROM {db}.jobs_all "
                    "WHERE enqueue_time >= {t:DateTime64(6, 'UTC')} GROUP BY 1, 2", tag="test",
                    parameters={"t": ch.utc_naive(cutoff)}).result_rows
    return {(q, o): int(n) for q, o, n in rows}
