"""The Status tab: export health per sink, lag and pending, throughput, records and bytes per tier,
dead letters, the last retention run, and every alert that fires (in red)."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Grid, Vertical, VerticalScroll
from textual.widgets import Sparkline, Static

from apps.operations.alerts import LAG_MAX_S
from apps.tui import formatting as fmt
from apps.tui.data import AlertFigures, StatusFigures


def _pairs(rows: list[tuple[str, str | Text]]) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column()
    for label, value in rows:
        grid.add_row(label, value)
    return grid


def _flag(text: str, bad: bool, warn: bool = False) -> Text:
    return Text(text, style="bold red" if bad else "yellow" if warn else "green")


# The panel that shows the figure an alert is about: it turns red while the alert fires. Alerts with no
# panel here (the audit chain, a schema migration) are in the red list at the top only.
PANEL_OF_ALERT = {
    "ArchiveExportLagging": "panel-export",
    "ArchiveErasureOverdue": "panel-export",
    "ArchiveExportErrors": "panel-sinks",
    "ArchiveStorageFilling": "panel-tiers",
    "ArchiveRetentionStale": "panel-retention",
}


class StatusTab(VerticalScroll):
    """Panels side by side when wide, one column at 80 columns or fewer (the app's `-narrow` class)."""

    def compose(self) -> ComposeResult:
        yield Static("", id="status-note")
        yield Static("", id="alerts-firing")
        with Grid(id="status-panels", classes="panels"):
            yield Static("loading...", id="panel-export", classes="panel")
            yield Static("loading...", id="panel-sinks", classes="panel")
            with Vertical(id="panel-throughput", classes="panel"):
                yield Sparkline([], id="throughput", summary_function=max)
                yield Static("", id="throughput-caption")
            yield Static("loading...", id="panel-tiers", classes="panel")
            yield Static("loading...", id="panel-retention", classes="panel")

    def on_mount(self) -> None:
        titles = {"panel-export": "Export", "panel-sinks": "Sinks", "panel-throughput": "Throughput (jobs per hour, 24 h)",
                  "panel-tiers": "Records and bytes per tier", "panel-retention": "Last retention run"}
        for panel_id, title in titles.items():
            self.query_one(f"#{panel_id}").border_title = title

    def show_refused(self, message: str) -> None:
        self.query_one("#status-panels").display = False
        self.query_one("#status-note", Static).update(Text(message, style="bold"))
        self.query_one("#status-note").add_class("-shown")

    def show_alerts(self, alerts: AlertFigures | None, error: str = "") -> None:
        """Red, one line per firing alert; nothing when none fires."""
        box = self.query_one("#alerts-firing", Static)
        firing = alerts.firing if alerts else []
        self.set_class(bool(firing), "-firing")
        if error:
            box.update(Text(f"Alerts could not be evaluated: {error}", style="bold yellow"))
        elif firing:
            lines = Text()
            for i, alert in enumerate(firing):
                lines.append(("\n" if i else "") + f"FIRING {alert.name}", style="bold")
                lines.append(f"  {alert.summary} ({alert.value})")
            box.update(lines)
        else:
            box.update("")
        box.set_class(bool(firing), "-firing")
        box.set_class(bool(firing or error), "-shown")
        red = {PANEL_OF_ALERT.get(a.name) for a in firing}
        for panel in self.query(".panel"):
            panel.set_class(panel.id in red, "-firing")

    def show(self, figures: StatusFigures) -> None:
        self.query_one("#status-panels").display = True
        self.query_one("#status-note", Static).update("")
        self.query_one("#status-note").remove_class("-shown")
        self._export(figures)
        self._sinks(figures)
        self._throughput(figures)
        self._tiers(figures)
        self._retention(figures)

    def _export(self, figures: StatusFigures) -> None:
        panel = self.query_one("#panel-export", Static)
        status = figures.export
        if status is None:
            panel.update(Text(figures.export_error or "no figures", style="bold red"))
            return
        lagging = bool(status.oldest_unexported_age_s and status.oldest_unexported_age_s > LAG_MAX_S)
        panel.update(_pairs([
            ("Stream", f"{status.stream} ({fmt.count(status.stream_length)} entries)"),
            ("Lag (not yet read)", fmt.count(status.group_lag) if status.group_lag is not None else "?"),
            ("Pending (in flight)", fmt.count(status.pending)),
            ("Oldest unexported", _flag(fmt.age(status.oldest_unexported_age_s), lagging)),
            ("Dead letters", _flag(fmt.count(status.dead_letters), False, warn=bool(status.dead_letters))),
            ("Last batch", f"{fmt.count(status.last_batch_records)} records, {fmt.since(status.last_batch_time)}"
             if status.last_batch_at else "no batch yet"),
            ("Erasures overdue", _flag(fmt.count(figures.erasures_overdue), bool(figures.erasures_overdue))),
        ]))

    def _sinks(self, figures: StatusFigures) -> None:
        panel = self.query_one("#panel-sinks", Static)
        if figures.export is None:
            panel.update(Text(figures.export_error or "no figures", style="bold red"))
            return
        table = Table(box=None, padding=(0, 1), show_edge=False, header_style="dim")
        for column in ("sink", "state", "today", "last written"):
            table.add_column(column, no_wrap=column != "state")
        for sink in figures.sinks:
            state = Text(sink.state, style="dim" if not sink.enabled else "yellow" if sink.waiting else "green")
            table.add_row(sink.label, state, fmt.count(sink.records_today), fmt.since(sink.last_written))
        unfinished = figures.export.unfinished_batches
        note = f"{unfinished} batch(es) not finished; the exporter resumes them" if unfinished else ""
        panel.update(Group(table, Text(note, style="yellow")) if note else table)

    def _throughput(self, figures: StatusFigures) -> None:
        self.query_one("#throughput", Sparkline).data = figures.throughput or [0]
        caption = self.query_one("#throughput-caption", Static)
        if figures.throughput_at is None:
            caption.update(Text("no figures yet: the worker computes them every minute", style="dim"))
            return
        peak = max(figures.throughput, default=0)
        caption.update(f"{fmt.count(figures.throughput_jobs)} jobs, peak {fmt.count(peak)}/h; "
                       f"computed {fmt.since(figures.throughput_at)}")

    def _tiers(self, figures: StatusFigures) -> None:
        panel = self.query_one("#panel-tiers", Static)
        if figures.tiers is None:
            panel.update(Text("no figures yet: the worker computes them (archive stats)", style="dim"))
            return
        table = Table(box=None, padding=(0, 1), show_edge=False, header_style="dim")
        for column in ("tier", "records", "stored", "as JSON", "ratio"):
            table.add_column(column, justify="left" if column == "tier" else "right", no_wrap=True)
        for name, label in (("warm", "warm"), ("cold", "cold")):
            tier = figures.tiers.get(name) or {}
            ratio = tier.get("compression_ratio")
            table.add_row(label, fmt.count(tier.get("records")), fmt.size(tier.get("stored_bytes")),
                          fmt.size(tier.get("raw_json_bytes")), f"{ratio}x" if ratio else "-")
        note = Text(f"warm: ClickHouse, cold: Iceberg; computed {fmt.since(figures.tiers_at)}", style="dim")
        panel.update(Group(table, note))

    def _retention(self, figures: StatusFigures) -> None:
        panel = self.query_one("#panel-retention", Static)
        run = figures.retention
        if run is None:
            panel.update(Text("no retention run yet", style="dim"))
            return
        rows = [("Run", f"{run.run_id}{' (dry run)' if run.dry_run else ''} by {run.actor or '?'}"),
                ("State", _flag(run.state, bool(run.error), warn=run.finished_at is None)),
                ("Started", f"{fmt.moment(run.started_at)} ({fmt.since(run.started_at)})"),
                ("Purged / tiered", f"{fmt.count(run.purged)} / {fmt.count(run.tiered)} records")]
        if run.alerts:
            rows.append(("Needs a person", _flag(f"{run.alerts} alert(s)", True)))
        if run.error:
            rows.append(("Error", _flag(run.error, True)))
        panel.update(_pairs(rows))
