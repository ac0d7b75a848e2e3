"""A property-based run of schemathesis against a live portal: every operation of /api/schema/ is called
with generated input (valid and invalid), as an administrator and again as a viewer, and every answer
must be no server error and conform to the schema (status code, content type, headers, body).

The portal runs as `make run` serves it (tests/web/conftest.py `web`), with a real warehouse worker,
so query runs, jobs searches, purges and erasures really run. The test prints a summary and every
failure with the request that caused it (rerun with `-s` to see the summary of a passing run).
"""

from __future__ import annotations

import collections
import time

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import Failure, FailureGroup

from apps.stream.demo import generate
from tests.api.conftest import new_token
from tests.roles import user_in
from tests.web.conftest import web  # noqa: F401 - the live portal, used by name

CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance,
          response_headers_conformance]
# Per operation and generation mode: small, so the whole run stays within a few minutes on two cores.
EXAMPLES = 5
# The administrator gets valid input and invalid input; the viewer valid input only, since a viewer
# is refused (403) before any input is read, so invalid input would only repeat the same refusal.
MODES = {"Administrator": (GenerationMode.POSITIVE, GenerationMode.NEGATIVE), "Viewer": (GenerationMode.POSITIVE,)}

pytestmark = pytest.mark.timeout(420)


def _seed(archive, warehouse_worker) -> None:
    """Something for the lists to show: exported jobs, a refused entry (a dead letter), the archive's figures
    (before their first computation /stats/ answers 503, which is documented but is a server error)."""
    pipe = archive.redis.pipeline()
    for fields in generate(60, seed=14):
        pipe.xadd(archive.stream, fields)
    pipe.xadd(archive.stream, {"job_id": "broken", "queue": "billing"})  # no outcome: a dead letter
    pipe.execute()
    warehouse_worker.manage("archive", "export", "--drain")
    warehouse_worker.manage("archive", "stats")


def _fuzz(schema, *, base_url: str, token: str, modes: tuple, tally: dict, failures: dict) -> None:
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in modes:
            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                      phases=[Phase.explicit, Phase.generate],
                      # Generated bodies for the larger serializers are slow to draw and often filtered:
                      # both are properties of the generator, not of the API under test.
                      suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                             HealthCheck.data_too_large])
            def call(case):
                tally["cases"] += 1
                try:
                    response = case.call(base_url=base_url, session=session, timeout=60)
                except requests.RequestException as exc:  # the server hung up or did not answer: a failure too
                    failures[(case.operation.label, "no response", type(exc).__name__)].append(f"{exc}")
                    return
                tally["statuses"][response.status_code] += 1
                try:
                    case.validate_response(response, checks=CHECKS)
                except FailureGroup as group:
                    for failure in group.exceptions:
                        _record(failures, case.operation.label, case, response, failure)
                except Failure as failure:
                    _record(failures, case.operation.label, case, response, failure)

            started = time.monotonic()
            try:
                call()
            except Unsatisfiable:
                # Nothing in this operation can be made invalid (no parameters, no body): nothing to send.
                assert mode is GenerationMode.NEGATIVE, f"{operation.label}: no valid input could be generated"
                tally["nothing_invalid"] += 1
            tally["runs"] += 1
            tally["seconds"][f"{operation.label} ({mode.value})"] += time.monotonic() - started
        tally["operations"].add(operation.label)


def _record(failures: dict, label: str, case, response, failure: Failure) -> None:
    key = (label, failure.title, response.status_code)
    if not failures[key]:  # one reproduction per kind is enough to read
        failures[key].append(f"{case.as_curl_command()}\n  -> {response.status_code} {response.text[:400]}\n"
                             f"  {failure.message[:600]}")
    else:
        failures[key].append("")


def test_every_operation_answers_within_its_schema_for_an_administrator_and_a_viewer(archive, warehouse_worker,
                                                                                       web):  # noqa: F811
    _seed(archive, warehouse_worker)
    user_in("Administrator", "root")
    user_in("Viewer", "vic")
    admin, viewer = new_token("root"), new_token("vic")
    schema = schemathesis.openapi.from_url(f"{web.url}/api/schema/", config=schemathesis.Config(), timeout=30,
                                           headers={"Authorization": f"Token {admin}",
                                                    "Accept": "application/vnd.oai.openapi+json"})
    failures: dict = collections.defaultdict(list)
    summary = {}
    for role, token in (("Administrator", admin), ("Viewer", viewer)):
        tally = {"cases": 0, "runs": 0, "nothing_invalid": 0, "operations": set(), "statuses": collections.Counter(),
                 "seconds": collections.Counter()}
        _fuzz(schema, base_url=web.url, token=token, modes=MODES[role], tally=tally, failures=failures)
        summary[role] = tally

    lines = ["schemathesis summary:"]
    for role, tally in summary.items():
        lines.append(f"  {role}: {len(tally['operations'])} operations, {tally['cases']} cases "
                     f"x {len(CHECKS)} checks, statuses {dict(sorted(tally['statuses'].items()))}")
        slowest = ", ".join(f"{label} {seconds:.0f} s" for label, seconds in tally["seconds"].most_common(3))
        lines.append(f"    {sum(tally['seconds'].values()):.0f} s; slowest: {slowest}")
    lines.append(f"  failures: {len(failures)} kinds, {sum(len(v) for v in failures.values())} cases")
    for (label, title, code), seen in sorted(failures.items()):
        lines.append(f"- {label}: {title} ({code}), {len(seen)} case(s)\n  {seen[0]}")
    report = "\n".join(lines)
    print(report)
    assert summary["Administrator"]["operations"] and summary["Administrator"]["cases"] >= len(
        summary["Administrator"]["operations"]) * len(MODES["Administrator"])
    assert not failures, report
