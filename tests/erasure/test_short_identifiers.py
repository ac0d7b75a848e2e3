"""A short identifier (job id "42") is found by record, never by bytes: an erasure by it is verified,
although "42" stands in many a metadata file, in other people's records as text, and in the stream ids
the erasure's own mutation names (its entries here are given ids with "42" in them, as about one in
ten real ones have)."""

from __future__ import annotations

import json

from apps.warehouse import client as ch
from tests.erasure.helpers import cli, cli_json, export_all
from tests.retention.helpers import T0
from tests.roles import user_in


def test_an_erasure_by_a_short_job_id_is_verified(archive):
    ms = int(T0.timestamp() * 1000)
    pipe = archive.redis.pipeline()
    for i, job in enumerate(["42", "420", "x-42", "other"]):
        pipe.xadd(archive.stream, {b"job_id": job.encode(), b"queue": b"emails", b"outcome": b"success",
                                   b"enqueue_time": str(ms - i).encode(),
                                   b"payload": json.dumps({"n": 42, "job": job}).encode()},
                  id=f"17648923420{i:02d}-0")
    pipe.execute()
    export_all()
    user_in("Compliance Officer", "officer_a")
    user_in("Compliance Officer", "officer_b")
    filed = cli_json("erasure", "file", "--job-id", "42", "--basis", "GDPR art. 17", "--reason", "DSR-42",
                     "--by", "officer_a")
    cli("erasure", "approve", str(filed["id"]), "--by", "officer_b")
    done = cli_json("erasure", "run", str(filed["id"]))
    assert done["state"] == "completed" and done["verification"]["passed"], done
    assert done["counts"]["warm"] == 1 and done["counts"]["cold"] == 1
    left = sorted(j for (j,) in ch.query("SELECT job_id FROM {db}.jobs_all", tag="test").result_rows)
    assert left == ["420", "other", "x-42"]


def test_a_mutation_is_said_to_name_an_identifier_only_by_a_literal_of_it(archive):
    """The check the verification makes of the warm table's mutations: a predicate with the id as a
    value names it; one whose stream ids or dates merely contain its digits does not."""
    from types import SimpleNamespace

    from apps.erasure.verification import _mutations_naming

    ch.command("ALTER TABLE {db}.jobs_archive DELETE WHERE stream_id IN ['1764892342000-0'] "
               "AND toDate(enqueue_time) = '2026-04-02'", tag="test", settings_={"mutations_sync": 2})
    assert _mutations_naming(SimpleNamespace(raw=["42"]), "jobs_archive") == 0
    ch.command("ALTER TABLE {db}.jobs_archive DELETE WHERE job_id = '42'", tag="test", settings_={"mutations_sync": 2})
    assert _mutations_naming(SimpleNamespace(raw=["42"]), "jobs_archive") == 1
    assert _mutations_naming(SimpleNamespace(raw=["4", "x-42"]), "jobs_archive") == 0
