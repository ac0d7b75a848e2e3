"""What a user sees in a browser: login, the export status page, and fixing dead letters in the admin.

The pages are served by pytest-django's live_server (a thread of this process, so it sees the
per-test settings of the `archive` fixture) and driven by Debian's chromium through Playwright.
"""

from __future__ import annotations

import json
import re
import time

import pytest
from playwright.sync_api import expect

from apps.exports.exporter import Exporter
from apps.stream.demo import generate
from tests.roles import PASSWORD, user_in

pytestmark = pytest.mark.browser

REQUEUE_ACTION = "Re-queue the selected entries into the archive stream (after fixing their fields)"
STREAM_ID = re.compile(r"^\d+-\d+$")


def _login(page, live_server, username: str, password: str, path: str = "/"):
    """Open `path` like a user would: get sent to the login form, fill it in, submit."""
    page.goto(live_server.url + path)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


def _card(page, card_id: str):
    return page.locator(f"#{card_id} .value")


def _feed(archive, valid: int) -> dict[str, str]:
    """`valid` demo entries plus two malformed ones; returns the malformed entries' stream ids."""
    now_ms = int(time.time() * 1000)
    pipe = archive.redis.pipeline()
    for fields in generate(valid, seed=11, now_ms=now_ms):
        pipe.xadd(archive.stream, fields)
    pipe.execute()
    bad_outcome = archive.redis.xadd(archive.stream, {
        b"job_id": b"web-bad-outcome", b"queue": b"emails", b"outcome": b"exploded",
        b"enqueue_time": str(now_ms).encode(),
    }).decode()
    no_job_id = archive.redis.xadd(archive.stream, {
        b"queue": b"emails", b"outcome": b"success", b"enqueue_time": str(now_ms).encode(),
    }).decode()
    return {"bad_outcome": bad_outcome, "no_job_id": no_job_id}


def test_login_required_wrong_password_then_staff_lands_on_status(live_server, browser_page, django_user_model):
    user_in("SRE", "operator")
    page = browser_page

    page.goto(live_server.url + "/")
    assert page.url == f"{live_server.url}/login/?next=/"
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    expect(page.get_by_text("Your username and password didn't match")).to_have_count(0)

    page.get_by_label("Username").fill("operator")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("Your username and password didn't match. Please try again.")).to_be_visible()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()

    page.get_by_label("Username").fill("operator")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Export status")).to_be_visible()
    assert page.url == f"{live_server.url}/"
    expect(page).to_have_title("Export status · Archive Portal")
    expect(page.get_by_role("button", name="Log out operator")).to_be_visible()
    expect(page.get_by_role("link", name="Admin")).to_be_visible()


def test_status_page_shows_the_export(archive, live_server, browser_page, django_user_model):
    _feed(archive, 120)
    summary = Exporter().run()
    assert (summary.records, summary.dead_letters) == (120, 2)

    user_in("Viewer", "viewer")
    page = browser_page
    _login(page, live_server, "viewer", PASSWORD)

    expect(page.get_by_role("heading", name="Export status")).to_be_visible()
    expect(page.locator("p.hint").first).to_contain_text(archive.stream)
    expect(_card(page, "stream-length")).to_have_text("122")
    expect(_card(page, "lag")).to_have_text("0")
    expect(_card(page, "pending")).to_have_text("0")
    expect(_card(page, "oldest")).to_have_text("none")
    expect(_card(page, "today-clickhouse")).to_have_text("120")
    expect(_card(page, "today-iceberg")).to_have_text("120")
    expect(_card(page, "dead-letters")).to_have_text("2")
    expect(page.locator("#last-batch .hint")).to_contain_text(" ago (")
    expect(page.locator("#dead-letters").get_by_role("link", name="review and re-queue")).to_be_visible()
    expect(page.get_by_text("No export errors.")).to_be_visible()

    page.screenshot(path="/tmp/status.png", full_page=True)


def test_admin_fixes_and_requeues_a_dead_letter(archive, live_server, browser_page, django_user_model):
    ids = _feed(archive, 120)
    Exporter().run()
    assert archive.clickhouse_count() == 120

    django_user_model.objects.create_superuser("admin", "admin@example.com", PASSWORD)
    page = browser_page
    _login(page, live_server, "admin", PASSWORD)

    page.locator("#dead-letters").get_by_role("link", name="review and re-queue").click()
    expect(page.get_by_role("heading", name="Select dead letter to change")).to_be_visible()
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(2)

    def row(entry_id: str):
        return rows.filter(has=page.locator("th.field-entry_id", has_text=entry_id))

    expect(row(ids["bad_outcome"]).locator("td.field-reason")).to_contain_text("outcome:")
    expect(row(ids["no_job_id"]).locator("td.field-reason")).to_contain_text("job_id: required")
    expect(row(ids["bad_outcome"]).locator("td.field-requeued_as")).to_have_text("-")

    # Fix the entry: edit its JSON like a user would, then save.
    row(ids["bad_outcome"]).locator("th.field-entry_id a").click()
    textarea = page.locator("textarea[name=fields]")
    expect(textarea).to_be_visible()
    fields = json.loads(textarea.input_value())
    assert fields["outcome"] == "exploded"
    fields["outcome"] = "success"
    textarea.fill(json.dumps(fields, indent=2))
    page.get_by_role("button", name="Save", exact=True).click()

    expect(page.locator("ul.messagelist li.success")).to_contain_text("was changed successfully")
    expect(rows).to_have_count(2)

    # Re-queue it from the list.
    row(ids["bad_outcome"]).locator("input.action-select").check()
    page.locator("select[name=action]").select_option(label=REQUEUE_ACTION)
    page.locator("button[name=index]").click()
    expect(page.locator("ul.messagelist li.success")).to_have_text(
        "Re-queued 1 entry; the exporter checks them against the contract again."
    )

    summary = Exporter().run()
    assert (summary.records, summary.dead_letters) == (1, 0)
    assert archive.clickhouse_count() == 121
    assert archive.clickhouse_count("job_id = 'web-bad-outcome' AND outcome = 'success'") == 1

    page.reload()
    requeued_as = row(ids["bad_outcome"]).locator("td.field-requeued_as")
    expect(requeued_as).to_have_text(STREAM_ID)
    newest_id = archive.redis.xrevrange(archive.stream, count=1)[0][0].decode()
    expect(requeued_as).to_have_text(newest_id)
    expect(row(ids["bad_outcome"]).locator("td.field-requeued_at")).not_to_have_text("-")
    expect(row(ids["no_job_id"]).locator("td.field-requeued_as")).to_have_text("-")

    # The status page (the admin's "View site" link) now counts only the dead letter still waiting.
    page.get_by_role("link", name="View site").click()
    expect(page.get_by_role("heading", name="Export status")).to_be_visible()
    expect(_card(page, "dead-letters")).to_have_text("1")
    expect(_card(page, "today-clickhouse")).to_have_text("121")
    expect(_card(page, "stream-length")).to_have_text("123")


def test_health_is_public_and_status_json_needs_login(archive, live_server, browser_page, client):
    response = browser_page.request.get(live_server.url + "/health/")
    assert response.status == 200
    assert response.headers["content-type"] == "application/json"
    report = response.json()
    assert report["status"] == "ok"
    assert {k: report["components"][k] for k in ("postgresql", "redis", "s3", "export")} == {
        "postgresql": "ok", "redis": "ok", "s3": "ok", "export": "ok",
    }

    anonymous = client.get("/status.json")
    assert anonymous.status_code == 302
    assert anonymous["Location"] == "/login/?next=/status.json"
