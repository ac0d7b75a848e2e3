"""The Compliance tab: open erasure requests (overdue ones in red) and active legal holds, each part
shown only to a role that may see it."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Static

from apps.tui.data import ComplianceFigures

NOT_PERMITTED = "not permitted for your role"


class ComplianceTab(Vertical):
    def compose(self) -> ComposeResult:
        yield Static("loading...", id="compliance-summary")
        with Horizontal(classes="columns"):
            with Vertical(id="requests-panel", classes="box"):
                yield Static("", id="requests-note")
                yield DataTable(id="requests", zebra_stripes=True, cursor_type="row")
            with Vertical(id="holds-panel", classes="box"):
                yield Static("", id="holds-note")
                yield DataTable(id="holds", zebra_stripes=True, cursor_type="row")

    def on_mount(self) -> None:
        self.query_one("#requests", DataTable).add_columns("request", "state", "due", "days left")
        self.query_one("#holds", DataTable).add_columns("hold", "what it keeps", "review")
        self.query_one("#requests-panel").border_title = "Open erasure requests"
        self.query_one("#holds-panel").border_title = "Active legal holds"

    def show_refused(self, message: str) -> None:
        self.query_one(".columns").display = False
        self.query_one("#compliance-summary", Static).update(Text(message, style="bold"))

    def show(self, figures: ComplianceFigures) -> None:
        self.query_one(".columns").display = True
        summary = []
        if figures.requests is not None:
            summary.append(Text(f"{len(figures.requests)} open erasure request(s), {figures.overdue} overdue",
                                style="bold red" if figures.overdue else ""))
        if figures.holds is not None:
            summary.append(Text(f"{len(figures.holds)} active hold(s), {figures.holds_review_overdue} due for review",
                                style="yellow" if figures.holds_review_overdue else ""))
        self.query_one("#compliance-summary", Static).update(Text("; ").join(summary))
        self._requests(figures)
        self._holds(figures)

    def _requests(self, figures: ComplianceFigures) -> None:
        table, note = self.query_one("#requests", DataTable), self.query_one("#requests-note", Static)
        table.display = bool(figures.requests)
        note.update(Text(NOT_PERMITTED, style="bold") if figures.requests is None
                    else "" if figures.requests else Text("none open", style="dim"))
        table.clear()
        for r in figures.requests or []:
            style = "bold red" if r["overdue"] else ""
            left = f"{-r['days_left']} over" if r["days_left"] < 0 else str(r["days_left"])
            table.add_row(Text(r["reference"], style=style), r["state"], Text(str(r["due_on"]), style=style),
                          Text(left, style=style))

    def _holds(self, figures: ComplianceFigures) -> None:
        table, note = self.query_one("#holds", DataTable), self.query_one("#holds-note", Static)
        table.display = bool(figures.holds)
        note.update(Text(NOT_PERMITTED, style="bold") if figures.holds is None
                    else "" if figures.holds else Text("no active hold", style="dim"))
        table.clear()
        for h in figures.holds or []:
            review = Text(str(h["review_on"]), style="yellow" if h["review_overdue"] else "")
            table.add_row(str(h["id"]), h["label"], review)
