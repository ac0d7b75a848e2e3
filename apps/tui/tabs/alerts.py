"""The Alerts tab: every alert condition the Prometheus rules check, firing or not, with its figure."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from apps.tui.data import AlertFigures


class AlertsTab(Vertical):
    def compose(self) -> ComposeResult:
        yield Static("loading...", id="alerts-summary")
        yield DataTable(id="alert-table", zebra_stripes=True, cursor_type="row")

    def on_mount(self) -> None:
        self.query_one("#alert-table", DataTable).add_columns("state", "alert", "severity", "now", "what it means", "runbook")

    def show_refused(self, message: str) -> None:
        self.query_one("#alert-table").display = False
        self.query_one("#alerts-summary", Static).update(Text(message, style="bold"))

    def show(self, figures: AlertFigures) -> None:
        summary = self.query_one("#alerts-summary", Static)
        if figures.error:
            summary.update(Text(f"Alerts could not be evaluated: {figures.error}", style="bold yellow"))
        else:
            firing = len(figures.firing)
            summary.update(Text(f"{firing} of {len(figures.alerts)} alert conditions firing",
                                style="bold red" if firing else "green"))
        table = self.query_one("#alert-table", DataTable)
        table.display = True
        table.clear()
        for alert in sorted(figures.alerts, key=lambda a: (not a.firing, a.name)):
            table.add_row(Text("FIRING", style="bold red") if alert.firing else Text("ok", style="green"),
                          Text(alert.name, style="bold red" if alert.firing else ""), alert.severity, alert.value,
                          alert.summary, alert.runbook)
