"""The jobs pages in the browser, in `make run`'s layout (a real web server, a real worker that owns the
warehouse): an analyst filters jobs and opens one; an SRE restores a job and a real Celery worker of the
live queue runs it."""

from __future__ import annotations

import json
import time

import pytest
from playwright.sync_api import expect

from apps.audit.models import AuditEvent
from apps.retention.models import RetentionPolicy
from apps.stream.demo import generate
from tests.restore_target import TASK, TargetWorker, new_queue
from tests.roles import PASSWORD, user_in

pytestmark = pytest.mark.browser


def _log_in(page, url: str, username: str) -> None:
    page.goto(url)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_an_analyst_filters_jobs_and_opens_one(archive, warehouse_worker, web, browser_page):
    entries = generate(200, seed=71)
    pipe = archive.redis.pipeline()
    for fields in entries:
        pipe.xadd(archive.stream, fields)
    pipe.execute()
    warehouse_worker.manage("archive", "export", "--drain")
    user_in("Analyst", "ana")
    chosen = [f for f in entries if f[b"queue"] == b"webhooks" and f[b"worker_id"] == b"worker-03"]
    assert chosen
    page = browser_page

    _log_in(page, web.url + "/explorer/jobs/", "ana")
    expect(page.locator("#nav").get_by_role("link", name="Jobs")).to_be_visible()
    filters = page.locator("#job-filters")
    filters.get_by_label("Queue").fill("webhooks")
    filters.get_by_label("Worker").fill("worker-03")
    filters.get_by_label("From").fill("-2d")
    filters.get_by_role("button", name="Search").click()
    rows = page.locator("#jobs tbody tr")
    expect(rows.first).to_be_visible(timeout=60_000)
    expect(rows).to_have_count(len(chosen))
    shown = set(rows.evaluate_all("rows => rows.map(r => r.dataset.job)"))
    assert shown == {f[b"job_id"].decode() for f in chosen}

    one = chosen[0]
    page.locator(f'#jobs tr[data-job="{one[b"job_id"].decode()}"] a').click()
    attempt = page.locator("section.attempt").first
    expect(attempt).to_be_visible(timeout=60_000)
    expect(page.locator("h1")).to_contain_text(one[b"job_id"].decode())
    expect(attempt.locator(".tier")).to_have_text("warm tier")
    expect(attempt).to_contain_text(one[b"worker_id"].decode())
    expect(attempt.locator(".tags")).to_contain_text("region=")
    expect(page.locator("#restore-job")).to_have_count(0)  # analysts do not restore
    searched = AuditEvent.objects.filter(actor="ana", action="query.run").values_list("details", flat=True)
    assert sorted(d["template"] for d in searched) == ["job_lookup", "job_search"]


def test_an_sre_restores_a_job_and_a_real_celery_worker_runs_it(archive, warehouse_worker, web, browser_page,
                                                                 tmp_path):
    live = TargetWorker(queue=new_queue(), log_path=tmp_path / "live-worker.log")
    live.start()
    try:
        RetentionPolicy.objects.create(queue=live.queue, payload_mode="full")
        call = {"args": ["INV-1001"], "kwargs": {"resend": True}}
        archive.redis.xadd(archive.stream, {
            "job_id": "invoice-1001", "queue": live.queue, "outcome": "dead", "retries": "3",
            "enqueue_time": str(int(time.time() * 1000) - 5000), "payload": json.dumps(call),
            "tags": json.dumps({"task": TASK}), "error_type": "SMTPServerDisconnected"})
        warehouse_worker.manage("archive", "export", "--drain")
        user_in("SRE", "sam")
        page = browser_page

        _log_in(page, web.url + "/explorer/jobs/view/?job_id=invoice-1001", "sam")
        form = page.locator("#restore-job")
        expect(form).to_be_visible(timeout=60_000)
        expect(page.locator("section.attempt .restorable")).to_have_text("kept as sent (restorable)")
        expect(form.get_by_label("Target")).to_have_value(TASK)
        form.get_by_label("Into").select_option("celery")
        form.get_by_role("button", name="Restore", exact=True).click()
        expect(page.locator("#restore-state")).to_have_text("Done", timeout=60_000)
        expect(page.locator("#restore-counts")).to_contain_text("Restored 1 of 1 job")
        [ran] = live.ran(expect=1)
        assert ran["args"] == ["INV-1001"] and ran["kwargs"] == {"resend": True} and ran["restore"]

        # The same attempt again: refused, with the reason, until forced.
        page.go_back()
        page.reload()
        page.locator("#restore-job").get_by_role("button", name="Restore", exact=True).click()
        expect(page.locator("#restore-state")).to_have_text("Done", timeout=60_000)
        expect(page.locator("#reasons")).to_contain_text("already restored")
        assert len(live.ran(expect=1)) == 1
        assert AuditEvent.objects.filter(actor="sam", action="restore.done").count() == 2
    finally:
        live.stop()
