"""An erasure in the browser, in `make run`'s layout: a real web server and a real worker that owns
the warehouse (no eager Celery). Officer A files a request by email; the worker's preview appears on
the page; A never gets an approve button; officer B approves; the worker runs it to the end; the
certificate shows and downloads as HTML and PDF. The web process never opens the warehouse."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from apps.erasure.models import ErasureRequest, ErasureState
from apps.stream.demo import generate
from tests.erasure.helpers import add, subject_entry
from tests.retention.helpers import DAY_MS, T0
from tests.roles import PASSWORD, user_in
from tests.warehouse_worker import assert_never_opened, files_open_under

pytestmark = pytest.mark.browser
SUBJECT = "email=ann.subject@example.org"
RECORDS = 8  # the subject's
APPROVE = "Approve and erase"


def _log_in(context, url: str, username: str):
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(url)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    return page


def _previewed(page, place: str):
    return page.locator(f'#places tr[data-place="{place}"] td.previewed')


def test_an_officer_files_a_second_approves_and_the_certificate_downloads(archive, warehouse_worker, web, browser,
                                                                          tmp_path):
    now_ms = int(T0.timestamp() * 1000)
    add(archive, generate(200, seed=5, now_ms=now_ms, spread_ms=3 * DAY_MS))
    add(archive, [subject_entry(i, now_ms - i * 3_600_000) for i in range(RECORDS)])
    warehouse_worker.manage("archive", "export", "--drain")
    user_in("Compliance Officer", "officer_a")
    user_in("Compliance Officer", "officer_b")

    # Officer A files the request and submits it.
    a_context = browser.new_context(viewport={"width": 1280, "height": 900})
    a = _log_in(a_context, web.url + "/compliance/", "officer_a")
    a.locator("#nav").get_by_role("link", name="Erasure").click()
    expect(a.get_by_role("heading", name="Erasure requests")).to_be_visible()
    a.get_by_role("button", name="New request").click()
    expect(a.get_by_role("heading", name="New erasure request")).to_be_visible()
    expect(a.locator("#erasure-form")).to_contain_text("customer_id, email, user_id")
    a.get_by_label("Subjects").fill(SUBJECT)
    a.get_by_label("Legal basis").fill("GDPR art. 17(1)(a)")
    a.get_by_label("Reason").fill("data subject request DSR-42")
    a.get_by_role("button", name="Submit").click()
    expect(a.get_by_role("heading", name=re.compile(r"Erasure request ER-\d+"))).to_be_visible()
    erasure = ErasureRequest.objects.get()
    assert a.url == f"{web.url}/compliance/erasure/{erasure.pk}/"

    # The worker counts; the page follows it and shows the preview when it is there.
    expect(_previewed(a, "warm")).to_have_text(str(RECORDS), timeout=90_000)
    expect(_previewed(a, "cold")).to_have_text(str(RECORDS))
    expect(_previewed(a, "stream")).to_have_text(str(RECORDS))  # exported, not trimmed yet: still in Redis
    expect(a.locator("#preview-files")).to_contain_text("files in the table")
    expect(a.locator("#held-none")).to_be_visible()
    expect(a.locator("#criteria")).to_contain_text(SUBJECT)
    expect(a.locator("#approval-state")).to_have_text("Pending")
    expect(a.locator("#cannot-decide")).to_contain_text("You asked for this")
    expect(a.get_by_role("button", name=APPROVE)).to_have_count(0)
    expect(a.get_by_role("button", name="Reject")).to_have_count(0)
    a.screenshot(path="/tmp/erasure-submitted.png", full_page=True)

    # Officer B, in a browser of their own, finds it on the compliance home and approves it.
    b_context = browser.new_context(viewport={"width": 1280, "height": 900})
    b = _log_in(b_context, web.url + "/compliance/", "officer_b")
    b.locator("#open-erasures").get_by_role("link", name=erasure.reference).click()
    expect(_previewed(b, "warm")).to_have_text(str(RECORDS))
    b.get_by_role("button", name=APPROVE).click()
    expect(b.get_by_role("status")).to_contain_text("approved: it runs on the worker now")
    expect(b.locator("#erasure-state")).to_contain_text("Completed", timeout=120_000)
    erasure.refresh_from_db()
    assert erasure.state == ErasureState.COMPLETED, erasure.error
    for place in ("stream", "warm", "cold"):
        expect(b.locator(f'#places tr[data-place="{place}"] td.removed')).to_have_text(str(RECORDS))
    expect(b.locator('#places tr[data-place="cold"] td.verified')).to_have_text("clean")
    expect(b.locator("#verification")).to_contain_text("Verification passed")
    expect(b.locator("#steps td.state-done")).to_have_count(10)
    expect(b.locator("#criteria")).not_to_contain_text("ann.subject")  # ended: only hashes are kept
    b.screenshot(path="/tmp/erasure-completed.png", full_page=True)

    # The certificate: its page shows the reference and the hash; it downloads as HTML and PDF.
    b.get_by_role("link", name="Open the certificate").click()
    expect(b.get_by_role("heading", name=f"Certificate of erasure {erasure.reference}")).to_be_visible()
    expect(b.locator("#certificate-sha256")).to_have_text(erasure.certificate_sha256)
    expect(b.locator("#certificate")).to_contain_text("Verified:")
    with b.expect_download() as pdf_download:
        b.get_by_role("link", name="Download PDF").click()
    pdf = Path(tmp_path / "certificate.pdf")
    pdf_download.value.save_as(pdf)
    assert pdf_download.value.suggested_filename == f"{erasure.reference}-certificate.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")
    with b.expect_download() as html_download:
        b.get_by_role("link", name="Download HTML").click()
    html = Path(tmp_path / "certificate.html")
    html_download.value.save_as(html)
    assert erasure.certificate_sha256 in html.read_text() and erasure.reference in html.read_text()
    b_context.close()

    # Officer A sees it completed, approved by B, and still no approve button.
    a.reload()
    expect(a.locator("#erasure-state")).to_contain_text("Completed")
    expect(a.locator("#approval-decided-by")).to_have_text("officer_b")
    expect(a.get_by_role("button", name=APPROVE)).to_have_count(0)
    expect(a.locator("#certificate-sha256")).to_have_text(erasure.certificate_sha256)
    a_context.close()

    # The web process never opened the warehouse: not the worker's, not one of its own.
    assert not files_open_under(web.pid, warehouse_worker.chdb_path)
    assert_never_opened(web.chdb_path, "the web process")
