"""`make run`'s process layout: a real worker owns the warehouse, a real web server serves the admin.
Previews of a retention run and of a purge return at once and show their result when the worker is
done; the web process never opens the warehouse; with no worker, the admin says so."""

from __future__ import annotations

import json
import os

import pytest
from playwright.sync_api import expect

from apps.retention.locks import one_run_at_a_time
from apps.retention.models import RetentionRun
from tests.retention.helpers import T0, produce
from tests.roles import PASSWORD, user_in
from tests.warehouse_worker import assert_never_opened, files_open_under

pytestmark = pytest.mark.browser


def _emails(worker) -> int:
    out = worker.manage("archive", "query", "--format", "json",
                        "SELECT count() AS n FROM jobs_all WHERE queue = 'emails'")
    return int(json.loads(out.stdout)[0]["n"])


def _log_in(page, url: str, username: str) -> None:
    page.goto(url)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_previews_and_a_purge_from_the_admin_run_on_the_worker(archive, warehouse_worker, web, browser,
                                                               browser_page):
    """An SRE previews and asks for a purge; a compliance officer finds it in the approvals and
    approves it, which runs it on the worker; the SRE never gets an approve button."""
    produce(archive, 300, now=T0, days=5, seed=91)
    warehouse_worker.manage("archive", "export", "--drain")
    assert _emails(warehouse_worker) > 0
    user_in("SRE", "sre")
    user_in("Compliance Officer", "officer")
    page = browser_page
    _log_in(page, web.url + "/admin/retention/retentionrun/", "sre")

    # Another run holds the runs' lock: the worker takes the preview and waits; the page is back at once.
    with one_run_at_a_time():
        page.get_by_role("button", name="Preview a retention run (dry run)").click()
        expect(page.locator("#run-status")).to_contain_text("Running")
        run = RetentionRun.objects.get()
        assert page.url.endswith(f"/admin/retention/retentionrun/{run.pk}/change/")
        assert not run.finished
    # The lock is free: the worker finishes, and the page (refreshing itself) shows the result.
    expect(page.locator("#run-status")).to_contain_text("Previewed", timeout=90_000)
    run.refresh_from_db()
    assert run.plan["tiering"]["records"] == 300

    page.goto(web.url + "/admin/retention/retentionrun/purge/")
    page.get_by_label("Older than").fill("1d")
    page.get_by_label("Queues").fill("emails")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#purge-preview")).to_be_visible(timeout=90_000)
    preview = RetentionRun.objects.get(kind="purge")
    expect(page.locator("#purge-preview")).to_contain_text(str(preview.plan["records"]))
    page.get_by_label("Why (for the approver)").fill("emails older than a day are not needed")
    page.get_by_label("I have checked the preview").check()
    page.get_by_role("button", name="Ask for approval").click()
    expect(page.locator("#approval-state")).to_have_text("Pending")
    expect(page.locator("#cannot-decide")).to_contain_text("You asked for this")
    expect(page.get_by_role("button", name="Approve and run")).to_have_count(0)
    assert _emails(warehouse_worker) > 0  # asking removed nothing

    # The compliance officer, in a browser of their own, finds it waiting for them and approves it.
    officer_context = browser.new_context(viewport={"width": 1280, "height": 900})
    officer_page = officer_context.new_page()
    officer_page.set_default_timeout(15_000)
    _log_in(officer_page, web.url + "/compliance/", "officer")
    officer_page.locator("#nav").get_by_role("link", name="Approvals").click()
    waiting = officer_page.locator("#waiting-for-you")
    expect(waiting).to_contain_text("Purge records")
    expect(waiting).to_contain_text("sre")
    waiting.get_by_role("link").first.click()
    expect(officer_page.locator("#approval-summary")).to_contain_text(str(preview.plan["records"]))
    officer_page.get_by_role("button", name="Approve and run").click()
    expect(officer_page.locator("#run-state")).to_have_text("Done", timeout=90_000)
    officer_context.close()
    assert RetentionRun.objects.get(kind="purge", dry_run=False).preview == preview
    assert _emails(warehouse_worker) == 0

    # The SRE sees the decision, still with no approve button.
    page.reload()
    expect(page.locator("#approval-state")).to_have_text("Approved and run")
    expect(page.get_by_role("button", name="Approve and run")).to_have_count(0)

    # The web process never opened the warehouse: not the worker's, not one of its own.
    assert not files_open_under(web.pid, warehouse_worker.chdb_path)
    assert_never_opened(web.chdb_path, "the web process")

    # No worker serves the warehouse queue: nothing is started, and the admin says so.
    warehouse_worker.stop()
    page.goto(web.url + "/admin/retention/retentionrun/")
    page.get_by_role("button", name="Preview a retention run (dry run)").click()
    expect(page.get_by_text("No worker serves the warehouse queue")).to_be_visible()
    assert RetentionRun.objects.count() == 3
    assert os.path.exists(warehouse_worker.chdb_path)
