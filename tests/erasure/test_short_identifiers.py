"""A short identifier (job id "42") is found by record, never by bytes: an erasure by it is verified,
although "42" stands in many a metadata file and in other people's records as text."""

from __future__ import annotations

import json

from apps.warehouse import client as ch
from tests.erasure.helpers import add, cli, cli_json, export_all
from tests.retention.helpers import T0
from tests.roles import user_in


def test_an_erasure_by_a_short_job_id_is_verified(archive):
    ms = int(T0.timestamp() * 1000)
    add(archive, [{b"job_id": job.encode(), b"queue": b"emails", b"outcome": b"success",
                   b"enqueue_time": str(ms - i).encode(), b"payload": json.dumps({"n": 42, "job": job}).encode()}
                  for i, job in enumerate(["42", "420", "x-42", "other"])])
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
