"""The Query tab: choose a template (with `K=V` parameters) or write SQL, F5 runs it as an audited query
run on the warehouse worker, and the rows appear in the table."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Input, Select, Static, TextArea

from apps.tui.querying import QueryOutcome

SQL = "-sql-"  # the Select's value for "my own SQL"


class QueryTab(Vertical):
    def __init__(self, templates: list[dict], **kwargs) -> None:
        super().__init__(**kwargs)
        self.templates = {t["name"]: t for t in templates}

    def compose(self) -> ComposeResult:
        options = [(f"{t['name']}: {t['title']}", name) for name, t in self.templates.items()]
        with Horizontal(id="query-form", classes="columns"):
            yield Select([("SQL (write it below)", SQL), *options], value=options[0][1] if options else SQL,
                         allow_blank=False, id="template")
            yield Input(placeholder="parameters: K=V K=V (e.g. queue=emails from=-7d)", id="params")
        yield Static("", id="template-help")
        yield TextArea("SELECT queue, count() AS jobs FROM jobs_all GROUP BY queue ORDER BY jobs DESC", id="sql")
        yield Static(Text("F5 runs it", style="dim"), id="query-status")
        yield DataTable(id="results", zebra_stripes=True)

    def on_mount(self) -> None:
        self._chosen(self.query_one("#template", Select).value)

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "template":
            self._chosen(event.value)

    def _chosen(self, value) -> None:
        template = self.templates.get(value)
        self.query_one("#sql").display = template is None
        self.query_one("#params").display = template is not None
        help_text = self.query_one("#template-help", Static)
        if template is None:
            help_text.update(Text("One SELECT over the tables your role may read, checked by the same guard "
                                  "as the console.", style="dim"))
            return
        params = ", ".join(f"{p['name']}{'' if p['required'] else '?'}"
                           + (f" (default {p['default']})" if p["default"] not in (None, "") else "")
                           for p in template["params"])
        help_text.update(Text.assemble(template["description"], ("\nparameters: " + (params or "none"), "dim")))

    def request(self) -> dict:
        """What F5 runs: {"template": name, "params_text": ...} or {"sql": text}."""
        value = self.query_one("#template", Select).value
        if value in self.templates:
            return {"template": value, "params_text": self.query_one("#params", Input).value}
        return {"sql": self.query_one("#sql", TextArea).text}

    def show_running(self) -> None:
        self.query_one("#query-status", Static).update(Text("running on the warehouse worker...", style="yellow"))

    def show_refused(self, message: str) -> None:
        for widget_id in ("#query-form", "#template-help", "#sql", "#results"):
            self.query_one(widget_id).display = False
        self.query_one("#query-status", Static).update(Text(message, style="bold"))

    def show(self, outcome: QueryOutcome) -> None:
        status = self.query_one("#query-status", Static)
        table = self.query_one("#results", DataTable)
        if not outcome.ok:
            status.update(Text(outcome.message, style="bold red"))
            return
        table.clear(columns=True)
        table.add_columns(*outcome.columns)
        table.add_rows([["" if v is None else str(v) for v in row] for row in outcome.rows])
        status.update(Text(outcome.message, style="green"))
