"""Screenshots of the dashboard's two layouts (docs/tui-120.svg, docs/tui-80.svg) from a run on demo data.

Every run writes them under the test's temporary directory and checks what they show; to renew the
copies in docs/, run this module with ARCHIVE_TUI_SCREENSHOTS=docs (docs/tui.md says how).
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

from apps.accounts.actors import Actor
from apps.tui.app import ArchiveDashboard
from tests.conftest import ROOT
from tests.tui.screen import settle


def test_screenshots_of_both_layouts(archived, tmp_path):
    async def scenario(width: int, height: int) -> Path:
        app = ArchiveDashboard(actor=Actor.cli(), refresh_s=3600)
        async with app.run_test(size=(width, height)) as pilot:
            await settle(app, pilot)
            return Path(app.save_screenshot(f"tui-{width}.svg", path=str(tmp_path)))

    wide, narrow = asyncio.run(scenario(120, 40)), asyncio.run(scenario(80, 24))
    for shot in (wide, narrow):
        svg = shot.read_text()
        for shown in ("Export", "Sinks", "Oldest", "Erasures", "Quit"):
            assert shown in svg, (shot.name, shown)
    assert "Records" in wide.read_text() and "Last" in wide.read_text()  # every panel fits at 120 x 40
    target = os.environ.get("ARCHIVE_TUI_SCREENSHOTS")
    if target:
        for shot in (wide, narrow):
            shutil.copy(shot, ROOT / target / shot.name)
