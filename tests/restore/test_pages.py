"""The jobs and restore pages with the test client (tasks eager): who sees and may do what, and bad input."""

from __future__ import annotations

import json
import time

import pytest

from apps.explorer.models import QueryRun
from apps.restore.models import Restore, RestoreState
from apps.retention.models import RetentionPolicy
from tests.roles import user_in


@pytest.fixture
def archived(archive):
    RetentionPolicy.objects.create(queue="orders", payload_mode="full")
    now = int(time.time() * 1000)
    for job in ("o-1", "o-2"):
        archive.redis.xadd(archive.stream, {"job_id": job, "queue": "orders", "outcome": "dead",
                                            "enqueue_time": str(now - 1000), "payload": json.dumps({"args": [job]})})
    from apps.exports.exporter import Exporter

    Exporter().run()
    yield archive
    for key in archive.redis.scan_iter(f"{archive.stream}:live*"):
        archive.redis.delete(key)


def test_viewers_and_compliance_officers_have_no_jobs_search(archived, client):
    for role in ("Viewer", "Compliance Officer"):
        client.force_login(user_in(role))
        assert client.get("/explorer/jobs/").status_code == 403
        assert client.get("/explorer/jobs/view/?job_id=o-1").status_code == 403


def test_an_analyst_searches_but_sees_no_restore_and_may_not_post_one(archived, client):
    client.force_login(user_in("Analyst", "ana"))
    found = client.get("/explorer/jobs/", {"search": "1", "queue": "orders", "outcome": "dead", "from": "-1d"},
                       follow=True)
    page = found.content.decode()
    assert 'data-job="o-1"' in page and 'data-job="o-2"' in page and "Restore this set" not in page
    assert client.post("/restores/new/", {"adapter": "list", "target": "x", "job_id": "o-1"}).status_code == 403
    assert not Restore.objects.exists()


def test_bad_filters_show_their_reasons_and_record_nothing(archived, client):
    client.force_login(user_in("Analyst", "ana"))
    page = client.get("/explorer/jobs/", {"search": "1", "outcome": "exploded", "tag": "nokey"}).content.decode()
    assert "outcome: Select a valid choice" in page and "tag: write key=value" in page
    assert not QueryRun.objects.exists()


def test_an_sre_previews_a_set_then_restores_exactly_that_count(archived, client):
    client.force_login(user_in("SRE", "sam"))
    searched = client.get("/explorer/jobs/", {"search": "1", "queue": "orders", "outcome": "dead", "from": "-1d"},
                          follow=True).content.decode()
    assert "Restore this set" in searched
    target = f"{archived.stream}:live"
    preview = client.post("/restores/new/", {"adapter": "list", "target": target, "queue": "orders", "outcome": "dead",
                                             "from": "-1d", "action": "preview"}, follow=True).content.decode()
    assert "Would restore <strong>2</strong>" in preview and "Restore these 2" in preview
    assert archived.redis.llen(target) == 0
    restore = Restore.objects.get()
    assert restore.state == RestoreState.PREVIEWED and restore.dry_run
    confirm = {"adapter": "list", "target": target, "action": "restore", "expected_count": "2", **{
        k: restore.selection[k] for k in ("queue", "outcome", "from", "to")}}
    done = client.post("/restores/new/", confirm, follow=True).content.decode()
    assert "Restored <strong>2</strong>" in done and archived.redis.llen(target) == 2


def test_a_refused_request_says_why_and_never_redirects_off_site(archived, client):
    client.force_login(user_in("SRE", "sam"))
    response = client.post("/restores/new/", {"adapter": "list", "job_id": "o-1", "back": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == "/restores/"
    listing = client.get("/restores/").content.decode()
    assert "needs --target NAME" in listing and not Restore.objects.exists()
