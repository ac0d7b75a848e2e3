"""The terminal dashboard, `archive tui`: status, query runs, schema and compliance in a Textual app (docs/tui.md)."""
