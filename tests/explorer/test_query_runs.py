"""Query runs: every query is a recorded, audited run whose result is kept in S3 and downloadable."""

from __future__ import annotations

import csv
import io
import json

import pyarrow.parquet as pq
import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.accounts.actors import Actor
from apps.audit.models import AuditEvent
from apps.compliance.models import StoredCopy
from apps.explorer import results, services
from apps.explorer.models import QueryRun, RunState
from tests.roles import user_in

COUNT_BY_QUEUE = "SELECT queue, count() AS n FROM jobs_all GROUP BY queue ORDER BY queue"


def _run(actor, **what) -> QueryRun:
    run = services.query_run_submit(actor=actor, **what)
    services.query_run_execute(run_id=str(run.pk))
    run.refresh_from_db()
    return run


def _expected_by_queue(archive) -> list[list]:
    table = archive.iceberg_rows()
    counts: dict[str, int] = {}
    for queue in table.column("queue").to_pylist():
        counts[queue] = counts.get(queue, 0) + 1
    return [[q, n] for q, n in sorted(counts.items())]


def test_a_run_is_recorded_audited_and_its_result_kept_in_s3(exported):
    analyst = user_in("Analyst", "ana")
    run = _run(Actor.of_user(analyst), sql=COUNT_BY_QUEUE)

    assert run.state == RunState.SUCCEEDED, run.error
    assert run.rows == len(_expected_by_queue(exported)) and run.tables == ["jobs_all"]
    assert run.rows_read and run.elapsed_ms is not None
    # The result is a stored copy (a place of the registry) and a Parquet object under results/.
    copy = StoredCopy.objects.get(pk=run.result_id)
    assert copy.kind == results.KIND and copy.keys == [f"results/{run.pk}.parquet"]
    table = results.load(copy.bucket, copy.keys[0])
    assert [list(r.values()) for r in table.to_pylist()] == _expected_by_queue(exported)
    # Both ends of the run are in the audit chain under the analyst, without the SQL's text.
    events = list(AuditEvent.objects.filter(target=f"query_run:{run.pk}").order_by("seq"))
    assert [(e.action, e.actor, e.actor_user_id) for e in events] == [
        ("query.submitted", "ana", analyst.pk), ("query.run", "ana", analyst.pk)]
    assert events[1].details["rows"] == run.rows
    assert "SELECT" not in json.dumps([e.details for e in events])


def test_downloads_in_three_formats_only_for_the_owner(exported):
    analyst, other = user_in("Analyst", "ana"), user_in("Analyst", "bob")
    run = _run(Actor.of_user(analyst), sql=COUNT_BY_QUEUE)
    expected = _expected_by_queue(exported)

    name, kind, body = services.query_result_download(run=run, actor=Actor.of_user(analyst), fmt="csv")
    assert name.endswith(".csv") and kind.startswith("text/csv")
    assert [[r[0], int(r[1])] for r in list(csv.reader(io.StringIO(body.decode())))[1:]] == expected
    _, _, body = services.query_result_download(run=run, actor=Actor.of_user(analyst), fmt="json")
    assert [[r["queue"], r["n"]] for r in json.loads(body)] == expected
    _, _, body = services.query_result_download(run=run, actor=Actor.of_user(analyst), fmt="parquet")
    assert pq.read_table(io.BytesIO(body)).num_rows == len(expected)
    assert AuditEvent.objects.filter(action="query.downloaded", actor="ana").count() == 3
    with pytest.raises(PermissionDenied):
        services.query_result_download(run=run, actor=Actor.of_user(other), fmt="csv")


def test_refusals_are_recorded_runs_with_their_reason(exported):
    analyst = user_in("Analyst", "ana")
    run = services.query_run_submit(actor=Actor.of_user(analyst), sql="SELECT * FROM system.parts")
    assert run.state == RunState.REFUSED and run.error.startswith("refused: table system.parts")
    assert AuditEvent.objects.filter(action="query.refused", target=f"query_run:{run.pk}", actor="ana").exists()
    # An SRE may read it.
    sre = user_in("SRE", "sam")
    assert _run(Actor.of_user(sre), sql="SELECT count() FROM system.parts").state == RunState.SUCCEEDED


@pytest.mark.parametrize("role", ["Viewer", "Compliance Officer"])
def test_roles_without_queries_are_refused(exported, role):
    user = user_in(role)
    with pytest.raises(PermissionDenied):
        services.query_run_submit(actor=Actor.of_user(user), sql="SELECT 1")
    assert not QueryRun.objects.exists()


def test_cli_as_user_is_audited_as_them_and_prints_json_and_csv(exported, capsys):
    analyst = user_in("Analyst", "ana")
    call_command("archive", "query", "--as", "ana", "--format", "json", COUNT_BY_QUEUE)
    assert [[r["queue"], r["n"]] for r in json.loads(capsys.readouterr().out)] == _expected_by_queue(exported)
    run = QueryRun.objects.get()
    assert (run.user_id, run.via, run.allow_list) == (analyst.pk, "cli", "Analyst")
    assert AuditEvent.objects.filter(action="query.run", actor="ana", via="cli").count() == 1

    call_command("archive", "query", "--format", "csv", COUNT_BY_QUEUE)
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0] == ["queue", "n"] and [[q, int(n)] for q, n in rows[1:]] == _expected_by_queue(exported)
    operator = QueryRun.objects.exclude(pk=run.pk).get()
    assert operator.user_id is None and operator.allow_list == "Administrator"


def test_cli_refusal_exits_non_zero_with_the_reason(exported):
    user_in("Analyst", "ana")
    with pytest.raises(CommandError, match=r"refused: table system.parts"):
        call_command("archive", "query", "--as", "ana", "SELECT * FROM system.parts")
    with pytest.raises(CommandError, match="may not"):
        user_in("Viewer", "vic")
        call_command("archive", "query", "--as", "vic", "SELECT 1")


def test_template_run_from_the_cli(exported, capsys):
    call_command("archive", "query", "--format", "json", "--template", "queue_health",
                 "--param", "from=2000-01-01T00:00:00+00:00")
    rows = json.loads(capsys.readouterr().out)
    assert sum(r["jobs"] for r in rows) == 300
    run = QueryRun.objects.get()
    assert run.template == "queue_health" and run.params["from"].startswith("2000-01-01")
    with pytest.raises(CommandError, match="unknown parameter|no parameter"):
        call_command("archive", "query", "--template", "queue_health", "--param", "nope=1")
