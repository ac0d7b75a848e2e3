"""The terminal dashboard's Textual app: five tabs, refreshed in worker threads, red while an alert fires.

Every read and every query run happens in a worker thread (`@work(thread=True)`), so the screen
never waits for PostgreSQL, Redis or the warehouse worker; the thread hands plain figures back
with `call_from_thread`. The app reads through `apps.tui.data` and runs queries through
`apps.tui.querying`, which use the portal's own selectors and services: it never opens the
embedded warehouse.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Footer, Input, Static, TabbedContent, TabPane, TextArea

from apps.accounts.actors import Actor
from apps.operations.alerts import AlertState
from apps.tui import data
from apps.tui import formatting as fmt
from apps.tui.querying import QueryOutcome, query_run
from apps.tui.tabs.alerts import AlertsTab
from apps.tui.tabs.compliance import ComplianceTab
from apps.tui.tabs.query import QueryTab
from apps.tui.tabs.schema import SchemaTab
from apps.tui.tabs.status import StatusTab

logger = logging.getLogger(__name__)

# Tab order: Ctrl+1..5 and 1..5 choose them.
TABS = ((data.STATUS_TAB, "Status"), (data.QUERY_TAB, "Query"), (data.SCHEMA_TAB, "Schema"),
        (data.COMPLIANCE_TAB, "Compliance"), (data.ALERTS_TAB, "Alerts"))
NARROW = 80  # columns: at this width or fewer the panels stack in one column


def _tab_bindings() -> list[Binding]:
    bindings = []
    for number, (_, title) in enumerate(TABS, start=1):
        # Ctrl+digit first (priority: it works even while typing); many terminals never send it, so the
        # plain digit does the same whenever no text field has the focus (the field takes the digit).
        bindings.append(Binding(f"ctrl+{number}", f"show_tab({number})", title, show=False, priority=True))
        bindings.append(Binding(str(number), f"digit_tab({number})", title))
    return bindings


class ArchiveDashboard(App):
    """`archive tui`: the actor's view of the archive, refreshed every `refresh_s` seconds."""

    TITLE = "Archive Portal"
    CSS_PATH = Path(__file__).with_name("app.tcss")
    ENABLE_COMMAND_PALETTE = False
    HORIZONTAL_BREAKPOINTS: ClassVar = [(0, "-narrow"), (NARROW + 1, "-wide")]
    BINDINGS: ClassVar = [
        Binding("f5", "execute", "Execute", priority=True),
        Binding("ctrl+r", "refresh", "Refresh", priority=True),
        Binding("ctrl+q", "quit", "Quit", priority=True),
        *_tab_bindings(),
    ]

    def __init__(self, *, actor: Actor, refresh_s: float = 5.0, templates: list[dict] | None = None) -> None:
        super().__init__()
        self.actor = actor
        self.refresh_s = refresh_s
        self.templates = data.templates_listed() if templates is None else templates
        self.access: data.Access | None = None
        self.firing: list[AlertState] = []
        self.refreshed_at: datetime | None = None
        self.refresh_error = ""
        self.query_running = False

    def compose(self) -> ComposeResult:
        with Horizontal(id="banner"):
            yield Static(self._banner_text(), id="banner-title")
            yield Static("", id="badge")
        with TabbedContent(initial=data.STATUS_TAB, id="tabs"):
            with TabPane("Status", id=data.STATUS_TAB):
                yield StatusTab(id="status-tab")
            with TabPane("Query", id=data.QUERY_TAB):
                yield QueryTab(self.templates, id="query-tab")
            with TabPane("Schema", id=data.SCHEMA_TAB):
                yield SchemaTab(id="schema-tab")
            with TabPane("Compliance", id=data.COMPLIANCE_TAB):
                yield ComplianceTab(id="compliance-tab")
            with TabPane("Alerts", id=data.ALERTS_TAB):
                yield AlertsTab(id="alerts-tab")
        yield Footer()

    def on_mount(self) -> None:
        self.set_interval(self.refresh_s, self.action_refresh)
        self.action_refresh()

    # --- keys -------------------------------------------------------------------------------------

    @property
    def active_tab(self) -> str:
        return self.query_one("#tabs", TabbedContent).active

    def action_show_tab(self, number: int) -> None:
        # Let go of the focus first: a field left focused in the tab we leave would take its tab back.
        self.set_focus(None)
        self.query_one("#tabs", TabbedContent).active = TABS[number - 1][0]

    def action_digit_tab(self, number: int) -> None:
        self.action_show_tab(number)

    def action_refresh(self) -> None:
        self.gather()

    def action_execute(self) -> None:
        if self.active_tab != data.QUERY_TAB or self.query_running:
            return
        tab = self.query_one("#query-tab", QueryTab)
        self.query_running = True
        tab.show_running()
        self.execute(tab.request())

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "execute":
            return self.active_tab == data.QUERY_TAB
        if action == "digit_tab" and isinstance(self.focused, (Input, TextArea)):
            return None  # shown dimmed: the text field takes the digit
        return True

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self.refresh_bindings()

    # --- work in threads --------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="refresh")
    def gather(self) -> None:
        """Every tab's figures, for what the actor may see; one failing source does not hide the others."""
        readers = ((data.STATUS_TAB, data.status_figures), (data.ALERTS_TAB, data.alert_figures),
                   (data.SCHEMA_TAB, data.schema_figures), (data.COMPLIANCE_TAB, data.compliance_figures))
        gathered: dict[str, object] = {}
        with data.database_thread():
            try:
                access = data.access_of(self.actor)
            except Exception as exc:  # the database is down: say so, try again at the next refresh
                logger.exception("the dashboard could not read who acts")
                self.call_from_thread(self._refresh_failed, f"{type(exc).__name__}: {exc}")
                return
            for tab, read in readers:
                try:
                    gathered[tab] = read(self.actor)
                except data.NotPermitted as exc:
                    gathered[tab] = exc
                except Exception as exc:  # shown on its tab; the dashboard keeps running
                    logger.exception("the dashboard could not read the %s tab", tab)
                    gathered[tab] = RuntimeError(f"{type(exc).__name__}: {exc}")
        self.call_from_thread(self._show, access, gathered)

    @work(thread=True, group="query")
    def execute(self, request: dict) -> None:
        with data.database_thread():
            try:
                outcome = query_run(actor=self.actor, **request)
            except Exception as exc:  # e.g. the worker did not answer in time
                logger.exception("the dashboard's query run failed")
                outcome = QueryOutcome(False, f"{type(exc).__name__}: {exc}")
        self.call_from_thread(self._show_query, outcome)

    # --- showing (UI thread) ----------------------------------------------------------------------

    def _show(self, access: data.Access, gathered: dict) -> None:
        self.access, self.refreshed_at, self.refresh_error = access, datetime.now(UTC), ""
        tabs = {data.STATUS_TAB: self.query_one(StatusTab), data.SCHEMA_TAB: self.query_one(SchemaTab),
                data.COMPLIANCE_TAB: self.query_one(ComplianceTab), data.ALERTS_TAB: self.query_one(AlertsTab)}
        for tab_id, widget in tabs.items():
            found = gathered.get(tab_id)
            if isinstance(found, Exception):
                widget.show_refused(str(found))
            elif found is not None:
                widget.show(found)
        if not access.query:
            self.query_one(QueryTab).show_refused(str(data.NotPermitted("Query")))
        alerts = gathered.get(data.ALERTS_TAB)
        status = self.query_one(StatusTab)
        if isinstance(alerts, data.AlertFigures):
            status.show_alerts(alerts, alerts.error)
        else:  # not permitted (the Status tab says so already), or the rules could not be read
            status.show_alerts(None, "" if isinstance(alerts, data.NotPermitted) else str(alerts))
        self._show_firing(alerts.firing if isinstance(alerts, data.AlertFigures) else [])

    def _show_firing(self, firing: list[AlertState]) -> None:
        """The Status tab's title and the banner's badge turn red while any alert fires."""
        self.firing = firing
        tab = self.query_one("#tabs", TabbedContent).get_tab(data.STATUS_TAB)
        tab.label = f"Status ({len(firing)} firing)" if firing else "Status"
        tab.set_class(bool(firing), "-firing")
        badge = self.query_one("#badge", Static)
        badge.update(f" {len(firing)} alert{'s' if len(firing) != 1 else ''} firing " if firing else " no alert firing ")
        badge.set_class(bool(firing), "-firing")
        self.query_one("#banner-title", Static).update(self._banner_text())

    def _refresh_failed(self, message: str) -> None:
        self.refresh_error = message
        self.query_one("#banner-title", Static).update(self._banner_text())

    def _show_query(self, outcome: QueryOutcome) -> None:
        self.query_running = False
        self.query_one(QueryTab).show(outcome)

    def _banner_text(self) -> Text:
        who = self.actor.label
        if self.access is not None and self.access.roles:
            who += f" ({', '.join(self.access.roles)})"
        text = Text.assemble(("Archive Portal", "bold"), f"  as {who}")
        if self.refresh_error:
            text.append(f"  refresh failed: {self.refresh_error}", style="bold red")
        elif self.refreshed_at is not None:
            text.append(f"  {fmt.clock(self.refreshed_at)}, every {self.refresh_s:g} s", style="dim")
        return text
