"""Stored query results are a place of the registry: an erasure deletes them (every version), its
verification reads them, and the runs stay in their owners' history with the result marked gone."""

from __future__ import annotations

from apps.compliance.models import StoredCopy
from apps.explorer import results, selectors, services
from apps.explorer.models import RunState
from apps.accounts.actors import Actor
from apps.stream.demo import generate
from tests.erasure.helpers import PREFIX, TYPED, add, cli, cli_json, copies_left, default_rules, export_all
from tests.erasure.helpers import subject_entry
from tests.retention.helpers import T0
from tests.roles import user_in


def test_an_erasure_deletes_every_stored_query_result(archive):
    default_rules()
    now_ms = int(T0.timestamp() * 1000)
    add(archive, generate(100, seed=81, now_ms=now_ms, spread_ms=3_600_000))
    add(archive, [subject_entry(i, now_ms - i * 60_000) for i in range(5)])
    export_all()
    analyst = Actor.of_user(user_in("Analyst", "ana"))
    rows_run = services.query_run_submit(actor=analyst, sql=f"SELECT job_id, payload_sample FROM jobs_all "
                                                           f"WHERE startsWith(job_id, '{PREFIX}') ORDER BY job_id")
    services.query_run_execute(run_id=str(rows_run.pk))
    count_run = services.query_run_submit(actor=analyst, sql="SELECT count() AS n FROM jobs_all")
    services.query_run_execute(run_id=str(count_run.pk))
    rows_run.refresh_from_db()
    assert rows_run.rows == 5 and selectors.result_page(rows_run).rows[0][0] == f"{PREFIX}0"

    user_in("Compliance Officer", "officer_a")
    user_in("Compliance Officer", "officer_b")
    filed = cli_json("erasure", "file", "--subject", TYPED, "--basis", "GDPR art. 17(1)(a)",
                     "--reason", "ticket DSR-9", "--by", "officer_a")
    preview = cli_json("erasure", "preview", str(filed["id"]))
    assert preview["counts"]["copies"] >= 5  # the result holding the subject's rows
    cli("erasure", "approve", str(filed["id"]), "--by", "officer_b")
    done = cli_json("erasure", "run", str(filed["id"]))
    assert done["state"] == "completed" and done["verification"]["passed"] is True, done

    # Both results are gone from S3 (every version): a result cannot always say whose rows it holds.
    assert copies_left() == 0
    for run in (rows_run, count_run):
        run.refresh_from_db()
        assert run.state == RunState.SUCCEEDED and run.result.deleted_at is not None
        assert selectors.result_page(run) is None
    # Run again, the query answers without the erased records.
    again = services.query_run_submit(actor=analyst, sql=rows_run.sql)
    services.query_run_execute(run_id=str(again.pk))
    again.refresh_from_db()
    assert again.state == RunState.SUCCEEDED and again.rows == 0


def test_expired_results_are_deleted_and_old_sql_and_restored_job_ids_cleared(archive, settings):
    from datetime import timedelta

    from django.utils import timezone

    analyst = Actor.of_user(user_in("Analyst", "ana"))
    run = services.query_run_submit(actor=analyst, sql="SELECT 1 AS one FROM jobs_all LIMIT 1")
    services.query_run_execute(run_id=str(run.pk))
    run.refresh_from_db()
    copy = StoredCopy.objects.get(pk=run.result_id)
    assert copy.kind == results.KIND
    from apps.restore.models import Restore

    restore = Restore.objects.create(actor="sam", via="cli", adapter="list", target="live", restored=1,
                                     selection={"job_ids": ["job-7"]}, lines=[{"job_id": "job-7", "result": "restored"}])
    later = timezone.now() + timedelta(days=settings.ARCHIVE_QUERY_HISTORY_DAYS + 1)
    assert services.query_history_expire(now=later) == {"results_deleted": 1, "runs_scrubbed": 1,
                                                        "restores_scrubbed": 1}
    run.refresh_from_db()
    assert run.sql == "" and run.sql_sha256 and run.result.deleted_why == "expired"
    restore.refresh_from_db()
    assert restore.selection == {} and restore.lines == [] and restore.restored == 1
    assert copies_left() == 0
