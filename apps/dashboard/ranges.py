"""The dashboard's time ranges: how far back each reaches and how its charts bucket the hours.

Pure functions over plain datetimes (UTC), shared by the worker that computes the figures and the
tests that check them. A range counts whole hours, as the rollups hold them: from the hour holding
`now - length` up to and including the hour holding `now` (so "24 h" is 25 hourly buckets, the
newest one still filling). "All history" has no start: it begins at the oldest hour the rollups hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from apps.dashboard.models import DashboardRange

HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Span:
    key: str
    length: timedelta | None  # None: all history
    bucket: str  # a key of BUCKETS: the width of one point on the charts

    @property
    def label(self) -> str:
        return DashboardRange(self.key).label


# The width of a chart's point, and how ClickHouse puts a rollup hour (`r.hour`) into it. Fixed text
# chosen by the range, never input; 6 hours and weeks keep a chart at about 30-60 points.
BUCKETS = {
    "hour": (HOUR, "r.hour"),
    "6 hours": (6 * HOUR, "toStartOfInterval(r.hour, INTERVAL 6 HOUR)"),
    "day": (24 * HOUR, "toStartOfDay(r.hour)"),
    "week": (7 * 24 * HOUR, "toDateTime(toMonday(r.hour), 'UTC')"),
}

SPANS: dict[str, Span] = {span.key: span for span in (
    Span(DashboardRange.DAY, timedelta(hours=24), "hour"),
    Span(DashboardRange.WEEK, timedelta(days=7), "6 hours"),
    Span(DashboardRange.MONTH, timedelta(days=30), "day"),
    Span(DashboardRange.QUARTER, timedelta(days=90), "day"),
    Span(DashboardRange.ALL, None, "week"),
)}
DEFAULT = DashboardRange.DAY.value


def span_of(key: str) -> Span:
    try:
        return SPANS[key]
    except KeyError:
        raise ValueError(f"no dashboard range {key!r}; one of {', '.join(SPANS)}") from None


def floor(moment: datetime, bucket: str) -> datetime:
    """The start of the bucket holding `moment` (UTC), as ClickHouse's expression in BUCKETS computes it."""
    moment = moment.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)
    if bucket == "hour":
        return moment
    if bucket == "6 hours":
        return moment.replace(hour=moment.hour - moment.hour % 6)
    midnight = moment.replace(hour=0)
    if bucket == "day":
        return midnight
    if bucket == "week":
        return midnight - timedelta(days=midnight.weekday())
    raise ValueError(f"no bucket {bucket!r}; one of {', '.join(BUCKETS)}")


def window(span: Span, now: datetime) -> tuple[datetime | None, datetime]:
    """(first hour counted, or None for all history; the end, exclusive: the hour after the one holding now)."""
    until = floor(now, "hour") + HOUR
    return (floor(now - span.length, "hour") if span.length is not None else None), until


def bucket_starts(span: Span, first: datetime, until: datetime) -> list[datetime]:
    """Every bucket from the one holding `first` to the one holding the hour before `until`: a chart's x axis,
    empty buckets included."""
    step = BUCKETS[span.bucket][0]
    starts, at = [], floor(first, span.bucket)
    while at < until:
        starts.append(at)
        at += step
    return starts
