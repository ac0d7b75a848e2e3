"""Figures as the dashboard prints them: ages, sizes, moments and counts, short enough for 80 columns."""

from __future__ import annotations

from datetime import UTC, datetime


def age(seconds: float | None) -> str:
    if seconds is None:
        return "none"
    seconds = max(0.0, float(seconds))
    for limit, unit, size in ((120, "s", 1), (7200, "min", 60), (172800, "h", 3600)):
        if seconds < limit:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds / 86400:.0f} d"


def since(moment: datetime | None, now: datetime | None = None) -> str:
    """'4 min ago', or 'never'."""
    if moment is None:
        return "never"
    return f"{age(((now or datetime.now(UTC)) - moment).total_seconds())} ago"


def size(n: float | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # not reached: the loop returns at TiB


def count(n: int | None) -> str:
    return "-" if n is None else f"{n:,}"


def moment(value: datetime | None) -> str:
    return "-" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def clock(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%H:%M:%S UTC")
