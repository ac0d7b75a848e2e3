"""Running the dashboard headless (Textual's pilot) and reading what a person would see on the screen."""

from __future__ import annotations

import io

from rich.console import Console
from textual.color import Color


async def settle(app, pilot) -> None:
    """Wait until the refresh and query threads have finished and their figures are on the screen."""
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


def screen_text(app) -> str:
    """The screen as plain text, line by line, as the terminal shows it."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True, color_system="truecolor",
                      record=True, legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text(styles=False)


def error_color(app) -> Color:
    """The theme's colour for errors: what the dashboard turns red with."""
    return Color.parse(app.get_css_variables()["error"])


def lines_with(text: str, needle: str) -> list[str]:
    return [line for line in text.splitlines() if needle in line]


def after(text: str, label: str) -> list[str]:
    """The words that follow `label` on the first line that has it, up to the panel's border."""
    found = lines_with(text, label)
    assert found, f"{label!r} is not on the screen:\n{text}"
    return found[0].split(label, 1)[1].split("│")[0].split()
