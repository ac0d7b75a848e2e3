"""Human durations for the command line and the admin: `90d`, `12h`, `2w`, `30m`, `45s`, or `1w2d`."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_PART = re.compile(r"(\d+)([smhdw])")
_WHOLE = re.compile(r"^(?:\d+[smhdw])+$")


class DurationError(ValueError):
    pass


def parse_duration(text: str) -> timedelta:
    """`90d` -> 90 days. Units: s, m, h, d, w; parts may be combined (`1w2d`). Zero is refused."""
    cleaned = (text or "").strip().lower().replace(" ", "")
    if not _WHOLE.match(cleaned):
        raise DurationError(
            f"not a duration: {text!r}; use a number and a unit (s, m, h, d, w), e.g. 90d, 12h, 2w"
        )
    total = timedelta()
    for amount, unit in _PART.findall(cleaned):
        total += timedelta(**{_UNITS[unit]: int(amount)})
    if total <= timedelta(0):
        raise DurationError(f"duration must be positive: {text!r}")
    return total


def format_duration(value: timedelta) -> str:
    """The shortest exact spelling: 90 days -> `90d`, 36 hours -> `36h`."""
    seconds = int(value.total_seconds())
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
