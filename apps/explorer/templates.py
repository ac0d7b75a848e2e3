"""The query templates: named questions over the archive with typed parameters.

The questions about counts, failures, waits and durations read the rollups
(`apps.warehouse.rollups`: per hour, per day for workers), which answer over a week or a year
alike in milliseconds and keep their history after purges; their time range counts whole hours
(days), the hour holding `from` included. The questions about records themselves (what is held
now, one job's attempts) read `jobs_all`.

A template is SQL written here, checked by the same guard and run with the same caps as an
analyst's own text; its parameters are bound by the engine ({name:Type} placeholders), never
pasted into it. An optional parameter left empty drops its filter from the text, so the SQL a
run records is exactly the SQL that ran. Times accept an ISO date or moment (UTC unless it says
otherwise), `now`, or a moment relative to now such as `-7d`, `-24h` or `-30m`; a relative time
is fixed when the run is submitted, so a run repeated from the history asks the same question.

`job_lookup` reads the job index (`apps.warehouse.job_index`) on the worker first and binds the
days that hold the job, so only those days' files are read in the cold tier. `retention_status`
binds the days whose summary in `held_daily` is exact (`apps.warehouse.held`) and reads only the
others from `jobs_all`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone

from apps.records.contract import OUTCOMES


class TemplateError(ValueError):
    """A template or one of its parameters is wrong; the message says which and how."""


_RELATIVE = re.compile(r"^-(\d{1,5})([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_NAME = re.compile(r"^[A-Za-z0-9_.:@/-]{1,200}$")
_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")  # a tag key, or a payload key path (a.b.c)
SEARCH_MAX_ROWS = 1000  # a jobs search shows at most this many (newest first)
FAILED = ("failed", "timeout", "dead")  # the outcomes that count as failures
_FAILED_SQL = f"outcome IN ({', '.join(repr(o) for o in FAILED)})"


def parse_time(text: str, *, now: datetime | None = None) -> datetime:
    """`-7d`, `-24h`, `-30m`, `-2w`, `now`, `2026-11-01` or `2026-11-01T08:00:00+00:00`, as an aware UTC moment."""
    text = text.strip()
    now = now or datetime.now(timezone.utc)
    if text == "now":
        return now
    relative = _RELATIVE.match(text)
    if relative:
        return now - timedelta(**{_UNITS[relative.group(2)]: int(relative.group(1))})
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise TemplateError(f"{text!r} is not a time: use an ISO date or moment (2026-11-01, "
                            "2026-11-01T08:00:00Z), now, or -7d / -24h / -30m") from None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


@dataclass(frozen=True)
class Param:
    """One typed parameter. `clause` is the filter it adds to the template's WHERE (None: it is used
    in the text itself); an optional parameter left empty adds nothing."""

    name: str
    type: str  # datetime | queue | outcome | text | value | pair | payload | count
    label: str
    help: str
    default: str | None = None
    required: bool = False
    clause: str | None = None

    def convert(self, raw):
        """The value as the engine binds it, or TemplateError saying what is wrong."""
        text = str(raw).strip()
        if self.type == "datetime":
            return parse_time(text)
        if self.type == "outcome":
            if text not in OUTCOMES:
                raise TemplateError(f"{self.name} must be one of {', '.join(sorted(OUTCOMES))}, not {text!r}")
            return text
        if self.type == "count":
            if not text.isdigit() or not 1 <= int(text) <= SEARCH_MAX_ROWS:
                raise TemplateError(f"{self.name} must be a whole number from 1 to {SEARCH_MAX_ROWS}, not {text[:20]!r}")
            return str(int(text))
        if self.type in ("pair", "payload"):
            key, sep, value = text.partition("=")
            if not sep or not _KEY.match(key.strip()) or not value.strip() or len(value) > 200:
                raise TemplateError(f"{self.name}: write key=value (a key of letters, digits, _ . -; "
                                    f"a value of up to 200 characters), not {text[:40]!r}")
            return f"{key.strip()}={value.strip()}"
        if self.type == "value":
            if not 0 < len(text) <= 200 or not text.isprintable():
                raise TemplateError(f"{self.name}: 1-200 printable characters, not {text[:40]!r}")
            return text
        if not _NAME.match(text):
            raise TemplateError(f"{self.name}: {text[:40]!r} is not a {self.type} (1-200 letters, digits or ._:@/-)")
        return text

    def engine_values(self, value) -> dict:
        """What the engine binds for this parameter's checked value: a key=value pair binds two
        values (`<name>_key`, `<name>_value`; a payload key as a JSON path), a count a number."""
        if self.type in ("pair", "payload"):
            key, _, rest = value.partition("=")
            return {f"{self.name}_key": f"$.{key}" if self.type == "payload" else key, f"{self.name}_value": rest}
        if self.type == "count":
            return {self.name: int(value)}
        return {self.name: value}

    def as_dict(self) -> dict:
        return {"name": self.name, "type": self.type, "label": self.label, "help": self.help,
                "default": self.default, "required": self.required}


@dataclass(frozen=True)
class Template:
    name: str
    title: str
    description: str
    params: tuple[Param, ...]
    select: str  # the text before the filters: ends with the FROM clause
    tail: str = ""  # GROUP BY / ORDER BY / LIMIT after the filters
    always: tuple[str, ...] = ()  # filters that are always there
    prepare_with: Callable[[dict], dict] | None = field(default=None, compare=False)

    def bind(self, raw: dict) -> dict:
        """Check and convert the given parameters (text from a form or the CLI); apply defaults."""
        known = {p.name for p in self.params}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise TemplateError(f"{self.name} has no parameter {', '.join(unknown)}; it takes "
                                f"{', '.join(sorted(known)) or 'none'}")
        bound = {}
        for p in self.params:
            value = raw.get(p.name)
            if value is None or str(value).strip() == "":
                value = p.default
            if value is None:
                if p.required:
                    raise TemplateError(f"{self.name} needs {p.name} ({p.help})")
                continue
            bound[p.name] = p.convert(value)
        if "from" in bound and "to" in bound and bound["from"] >= bound["to"]:
            raise TemplateError(f"{self.name}: from must be before to")
        return bound

    def sql(self, bound: dict) -> str:
        """The text that runs for these bound parameters: only the filters of the given ones."""
        filters = [*self.always, *(p.clause for p in self.params if p.clause and p.name in bound)]
        where = f"\nWHERE {' AND '.join(filters)}" if filters else ""
        return f"{self.select}{where}{chr(10) + self.tail if self.tail else ''}"

    def prepare(self, bound: dict) -> dict:
        """The values the engine binds (on the worker): the bound parameters, plus what the template
        looks up first (job_lookup: the days that hold the job)."""
        types = {p.name: p for p in self.params}
        values = {}
        for name, value in bound.items():
            values.update(types[name].engine_values(value) if name in types else {name: value})
        if self.prepare_with is not None:
            values.update(self.prepare_with(bound))
        return values

    def as_dict(self) -> dict:
        return {"name": self.name, "title": self.title, "description": self.description,
                "params": [p.as_dict() for p in self.params]}


def _job_days(bound: dict) -> dict:
    from apps.warehouse.job_index import days_of_job

    return {"days": days_of_job(bound["job_id"])}


def _summarised_days(bound: dict) -> dict:
    from apps.warehouse.held import summarised_days

    return {"summarised_days": summarised_days()}


_T = "DateTime64(6, 'UTC')"
FROM = Param("from", "datetime", "From", "start of the time range (ISO time, or -7d, -24h)", default="-7d",
             clause=f"enqueue_time >= {{from:{_T}}}")
TO = Param("to", "datetime", "To", "end of the time range, exclusive (empty: now)",
           clause=f"enqueue_time < {{to:{_T}}}")
QUEUE = Param("queue", "queue", "Queue", "only this queue (empty: every queue)", clause="queue = {queue:String}")
OUTCOME = Param("outcome", "outcome", "Outcome", "only this outcome (empty: every one)",
                clause="outcome = {outcome:String}")
JOB_ID = Param("job_id", "value", "Job id", "the producer's job id", required=True, clause="job_id = {job_id:String}")
# The jobs search (apps.explorer.filters.JobFilter maps its form, the CLI's flags and the API's query onto these).
SEARCH_PARAMS = (
    Param("from", "datetime", "From", "enqueued at or after (ISO time, or -7d, -24h)", default="-7d",
          clause=f"enqueue_time >= {{from:{_T}}}"),
    TO, QUEUE, OUTCOME,
    Param("worker", "value", "Worker", "only attempts this worker ran", clause="worker_id = {worker:String}"),
    Param("error_type", "value", "Error type", "exception class or error code", clause="error_type = {error_type:String}"),
    Param("tenant", "value", "Tenant", "only this tenant", clause="tenant_id = {tenant:String}"),
    Param("tag", "pair", "Tag", "a tag as key=value, e.g. region=eu-west-1",
          clause="tags[{tag_key:String}] = {tag_value:String}"),
    Param("trace_id", "value", "Trace id", "the distributed trace id", clause="trace_id = {trace_id:String}"),
    Param("job_id", "value", "Job id", "the producer's job id", clause="job_id = {job_id:String}"),
    Param("payload", "payload", "Payload key", "a key inside the payload sample as key=value (customer.country=DE); "
          "samples are redacted, so personal data is not found this way",
          clause="JSON_VALUE(payload_sample, {payload_key:String}) = {payload_value:String}"),
    Param("limit", "count", "Limit", f"at most this many attempts, newest first (1-{SEARCH_MAX_ROWS})", default="100"),
)
SEARCH_COLUMNS = ("job_id", "retries", "queue", "outcome", "enqueue_time", "start_time", "end_time", "worker_id",
                  "error_type", "tenant_id", "trace_id", "payload_size", "tags")


def _over(param: Param, column: str) -> Param:
    """The time parameter filtering a rollup's `hour` or `day` column: whole hours (days) count."""
    if param.name == "from":
        start = "toStartOfHour" if column == "hour" else "toDate"
        return replace(param, clause=f"{column} >= {start}({{from:{_T}}})")
    return replace(param, clause=f"{column} < {{to:{_T}}}")


FROM_HOUR, TO_HOUR = _over(FROM, "hour"), _over(TO, "hour")
FROM_DAY, TO_DAY = _over(FROM, "day"), _over(TO, "day")
# From a rollup's t-digest (apps.warehouse.rollups): [p50, p95].
_DIGEST = "quantilesTDigestMerge(0.5, 0.95)(r.duration_ms)"
_ROLLUP_NOTE = " From the rollups, so it answers over any span fast; it counts whole {unit}s."

TEMPLATES: dict[str, Template] = {t.name: t for t in (
    Template(
        "queue_health", "Queue health",
        "Jobs, failure rate and duration percentiles per queue and outcome." + _ROLLUP_NOTE.format(unit="hour"),
        (FROM_HOUR, TO_HOUR, QUEUE, OUTCOME),
        "SELECT queue, outcome, sum(r.jobs) AS jobs,\n"
        f"       round(sumIf(r.jobs, {_FAILED_SQL}) / sum(r.jobs), 4) AS failure_rate,\n"
        f"       {_DIGEST} AS durations, durations[1] AS p50_ms, durations[2] AS p95_ms\n"
        "FROM queue_hourly_stats AS r",
        "GROUP BY queue, outcome\nORDER BY queue, outcome"),
    Template(
        "error_investigation", "Error investigation",
        "The most frequent error types of failed, timed-out and dead jobs (open a job for its message)."
        + _ROLLUP_NOTE.format(unit="hour"),
        (FROM_HOUR, TO_HOUR, QUEUE, OUTCOME),
        "SELECT queue, error_type, sum(r.failures) AS failures, uniqExactMerge(r.workers) AS workers,\n"
        "       min(r.first_seen) AS first_seen, max(r.last_seen) AS last_seen\n"
        "FROM error_patterns AS r",
        "GROUP BY queue, error_type\nORDER BY failures DESC\nLIMIT 50"),
    Template(
        "capacity_planning", "Capacity planning",
        "Jobs per hour and queue with the average wait before a worker started them."
        + _ROLLUP_NOTE.format(unit="hour"),
        (FROM_HOUR, TO_HOUR, QUEUE),
        "SELECT hour, queue, sum(r.jobs) AS jobs,\n"
        "       round(sum(r.wait_ms) / nullIf(sum(r.started), 0)) AS avg_wait_ms,\n"
        f"       {_DIGEST}[2] AS p95_ms\n"
        "FROM queue_hourly_stats AS r",
        "GROUP BY hour, queue\nORDER BY hour, queue"),
    Template(
        "job_lookup", "Job lookup",
        "Every archived attempt of one job, from whichever tier holds it (found through the job index); "
        "`tier` says whether the warm table holds the attempt, `day` is its partition in both tiers.",
        (JOB_ID,),
        "SELECT *,\n"
        "       if((job_id, retries) IN (SELECT job_id, retries FROM jobs_archive\n"
        "                                WHERE job_id = {job_id:String} AND toDate(enqueue_time) IN {days:Array(Date)}),\n"
        "          'warm', 'cold') AS tier,\n"
        "       toDate(enqueue_time) AS day\n"
        "FROM jobs_all",
        "ORDER BY retries, enqueue_time\nLIMIT 1000",
        always=("toDate(enqueue_time) IN {days:Array(Date)}",),
        prepare_with=_job_days),
    Template(
        "job_search", "Jobs search",
        "Archived attempts matching every filter given, newest first: the jobs page, `archive list` and the API run it.",
        SEARCH_PARAMS,
        f"SELECT {', '.join(SEARCH_COLUMNS)}, payload_sample != '' AS has_payload_sample\nFROM jobs_all",
        "ORDER BY enqueue_time DESC, job_id, retries\nLIMIT {limit:UInt32}"),
    Template(
        "worker_performance", "Worker performance",
        "Per worker and version: jobs, failure rate and duration percentiles." + _ROLLUP_NOTE.format(unit="day"),
        (FROM_DAY, TO_DAY, QUEUE),
        "SELECT worker_id, worker_version, sum(r.jobs) AS jobs,\n"
        "       round(sum(r.failed) / sum(r.jobs), 4) AS failure_rate,\n"
        f"       {_DIGEST} AS durations, durations[1] AS p50_ms, durations[2] AS p95_ms\n"
        "FROM worker_daily_stats AS r",
        "GROUP BY worker_id, worker_version\nORDER BY jobs DESC"),
    Template(
        "retention_status", "Retention status",
        "Per queue and outcome: records held now, the oldest and newest, and the age of the oldest in days. "
        "It counts whole days (UTC), the day holding `from` included: the days summarised in held_daily "
        "from there, the days written since its last refresh from jobs_all.",
        (FROM_DAY, TO_DAY, QUEUE, OUTCOME),
        "SELECT queue, outcome, sum(r.records) AS records, min(r.oldest) AS oldest, max(r.newest) AS newest,\n"
        "       dateDiff('day', min(r.oldest), now()) AS oldest_age_days\n"
        "FROM (SELECT day, queue, outcome, records, oldest, newest FROM held_daily FINAL\n"
        "      WHERE day IN {summarised_days:Array(Date)}\n"
        "      UNION ALL\n"
        "      SELECT toDate(enqueue_time) AS day, queue, outcome, count() AS records,\n"
        "             min(enqueue_time) AS oldest, max(enqueue_time) AS newest\n"
        "      FROM jobs_all WHERE toDate(enqueue_time) NOT IN {summarised_days:Array(Date)}\n"
        "      GROUP BY day, queue, outcome) AS r",
        "GROUP BY queue, outcome\nORDER BY queue, outcome",
        prepare_with=_summarised_days),
    Template(
        "dead_letter_reasons", "Dead-letter reasons",
        "Why jobs ended dead (out of retries): per queue and error type, with the retries spent."
        + _ROLLUP_NOTE.format(unit="hour"),
        (FROM_HOUR, TO_HOUR, QUEUE),
        "SELECT queue, error_type, sum(r.failures) AS dead_jobs,\n"
        "       round(sum(r.retries) / sum(r.failures), 2) AS avg_retries,\n"
        "       max(r.last_seen) AS last_seen\n"
        "FROM error_patterns AS r",
        "GROUP BY queue, error_type\nORDER BY dead_jobs DESC\nLIMIT 50",
        always=("outcome = 'dead'",)),
)}
