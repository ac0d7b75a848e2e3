"""Warm to cold: a (day, queue, outcome) group leaves ClickHouse only after the cold tier proves it holds it.

Per group past its policy's warm window: compare the record count and a checksum over record
ids (job_id, retries) in both tiers. Equal: write the `tier_moves` marker (from then on
`jobs_all` reads the group from the cold tier), then delete the group's warm rows. Different:
keep the group warm and raise an alert. A crash between any two steps is repaired by the next
run: a marker without deleted rows is simply evicted again, after the same check.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone

import pyarrow as pa

from django.conf import settings

from apps.core import faults
from apps.retention.resolution import PolicyBook
from apps.warehouse import client as ch

logger = logging.getLogger(__name__)
_GROUP = "toDate(enqueue_time) AS day, toString(queue) AS q, toString(outcome) AS o"
# The same expression on both tiers (the cold columns are Nullable): a record's identity.
_ID_HASH = "cityHash64(toString(assumeNotNull(job_id)), toInt32(ifNull(retries, 0)))"
_STATS = f"count() AS records, sum({_ID_HASH}) AS id_checksum"


@dataclass
class GroupMove:
    day: str
    queue: str
    outcome: str
    warm_records: int
    warm_checksum: int
    cold_records: int | None = None
    cold_checksum: int | None = None
    already_moved: bool = False
    verified: bool = False
    problem: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.day, self.queue, self.outcome)


@dataclass
class TieringPlan:
    as_of: str
    moves: list[GroupMove] = field(default_factory=list)
    bytes_per_row: dict[str, float] = field(default_factory=dict)

    @property
    def verified(self) -> list[GroupMove]:
        return [m for m in self.moves if m.verified]

    @property
    def failed(self) -> list[GroupMove]:
        return [m for m in self.moves if not m.verified]

    def summary(self) -> dict:
        days = sorted({m.day for m in self.verified})
        return {
            "groups": len(self.verified),
            "records": sum(m.warm_records for m in self.verified),
            "warm_bytes_estimate": int(sum(m.warm_records * self.bytes_per_row.get(m.day, 0.0)
                                           for m in self.verified)),
            "days": len(days),
            "oldest_day": days[0] if days else None,
            "newest_day": days[-1] if days else None,
            "queues": sorted({m.queue for m in self.verified}),
            "refused": [asdict(m) for m in self.failed],
        }


def warm_bytes_per_row() -> dict[str, float]:
    """Compressed bytes per row of each warm day partition (ISO day `YYYY-MM-DD` -> bytes/row)."""
    rows = ch.query(
        "SELECT partition, sum(bytes_on_disk), sum(rows) FROM system.parts WHERE database = {database:String} "
        "AND table = 'jobs_archive' AND active GROUP BY partition",
        tag="tiering", parameters={"database": ch.database()}).result_rows
    return {day: (b / r if r else 0.0) for day, b, r in rows}


def _partition_id(day: str) -> str:
    """The warm table's partition id of an ISO day (it is partitioned by toDate: `YYYYMMDD`)."""
    return day.replace("-", "")


def _rows(sql: str, **parameters) -> list[tuple]:
    return ch.query(sql, tag="tiering", parameters=parameters or None).result_rows


def _warm_groups() -> dict[tuple, tuple[int, int]]:
    rows = _rows(f"SELECT {_GROUP}, {_STATS} FROM {{db}}.jobs_archive GROUP BY day, q, o")
    return {(str(d), q, o): (int(n), int(h)) for d, q, o, n, h in rows}


def moved_groups() -> dict[tuple, tuple[int, int, datetime]]:
    """Markers written so far (in effect or not yet): group -> (records, id checksum, effective_at)."""
    rows = _rows("SELECT toString(day), toString(queue), toString(outcome), records, id_checksum, effective_at "
                 "FROM {db}.tier_moves FINAL")
    return {(d, q, o): (int(n), int(h), at) for d, q, o, n, h, at in rows}


def _cold_groups(first: date, last: date) -> dict[tuple, tuple[int, int]]:
    rows = _rows(
        f"SELECT {_GROUP}, {_STATS} FROM {{db}}.jobs_cold "
        "WHERE enqueue_time >= {first:DateTime64(6, 'UTC')} AND enqueue_time < {end:DateTime64(6, 'UTC')} "
        "GROUP BY day, q, o",
        first=datetime.combine(first, datetime.min.time()),
        end=datetime.combine(last + timedelta(days=1), datetime.min.time()),
    )
    return {(str(d), q, o): (int(n), int(h)) for d, q, o, n, h in rows}


def _warm_not_in_cold(move: GroupMove) -> int:
    """Warm records of the group that the cold tier lacks (late arrivals after a move are checked so)."""
    return int(_rows(
        f"SELECT count() FROM {{db}}.jobs_archive WHERE toDate(enqueue_time) = {{day:Date}} "
        f"AND queue = {{q:String}} AND outcome = {{o:String}} AND {_ID_HASH} NOT IN ("
        f"SELECT {_ID_HASH} FROM {{db}}.jobs_cold WHERE toDate(enqueue_time) = {{day:Date}} "
        "AND queue = {q:String} AND outcome = {o:String})",
        day=date.fromisoformat(move.day), q=move.queue, o=move.outcome,
    )[0][0])


def plan_tiering(book: PolicyBook, as_of: datetime) -> TieringPlan:
    """What tiering would move now, each group verified against the cold tier. Reads only."""
    plan = TieringPlan(as_of=as_of.isoformat())
    moved = moved_groups()
    today = as_of.date()
    due = []
    for (day, queue, outcome), (records, checksum) in sorted(_warm_groups().items()):
        warm_days = book.for_pair(queue, outcome).warm_days
        if date.fromisoformat(day) < today - timedelta(days=warm_days):
            due.append(GroupMove(day, queue, outcome, records, checksum, already_moved=(day, queue, outcome) in moved))
    if not due:
        return plan
    plan.bytes_per_row = warm_bytes_per_row()
    cold = _cold_groups(min(date.fromisoformat(m.day) for m in due), max(date.fromisoformat(m.day) for m in due))
    for move in due:
        move.cold_records, move.cold_checksum = cold.get(move.key, (0, 0))
        if (move.cold_records, move.cold_checksum) == (move.warm_records, move.warm_checksum):
            move.verified = True
        elif move.already_moved and (missing := _warm_not_in_cold(move)) == 0:
            move.verified = True  # rows that arrived after the move, all present in the cold tier
        else:
            missing = move.warm_records - move.cold_records if not move.already_moved else missing
            move.problem = (
                f"cold tier has {move.cold_records} records (checksum {move.cold_checksum}) where the warm tier has "
                f"{move.warm_records} (checksum {move.warm_checksum}); kept warm"
            )
        plan.moves.append(move)
    return plan


def _evict_day(day: str) -> None:
    """Every group of the day is served from the cold tier: drop the whole partition (no row rewrite)."""
    ch.command("ALTER TABLE {db}.jobs_archive DROP PARTITION ID {partition:String}", tag="tiering",
               parameters={"partition": _partition_id(day)})


def _evict_group(move: GroupMove) -> None:
    """Only some groups of the day are due (their policies' windows differ): delete just their rows."""
    ch.command(
        "DELETE FROM {db}.jobs_archive IN PARTITION ID {partition:String} "
        "WHERE queue = {q:String} AND outcome = {o:String}",
        tag="tiering",
        parameters={"partition": _partition_id(move.day), "q": move.queue, "o": move.outcome},
    )


def apply_tiering(plan: TieringPlan) -> dict:
    """Act on exactly the plan: mark verified groups, then (after the grace period) delete their warm rows."""
    # The grace period runs on the wall clock (readers are real), whatever date the policies are evaluated at.
    grace = timedelta(seconds=settings.ARCHIVE_TIERING_GRACE_SECONDS)
    wall = datetime.now(timezone.utc).replace(tzinfo=None)
    fresh = [m for m in plan.verified if not m.already_moved]
    if fresh:
        ch.insert_arrow("tier_moves", pa.table({
            "day": pa.array([date.fromisoformat(m.day) for m in fresh], pa.date32()),
            "queue": [m.queue for m in fresh],
            "outcome": [m.outcome for m in fresh],
            "records": pa.array([m.warm_records for m in fresh], pa.uint64()),
            "id_checksum": pa.array([m.warm_checksum for m in fresh], pa.uint64()),
            "effective_at": pa.array([wall + grace] * len(fresh), pa.timestamp("ms", tz="UTC")),
        }), tag="tiering")
    faults.checkpoint("tiering_marked")
    effective = {k: ch.utc_naive(v[2]) for k, v in moved_groups().items()}
    ready = [m for m in plan.verified if m.key in effective]
    # Rows of a group go one grace period after its marker took effect: no query routed there is still running.
    waiting = [m for m in ready if effective[m.key] + grace > wall]
    ready = [m for m in ready if m not in waiting]
    evicted = []
    warm_groups_per_day: dict[str, set] = {}
    for day, queue, outcome in _warm_groups():
        warm_groups_per_day.setdefault(day, set()).add((day, queue, outcome))
    by_day: dict[str, list[GroupMove]] = {}
    for move in ready:
        by_day.setdefault(move.day, []).append(move)
    for day, moves in sorted(by_day.items()):
        # Groups still warm that day and not part of this eviction keep the partition alive. A row
        # that lands between this check and the drop is not lost: its group then has no warm rows,
        # and `jobs_all` reads a group without warm rows from the cold tier, which has every record.
        if warm_groups_per_day.get(day, set()) <= {m.key for m in moves}:
            _evict_day(day)
        else:
            for move in moves:
                _evict_group(move)
        evicted.extend(moves)
        faults.checkpoint("tiering_evicted")
    for move in plan.failed:
        logger.error("tiering refused %s/%s/%s: %s", move.day, move.queue, move.outcome, move.problem)
    return {
        "marked_groups": len(fresh),
        "evicted_groups": len(evicted),
        "evicted_records": sum(m.warm_records for m in evicted),
        "waiting_for_grace": len(waiting),
        "refused_groups": len(plan.failed),
    }
