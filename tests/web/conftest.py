"""Browser fixtures: Debian's chromium driven by Playwright's sync API, one browser per module, and
`web`: the portal served by its own process (as `make run` serves it), sending work to the test's worker."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from apps.lake.seaweedfs import free_port
from tests.conftest import ROOT, dies_with_this_process
from tests.warehouse_worker import dispatch_env

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    """One headless chromium for the tests of a module; a missing chromium fails them (never skips).

    Playwright's sync API keeps an asyncio loop *running* in this thread (it switches greenlets
    while the loop stays marked as running), so from now on Django would raise
    SynchronousOnlyOperation for every ORM call the tests and the fixtures make in this thread
    (create_user, Exporter().run(), the transactional_db flush at teardown...). Doing all ORM work
    before Playwright starts is not possible here: the tests interleave browser steps with ORM
    work. The loop only runs while we are blocked inside a Playwright call, so no coroutine ever
    touches the ORM concurrently, and lifting the check is safe. It is lifted only for as long as
    Playwright runs (set here, restored after it stops) instead of at import time, so the other
    test modules of the same pytest process keep Django's safety check.
    """
    if not CHROMIUM.exists() and shutil.which("chromium") is None:
        pytest.fail(
            "Debian's chromium is missing: apt-get install -y chromium "
            "(Playwright's own browser download does not work here)"
        )
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as p:
            chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
            try:
                yield chromium
            finally:
                chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def browser_page(browser):
    """A page in a fresh context (own cookies, so own session) for each test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def web(archive, warehouse_worker, tmp_path):
    """`manage.py runserver` as `make run` starts it, sending work to the test's worker."""
    port = free_port()
    chdb_path = tmp_path / "web-chdb"
    log = (tmp_path / "web.log").open("w")
    proc = subprocess.Popen([sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"], cwd=ROOT,
                            env=dispatch_env(archive, queue=warehouse_worker.queue, chdb_path=chdb_path),
                            stdout=log, stderr=subprocess.STDOUT, preexec_fn=dies_with_this_process())
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}/login/", timeout=2)
            break
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "web.log").read_text()
            time.sleep(0.3)
    yield type("Web", (), {"url": url, "pid": proc.pid, "chdb_path": chdb_path})
    proc.terminate()
    proc.wait(20)
    log.close()
