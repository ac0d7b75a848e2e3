"""The explorer in the browser, in `make run`'s layout (a real web server, a real worker that owns the
warehouse): an analyst logs in, runs a template and downloads its result as CSV, runs a console query,
and sees a hostile one refused with its reason. Every run is in the audit chain under the analyst."""

from __future__ import annotations

import csv
import io

import pytest
from playwright.sync_api import expect

from apps.audit.models import AuditEvent
from apps.explorer.models import QueryRun, RunState
from apps.stream.demo import generate
from tests.roles import PASSWORD, user_in
from tests.warehouse_worker import assert_never_opened

pytestmark = pytest.mark.browser
RECORDS = 240


def _expected_by_queue() -> dict[str, int]:
    counts: dict[str, int] = {}
    for fields in generate(RECORDS, seed=61):
        queue = fields[b"queue"].decode()
        counts[queue] = counts.get(queue, 0) + 1
    return counts


def test_an_analyst_runs_a_template_downloads_csv_runs_sql_and_is_refused(archive, warehouse_worker, web,
                                                                          browser_page):
    pipe = archive.redis.pipeline()
    for fields in generate(RECORDS, seed=61):
        pipe.xadd(archive.stream, fields)
    pipe.execute()
    warehouse_worker.manage("archive", "export", "--drain")
    analyst = user_in("Analyst", "ana")
    page = browser_page

    page.goto(web.url + "/explorer/")
    page.get_by_label("Username").fill("ana")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#nav").get_by_role("link", name="Explorer")).to_be_visible()
    expect(page.locator(".schema").first).to_contain_text("payload_sample")
    # The rollups' columns, with how to read them (the count templates read them).
    hourly = page.locator("details.rollup", has_text="queue_hourly_stats")
    hourly.locator("summary").click()
    expect(hourly).to_contain_text("sum(wait_ms) / sum(started) is the mean wait")

    # A template, over all of time: its totals are the records exported.
    health = page.locator('details[data-template="queue_health"]')
    health.locator("summary").click()
    health.get_by_label("From").fill("2000-01-01T00:00:00+00:00")
    health.get_by_role("button", name="Run template").click()
    expect(page.locator("#run-state")).to_have_text("Succeeded", timeout=60_000)
    expect(page.locator("#result")).to_be_visible()
    with page.expect_download() as download:
        page.locator("#download-csv").click()
    rows = list(csv.DictReader(io.StringIO(open(download.value.path()).read())))
    assert sum(int(r["jobs"]) for r in rows) == RECORDS

    # A console query: typed into the editor, run, its answer on the page.
    page.locator(".CodeMirror").click()
    page.keyboard.press("Control+A")
    page.keyboard.type("SELECT queue, count() AS n FROM jobs_all GROUP BY queue ORDER BY queue")
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.locator("#run-state")).to_have_text("Succeeded", timeout=60_000)
    shown = {tds[0]: int(tds[1]) for tds in
             (row.locator("td").all_inner_texts() for row in page.locator("#result tbody tr").all())}
    assert shown == _expected_by_queue()
    expect(page.locator("#timings")).to_contain_text("tables jobs_all")

    # A hostile one: refused, with its reason, and nothing ran.
    page.locator(".CodeMirror").click()
    page.keyboard.press("Control+A")
    page.keyboard.type("SELECT * FROM system.parts")
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.locator("#run-error")).to_contain_text("refused: table system.parts")

    runs = list(QueryRun.objects.order_by("submitted_at"))
    assert [r.state for r in runs] == [RunState.SUCCEEDED, RunState.SUCCEEDED, RunState.REFUSED]
    assert all(r.user_id == analyst.pk and r.via == "web" for r in runs)
    actions = list(AuditEvent.objects.filter(actor="ana", action__startswith="query.")
                   .order_by("seq").values_list("action", flat=True))
    assert actions == ["query.submitted", "query.run", "query.downloaded", "query.submitted", "query.run",
                       "query.refused"]
    assert_never_opened(web.chdb_path, "the web process")
