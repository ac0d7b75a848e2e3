"""How the dashboard writes its figures: rates as percentages, durations and ages in readable units."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def percent(rate) -> str:
    """0.0425 as "4.25 %"; "–" where there is no rate (no jobs)."""
    return "–" if rate is None else f"{rate * 100:.2f} %"


@register.filter
def duration(ms) -> str:
    """Milliseconds as "340 ms", "1.2 s" or "3.5 min"; "–" where there is none."""
    if ms is None:
        return "–"
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    return f"{ms / 60_000:.1f} min"


@register.filter
def age(seconds) -> str:
    """Seconds as "42 s", "7 min", "3.5 h" or "2.0 d"; "none" for no age (nothing waiting)."""
    if seconds is None:
        return "none"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


@register.filter
def moment(iso) -> str:
    """An ISO moment as the worker stored it, as "2026-11-01 08:00" (UTC); "–" for none."""
    if not iso:
        return "–"
    from datetime import datetime, timezone

    return datetime.fromisoformat(str(iso)).astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M")
