"""Keys and roles: 1-5 and Ctrl+1-5 choose tabs (a digit typed into a field stays there), Ctrl+R reads
again, Ctrl+Q quits; each tab shows only what the actor's role may see; `archive tui` refuses a bad --by."""

from __future__ import annotations

import asyncio

import pytest
from django.core.management import CommandError, call_command

from apps.accounts.actors import Actor
from apps.tui import data
from apps.tui.app import ArchiveDashboard
from tests.roles import user_in
from tests.tui.screen import after, screen_text, settle


def test_tabs_by_digit_and_ctrl_digit_refresh_and_quit(archived):
    seen = []

    async def scenario():
        app = ArchiveDashboard(actor=Actor.cli(), refresh_s=3600)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(app, pilot)
            for key in ("2", "ctrl+3", "ctrl+1", "5", "4"):
                await pilot.press(key)
                await pilot.pause()
                seen.append(app.active_tab)
            await pilot.press("2")
            footer = screen_text(app).splitlines()[-1]
            await pilot.click("#params")
            await pilot.press("3")  # typed into the parameters field: no tab change
            await pilot.pause()
            seen.append((app.active_tab, app.query_one("#params").value))
            await pilot.press("ctrl+1")  # works while typing
            await pilot.pause()
            seen.append(app.active_tab)
            before = app.refreshed_at
            await pilot.press("ctrl+r")
            await settle(app, pilot)
            seen.append(app.refreshed_at > before)
            await pilot.press("ctrl+q")
            await pilot.pause()
            seen.append(footer)
        seen.append(app.return_code)

    asyncio.run(scenario())
    assert seen[:5] == ["query", "schema", "status", "alerts", "compliance"]
    assert seen[5] == ("query", "3")
    assert seen[6] == "status"
    assert seen[7] is True
    footer = seen[8]
    for shown in ("^q Quit", "f5 Execute", "^r Refresh", "1 Status", "2 Query", "3 Schema", "4 Compliance", "5 Alerts"):
        assert shown in footer, footer
    assert seen[9] == 0  # Ctrl+Q ended the app


def _tabs_seen(actor) -> dict[str, str]:
    texts = {}

    async def scenario():
        app = ArchiveDashboard(actor=actor, refresh_s=3600)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(app, pilot)
            for number, tab in enumerate(("status", "query", "schema", "compliance", "alerts"), start=1):
                await pilot.press(str(number))
                await pilot.pause()
                texts[tab] = screen_text(app)

    asyncio.run(scenario())
    return texts


def test_what_each_role_sees(archived):
    analyst = Actor.of_user(user_in("Analyst", "ana"), via="cli")
    texts = _tabs_seen(analyst)
    assert "as ana (Analyst)" in texts["status"]
    assert after(texts["status"], "Oldest unexported") == ["none"]
    assert "Compliance: not permitted for your role" in texts["compliance"]
    assert "ER-" not in texts["compliance"]
    assert "queue_health: Queue health" in texts["query"]
    assert after(texts["schema"], "Current version")[0] == "2;"
    assert "job_id" in texts["schema"] and "subject_keys" in texts["schema"]

    viewer = Actor.of_user(user_in("Viewer", "vera"), via="cli")
    texts = _tabs_seen(viewer)
    assert "Query: not permitted for your role" in texts["query"]
    assert "queue_health" not in texts["query"]
    assert "Compliance: not permitted for your role" in texts["compliance"]

    nobody = Actor.of_user(user_in(None, "nemo"), via="cli")
    texts = _tabs_seen(nobody)
    assert "Status: not permitted for your role" in texts["status"]
    assert "Oldest unexported" not in texts["status"]
    assert "Alerts: not permitted for your role" in texts["alerts"]


def test_the_readers_check_the_role_themselves(archived):
    analyst = Actor.of_user(user_in("Analyst", "ana"), via="cli")
    with pytest.raises(data.NotPermitted, match="not permitted for your role"):
        data.compliance_figures(analyst)
    nobody = Actor.of_user(user_in(None, "nemo"), via="cli")
    for read in (data.status_figures, data.alert_figures, data.schema_figures):
        with pytest.raises(data.NotPermitted):
            read(nobody)


def test_archive_tui_refuses_an_unknown_user(db):
    with pytest.raises(CommandError, match="no portal user 'ghost'"):
        call_command("archive", "tui", "--by", "ghost")
    with pytest.raises(CommandError, match="--refresh"):
        call_command("archive", "tui", "--refresh", "0")
