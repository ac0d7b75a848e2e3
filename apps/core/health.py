"""Health of the portal's dependencies and of the export, as one small report."""

from __future__ import annotations

from django.db import connection

from apps.core import preflight

# Lag beyond this many seconds marks the export as degraded.
EXPORT_MAX_AGE_S = 300


def health_report() -> dict:
    components = {}
    try:
        connection.ensure_connection()
        components["postgresql"] = "ok"
    except Exception:
        components["postgresql"] = "down"
    components["redis"] = "ok" if preflight.check_redis().ok else "down"
    components["s3"] = "ok" if preflight.check_s3().ok else "down"
    export = "unknown"
    if components["redis"] == "ok" and components["postgresql"] == "ok":
        from apps.exports.selectors import export_status

        status = export_status()
        age = status.oldest_unexported_age_s
        export = "ok" if age is None or age < EXPORT_MAX_AGE_S else "lagging"
        components["export_oldest_unexported_age_s"] = age
    components["export"] = export
    down = [k for k, v in components.items() if v == "down"]
    overall = "down" if down else ("degraded" if export == "lagging" else "ok")
    return {"status": overall, "components": components}
