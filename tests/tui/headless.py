"""`python -m tests.tui.headless`: the dashboard in a process of its own, as `archive tui` runs it, driven by
the pilot: the Query tab's first template over all days, F5, then the rows it shows as JSON on stdout."""

from __future__ import annotations

import asyncio
import json
import os


async def _drive() -> dict:
    from apps.accounts.actors import Actor
    from apps.tui.app import ArchiveDashboard
    from tests.tui.screen import screen_text, settle

    app = ArchiveDashboard(actor=Actor.cli(), refresh_s=3600)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        status = screen_text(app)
        await pilot.press("2")
        await pilot.click("#params")
        await pilot.press(*"from=2000-01-01")
        await pilot.press("f5")
        await settle(app, pilot)
        table = app.query_one("#results")
        return {"status": status, "columns": [str(c.label) for c in table.columns.values()],
                "rows": [list(map(str, table.get_row_at(i))) for i in range(table.row_count)],
                "message": str(app.query_one("#query-status").render())}


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "archive_portal.settings.test")
    import django

    django.setup()
    print(json.dumps(asyncio.run(_drive())))
