"""The erasure pages on records really archived (Celery eager: the preview and the run happen in this
process, as the worker would do them): the preview per place with the holds, four eyes on the
page, rejecting, a failed step retried, and the certificate as page, PDF, HTML and JSON."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
import rfc8785
from django.utils import timezone

from apps.accounts.actors import Actor
from apps.compliance.services import hold_place
from apps.erasure import execution
from apps.erasure.models import ErasureRequest, ErasureState
from tests.erasure.helpers import EMAIL, TYPED, add, export_all, subject_entry
from tests.retention.helpers import T0
from tests.roles import user_in

APPROVE = "Approve and erase"


def _archived(archive, n: int = 6) -> None:
    """`n` records of the subject, exported to both tiers."""
    now_ms = int(T0.timestamp() * 1000)
    add(archive, [subject_entry(i, now_ms - i * 3_600_000) for i in range(n)])
    export_all()


def _file(client, **fields):
    form = {"subjects": TYPED, "job_ids": "", "trace_ids": "", "payload_hashes": "", "tenant": "",
            "date_from": "", "date_to": "", "legal_basis": "GDPR art. 17(1)(a)", "reason": "ticket DSR-7",
            "due_on": (timezone.now() + timedelta(days=30)).date().isoformat(), "action": "submit", **fields}
    page = client.post("/compliance/erasure/new/", form, follow=True)
    assert page.status_code == 200, page.content.decode()
    return ErasureRequest.objects.latest("pk"), page.content.decode()


def _hash_shown(html: str) -> str:
    return re.search(r'name="content_hash" value="([0-9a-f]{64})"', html).group(1)


@pytest.fixture
def officers():
    return user_in("Compliance Officer", "officer_a"), user_in("Compliance Officer", "officer_b")


def test_four_eyes_on_the_page_then_the_certificate(archive, client, officers):
    _archived(archive, 6)
    a, b = officers
    hold = hold_place(actor=Actor.of_user(b), reason="litigation L-1", job_ids=["ann-0"])
    client.force_login(a)
    erasure, html = _file(client)
    assert "submitted: the worker counts its records" in html
    erasure.refresh_from_db()
    assert erasure.state == ErasureState.SUBMITTED and erasure.approval is not None
    # The preview, per place; the held record with its hold.
    assert erasure.preview["counts"]["warm"] == 5 and erasure.preview["counts"]["cold"] == 5
    assert re.search(r'data-place="warm">\s*<td>[^<]+</td>\s*<td class="previewed">5</td>', html)
    assert re.search(r'data-place="cold">\s*<td>[^<]+</td>\s*<td class="previewed">5</td>', html)
    assert f'href="/compliance/holds/{hold.pk}/">hold {hold.pk}</a>' in html
    assert re.search(r'<table id="held">.*<td>1</td>', html, re.S)
    assert 'id="preview-files"' in html and "files in the table" in html
    assert EMAIL.lower() in html.lower()  # open: the approver sees whom it erases
    # The requester: no approve button, ever.
    assert APPROVE not in html and 'id="decide"' not in html
    assert "You asked for this: a second compliance officer approves or rejects it." in html
    assert client.post(f"/compliance/erasure/{erasure.pk}/decide/",
                       {"decision": "approve", "content_hash": erasure.approval.content_hash}).status_code == 302
    erasure.refresh_from_db()
    assert erasure.state == ErasureState.SUBMITTED
    assert "cannot decide on it" in client.get(f"/compliance/erasure/{erasure.pk}/").content.decode()

    client.force_login(user_in("Analyst", "analyst"))
    assert client.get(f"/compliance/erasure/{erasure.pk}/").status_code == 403
    assert client.post(f"/compliance/erasure/{erasure.pk}/decide/", {"decision": "approve"}).status_code == 403

    # The second officer sees the buttons, bound to what they were shown.
    client.force_login(b)
    html = client.get(f"/compliance/erasure/{erasure.pk}/").content.decode()
    assert APPROVE in html and ">Reject</button>" in html
    assert _hash_shown(html) == erasure.approval.content_hash
    client.post(f"/compliance/erasure/{erasure.pk}/decide/", {"decision": "approve", "content_hash": "0" * 64})
    erasure.refresh_from_db()
    assert erasure.state == ErasureState.SUBMITTED
    page = client.post(f"/compliance/erasure/{erasure.pk}/decide/",
                       {"decision": "approve", "content_hash": _hash_shown(html)}, follow=True)
    html = page.content.decode()
    erasure.refresh_from_db()
    assert erasure.state == ErasureState.COMPLETED_HELD, (erasure.error, erasure.verification)
    assert "approved: it runs on the worker now" in html
    assert erasure.approval.decided_by == b
    # Ended: the steps done, the places verified, the identifiers gone from the page.
    assert html.count('class="state state-done"') == len(execution.STEPS)
    assert re.search(r'data-place="warm">.*?<td class="removed">5</td>\s*<td class="verified"><span class="ok">clean',
                     html, re.S)
    assert 'id="verification" class="ok">Verification passed' in html
    assert EMAIL.lower() not in html.lower() and "1: only their keyed hashes are kept" in html
    assert APPROVE not in html

    # The certificate: a page, a PDF, the HTML and the canonical JSON, all of one document.
    sha = erasure.certificate_sha256
    certificate = client.get(f"/compliance/erasure/{erasure.pk}/certificate/").content.decode()
    assert erasure.reference in certificate and sha in certificate
    pdf = client.get(f"/compliance/erasure/{erasure.pk}/certificate/?format=pdf")
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert pdf["Content-Disposition"] == f'attachment; filename="{erasure.reference}-certificate.pdf"'
    standalone = client.get(f"/compliance/erasure/{erasure.pk}/certificate/?format=html")
    assert standalone["Content-Disposition"].startswith("attachment;") and sha in standalone.content.decode()
    document = client.get(f"/compliance/erasure/{erasure.pk}/certificate/?format=json")
    assert document["Content-Type"] == "application/json"
    assert document.content == rfc8785.dumps(erasure.certificate)
    assert hashlib.sha256(document.content).hexdigest() == sha
    home = client.get("/compliance/").content.decode()
    assert f'href="/compliance/erasure/{erasure.pk}/certificate/">{erasure.reference}</a>' in home

    # The requester, afterwards: the decision, still no button.
    client.force_login(a)
    html = client.get(f"/compliance/erasure/{erasure.pk}/").content.decode()
    assert "officer_b" in html and APPROVE not in html and 'id="certificate-links"' in html


def test_a_rejection_needs_a_reason_and_ends_the_request(archive, client, officers):
    _archived(archive, 2)
    a, b = officers
    client.force_login(a)
    erasure, _ = _file(client)
    client.force_login(b)
    page = client.post(f"/compliance/erasure/{erasure.pk}/decide/", {"decision": "reject", "reason": ""}, follow=True)
    assert "Say why it is rejected." in page.content.decode()
    page = client.post(f"/compliance/erasure/{erasure.pk}/decide/",
                       {"decision": "reject", "reason": "not our data subject"}, follow=True)
    erasure.refresh_from_db()
    assert erasure.state == ErasureState.REJECTED and erasure.scrubbed
    html = page.content.decode()
    assert "rejected: nothing is erased" in html and "not our data subject" in html
    assert EMAIL.lower() not in html.lower() and APPROVE not in html


def test_a_failed_step_is_shown_and_retried_from_the_page(archive, client, officers, monkeypatch):
    _archived(archive, 3)
    a, b = officers
    client.force_login(a)
    erasure, _ = _file(client)

    def broken(run):
        raise RuntimeError("the copies' bucket is unreachable")

    monkeypatch.setitem(execution._RUN, "copies", broken)
    client.force_login(b)
    html = client.get(f"/compliance/erasure/{erasure.pk}/").content.decode()
    client.post(f"/compliance/erasure/{erasure.pk}/decide/", {"decision": "approve", "content_hash": _hash_shown(html)})
    erasure.refresh_from_db()
    assert erasure.state == ErasureState.FAILED and erasure.step == "copies"
    html = client.get(f"/compliance/erasure/{erasure.pk}/").content.decode()
    assert 'class="state state-failed">failed' in html and "the copies&#x27; bucket is unreachable" in html
    assert ">Retry</button>" in html

    client.force_login(user_in("Analyst", "analyst"))
    assert client.post(f"/compliance/erasure/{erasure.pk}/retry/").status_code == 403
    monkeypatch.undo()
    client.force_login(b)
    page = client.post(f"/compliance/erasure/{erasure.pk}/retry/", follow=True)
    erasure.refresh_from_db()
    assert erasure.state == ErasureState.COMPLETED, (erasure.error, erasure.verification)
    assert erasure.attempts == 2
    assert "runs again on the worker" in page.content.decode()
