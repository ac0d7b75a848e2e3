"""Browser fixtures: Debian's chromium driven by Playwright's sync API, one browser per module."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

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
