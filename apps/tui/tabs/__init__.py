"""The dashboard's tabs, one module each: what it lays out and how it shows its figures."""
