"""The Status tab on real data: the export's figures, the worker's snapshots, the layout at 120 and 80
columns, and red while an alert fires."""

from __future__ import annotations

import asyncio
import re
from datetime import date, timedelta

from apps.tui.app import ArchiveDashboard
from tests.actors import TESTS
from tests.roles import user_in
from tests.tui.conftest import DEMO_JOBS
from tests.tui.screen import after, error_color, screen_text, settle


def _seen(actor, size, *, then=None):
    """Run the dashboard at `size`, let its first refresh land, and return the screen text and what `then`
    (an async function of the app and the pilot) returned."""
    found = {}

    async def scenario():
        app = ArchiveDashboard(actor=actor, refresh_s=3600)
        async with app.run_test(size=size) as pilot:
            await settle(app, pilot)
            found["text"] = screen_text(app)
            if then is not None:
                found["then"] = await then(app, pilot)

    asyncio.run(scenario())
    return found["text"], found.get("then")


def test_status_shows_the_exported_records_and_the_workers_snapshots(archived):
    text, _ = _seen(TESTS, (120, 40))
    assert "as tests (operator)" in text
    assert after(text, "Lag (not yet read)") == ["0"]
    assert after(text, "Pending (in flight)") == ["0"]
    assert after(text, "Oldest unexported") == ["none"]
    assert after(text, "Dead letters") == ["0"]
    assert after(text, "Last batch")[:2] == [str(DEMO_JOBS), "records,"]
    for sink in ("ClickHouse (warm)", "Iceberg (cold)"):
        assert after(text, sink)[:2] == ["ok", str(DEMO_JOBS)]
    for tier in ("warm", "cold"):  # records per tier from the stats snapshot, then its stored bytes
        records, stored, unit = after(text, f"  {tier}  ")[:3]
        assert records == str(DEMO_JOBS) and float(stored) > 0 and unit == "KiB", tier
    assert f"{DEMO_JOBS} jobs, peak" in text  # the throughput sparkline's caption: the 24 h snapshot
    assert "Previewed (dry run, nothing changed)" in text  # the last retention run
    assert "no alert firing" in text


def test_panels_side_by_side_when_wide_and_one_column_at_80(archived):
    async def regions(app, pilot):
        seen = {}
        for width in (120, 81, 80):
            await pilot.resize_terminal(width, 40)
            await settle(app, pilot)
            export, sinks = app.query_one("#panel-export").region, app.query_one("#panel-sinks").region
            seen[width] = (export, sinks, screen_text(app))
        return seen

    _, seen = _seen(TESTS, (120, 40), then=regions)
    for width in (120, 81):
        export, sinks, _ = seen[width]
        assert sinks.y == export.y and sinks.x >= export.right, (width, export, sinks)
    export, sinks, text = seen[80]
    assert sinks.x == export.x and sinks.y >= export.bottom, (export, sinks)
    assert export.width >= 70  # one column over the whole width
    assert max(len(line.rstrip()) for line in text.splitlines()) <= 80


def test_an_overdue_erasure_turns_the_status_red(archived):
    from apps.erasure.models import ErasureRequest, ErasureState

    officer = user_in("Compliance Officer", "cora")
    late = ErasureRequest.objects.create(requested_by=officer, reason="ticket 7", legal_basis="art. 17",
                                         due_on=date.today() - timedelta(days=3), criteria={"job_ids": ["j-1"]},
                                         state=ErasureState.SUBMITTED)

    async def colours(app, pilot):
        tab = app.query_one("#tabs").get_tab("status")
        found = {"badge": app.query_one("#badge").styles.background, "tab": tab.styles.background,
                 "export_border": app.query_one("#panel-export").styles.border_top[1],
                 "sinks_border": app.query_one("#panel-sinks").styles.border_top[1]}
        await pilot.press("5")
        await pilot.pause()
        found["alerts"] = screen_text(app)
        await pilot.press("4")
        await pilot.pause()
        found["compliance"] = screen_text(app)
        found["red"] = error_color(app)
        return found

    text, found = _seen(Actor_cli(), (120, 40), then=colours)
    red = found["red"]
    assert "1 alert firing" in text and "Status (1 firing)" in text
    assert "FIRING ArchiveErasureOverdue  An erasure request is open past its due date (1 overdue)" in text
    assert found["badge"] == red and found["tab"] == red  # the Status tab is the one shown: red behind its title
    assert found["export_border"] == red  # the panel that shows the overdue count
    assert found["sinks_border"] != red
    assert after(text, "Erasures overdue") == ["1"]
    alert_lines = [line for line in found["alerts"].splitlines() if re.search(r"\bArchive[A-Z]", line)]
    assert len(alert_lines) == 7  # every condition, firing or not
    assert "FIRING" in alert_lines[0] and "ArchiveErasureOverdue" in alert_lines[0], alert_lines
    assert all("FIRING" not in line for line in alert_lines[1:])
    assert "1 of 7 alert conditions firing" in found["alerts"]
    request_row = after(found["compliance"], late.reference)
    assert request_row[-2:] == ["3", "over"], found["compliance"]
    assert "1 open erasure request(s), 1 overdue" in found["compliance"]


def Actor_cli():
    from apps.accounts.actors import Actor

    return Actor.cli()
