"""The Schema tab: the applied versions of the record schema, and every field the tiers store."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Static

from apps.tui.data import SchemaFigures


class SchemaTab(Vertical):
    def compose(self) -> ComposeResult:
        yield Static("loading...", id="schema-summary")
        with Horizontal(classes="columns"):
            yield DataTable(id="versions", zebra_stripes=True, cursor_type="row")
            yield DataTable(id="fields", zebra_stripes=True, cursor_type="row")

    def on_mount(self) -> None:
        self.query_one("#versions", DataTable).add_columns("version", "fields", "added", "deprecated", "what changed")
        self.query_one("#fields", DataTable).add_columns("field", "kind", "null", "default", "added", "deprecated",
                                                         "meaning")
        self.query_one("#versions").border_title = "Versions"
        self.query_one("#fields").border_title = "Fields (as the tiers store them)"

    def show_refused(self, message: str) -> None:
        self.query_one(".columns").display = False
        self.query_one("#schema-summary", Static).update(Text(message, style="bold"))

    def show(self, figures: SchemaFigures) -> None:
        self.query_one(".columns").display = True
        current = figures.versions[-1]["version"] if figures.versions else "?"
        self.query_one("#schema-summary", Static).update(
            f"Current version {current}; {len(figures.fields)} fields stored (columns are never dropped).")
        versions = self.query_one("#versions", DataTable)
        versions.clear()
        versions.add_rows([[str(v["version"]), str(v["fields"]), ", ".join(v["added"]) or "-",
                            ", ".join(v["deprecated"]) or "-", v["doc"] or ""] for v in figures.versions])
        fields = self.query_one("#fields", DataTable)
        fields.clear()
        fields.add_rows([[f["name"], f["kind"], "yes" if f["nullable"] else "no",
                          "-" if f["default"] is None else str(f["default"]), str(f["added_in"]),
                          str(f["deprecated_in"] or "-"), f["doc"] or ""] for f in figures.fields])
