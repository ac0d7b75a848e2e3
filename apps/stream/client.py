"""The one entry point to Redis Streams: connections, the consumer group, reads, claims and acks."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import redis
from django.conf import settings

# An entry as read: its id and its fields as Redis sends them, flat: [name, value, name, value, ...].
# Keeping them flat lets the exporter pick columns for a whole batch at once (see transform.py).
Entry = tuple[str, list[bytes]]
_RAW_REPLIES = ("XREADGROUP", "XAUTOCLAIM", "XCLAIM")


@cache
def _pool(url: str) -> redis.ConnectionPool:
    return redis.ConnectionPool.from_url(url, socket_connect_timeout=3, health_check_interval=30)


def connection() -> redis.Redis:
    """A client on the shared pool; values stay bytes so payloads are hashed exactly as sent.

    Stream reads come back unparsed (no dict per entry): the exporter's hot path.
    """
    client = redis.Redis(connection_pool=_pool(settings.REDIS_URL))
    for command in _RAW_REPLIES:
        client.set_response_callback(command, _raw)
    return client


def _raw(response, **_):
    return response


def fields_dict(flat: list[bytes]) -> dict[bytes, bytes]:
    """Flat fields to a mapping; a repeated name keeps its last value, as Redis clients do."""
    return dict(zip(flat[0::2], flat[1::2]))


@dataclass(frozen=True)
class StreamConfig:
    stream: str
    group: str

    @property
    def dead_stream(self) -> str:
        return f"{self.stream}:dead"

    @classmethod
    def from_settings(cls) -> StreamConfig:
        return cls(stream=settings.ARCHIVE_STREAM, group=settings.ARCHIVE_CONSUMER_GROUP)


def _ids(entries: list) -> list[Entry]:
    # Entries deleted after delivery come back empty; they carry nothing to archive.
    return [(entry[0].decode(), entry[1]) for entry in entries if entry and entry[1] is not None]


def ensure_group(r: redis.Redis, cfg: StreamConfig) -> None:
    try:
        r.xgroup_create(cfg.stream, cfg.group, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def _read_reply(reply) -> list[Entry]:
    if not reply:
        return []
    # RESP2 replies [[stream, entries]], RESP3 {stream: entries}.
    entries = reply[0][1] if isinstance(reply, list) else next(iter(reply.values()))
    return _ids(entries)


def read_new(r: redis.Redis, cfg: StreamConfig, consumer: str, count: int, block_ms: int | None) -> list[Entry]:
    return _read_reply(r.xreadgroup(cfg.group, consumer, {cfg.stream: ">"}, count=count, block=block_ms))


class ReadAhead:
    """A non-blocking XREADGROUP sent now and received later, on a connection of its own, so Redis
    builds the reply while the caller works on something else.

    Redis delivers the entries (they become pending for `consumer`) when it runs the command, not
    when they are received: a caller must receive promptly and always before closing.
    """

    def __init__(self, r: redis.Redis, cfg: StreamConfig, consumer: str) -> None:
        self._pool = r.connection_pool
        self._cfg = cfg
        self._consumer = consumer
        self._conn = None

    def send(self, count: int) -> None:
        if self._conn is None:
            self._conn = self._pool.get_connection()
        try:
            self._conn.send_command("XREADGROUP", "GROUP", self._cfg.group, self._consumer,
                                    "COUNT", count, "STREAMS", self._cfg.stream, ">")
        except Exception:
            self.close(broken=True)
            raise

    def receive(self) -> list[Entry]:
        try:
            return _read_reply(self._conn.read_response())
        except Exception:
            self.close(broken=True)
            raise

    def close(self, *, broken: bool = False) -> None:
        """Give the connection back to the pool (dropped first if a reply may be left on it)."""
        if self._conn is not None:
            if broken:
                self._conn.disconnect()
            self._pool.release(self._conn)
            self._conn = None


def claim_idle(r: redis.Redis, cfg: StreamConfig, consumer: str, min_idle_ms: int, count: int) -> list[Entry]:
    """Take over entries another consumer received but did not acknowledge for min_idle_ms."""
    claimed: list[Entry] = []
    cursor = "0-0"
    while len(claimed) < count:
        reply = r.xautoclaim(cfg.stream, cfg.group, consumer, min_idle_ms, start_id=cursor, count=count)
        cursor = reply[0].decode() if isinstance(reply[0], bytes) else reply[0]
        claimed.extend(_ids(reply[1]))
        if cursor == "0-0":
            break
    return claimed


def claim_ids(r: redis.Redis, cfg: StreamConfig, consumer: str, ids: list[str]) -> list[Entry]:
    """Claim specific pending entries regardless of idle time (recovery of a recorded batch)."""
    entries: list[Entry] = []
    for start in range(0, len(ids), 1000):
        entries.extend(_ids(r.xclaim(cfg.stream, cfg.group, consumer, 0, ids[start : start + 1000])))
    return entries


def ack_batch(
    r: redis.Redis, cfg: StreamConfig, batch_id: str, ids: list[str], dead: list[tuple[str, str, dict[bytes, bytes]]],
    *, remember_s: int = 86400,
) -> bool:
    """Dead-letter the bad entries and acknowledge the batch in one MULTI (all or nothing), once per batch.

    A marker key per batch, watched, makes it once: if another exporter finished the batch (it took
    it over from a lost lock), the marker is there, or appears before EXEC and the MULTI is dropped.
    Returns False when the batch had been acknowledged already.
    """
    marker = f"{cfg.stream}:acked:{batch_id}"
    with r.pipeline(transaction=True) as pipe:
        try:
            pipe.watch(marker)
            if pipe.exists(marker):
                return False
            pipe.multi()
            for stream_id, reason, fields in dead:
                pipe.xadd(cfg.dead_stream, {**fields, b"reason": reason.encode(), b"original_id": stream_id.encode()})
            for start in range(0, len(ids), 10_000):
                pipe.xack(cfg.stream, cfg.group, *ids[start : start + 10_000])
            pipe.set(marker, b"1", ex=remember_s)
            pipe.execute()
        except redis.WatchError:
            return False
    return True


# XADD unless this marker key already holds the id of an earlier one; atomic inside Redis.
_ADD_ONCE = """
local earlier = redis.call('GET', KEYS[2])
if earlier then return earlier end
local id = redis.call('XADD', KEYS[1], '*', unpack(ARGV, 2))
redis.call('SET', KEYS[2], id, 'EX', ARGV[1])
return id
"""


def add_once(r: redis.Redis, stream: str, marker: str, fields: dict, *, remember_s: int = 30 * 86400) -> str:
    """Append `fields` to `stream` at most once per `marker` (for `remember_s`): a repeated call,
    say after the caller failed to record the first, returns the first entry's id instead."""
    flat = [part for item in fields.items() for part in item]
    entry_id = r.eval(_ADD_ONCE, 2, stream, marker, remember_s, *flat)
    return entry_id.decode() if isinstance(entry_id, bytes) else entry_id


@dataclass(frozen=True)
class GroupState:
    length: int
    lag: int | None
    pending: int
    oldest_unexported_id: str | None
    dead_letters: int


def group_state(r: redis.Redis, cfg: StreamConfig) -> GroupState:
    """Stream length, group lag (not yet delivered), pending (delivered, not acked) and the oldest of them."""
    pipe = r.pipeline(transaction=False)
    pipe.xlen(cfg.stream)
    pipe.xlen(cfg.dead_stream)
    pipe.exists(cfg.stream)
    length, dead, exists = pipe.execute()
    lag = pending = 0
    oldest = None
    if exists:
        groups = {g["name"].decode(): g for g in r.xinfo_groups(cfg.stream)}
        group = groups.get(cfg.group)
        if group is None:
            lag, pending = length, 0
            first = r.xrange(cfg.stream, count=1)
            oldest = first[0][0].decode() if first else None
        else:
            lag = group.get("lag")
            pending = group["pending"]
            if pending:
                summary = r.xpending(cfg.stream, cfg.group)
                oldest = summary["min"].decode() if isinstance(summary["min"], bytes) else summary["min"]
            elif lag:
                last = group["last-delivered-id"]
                after = r.xrange(cfg.stream, min=f"({last.decode()}", count=1)
                oldest = after[0][0].decode() if after else None
    return GroupState(length=length, lag=lag, pending=pending, oldest_unexported_id=oldest, dead_letters=dead)


def scan_range(r: redis.Redis, stream: str, start: str, end: str, chunk: int = 5000):
    """Every entry from `start` to `end` (XRANGE bounds, `(` for exclusive), read in chunks: (id, fields)."""
    cursor = start
    while True:
        entries = r.xrange(stream, min=cursor, max=end, count=chunk)
        for raw_id, fields in entries:
            yield raw_id.decode(), fields
        if len(entries) < chunk:
            return
        cursor = f"({entries[-1][0].decode()}"


def delete_entries(r: redis.Redis, stream: str, ids: list[str]) -> int:
    """XDEL in chunks; returns how many entries were there to delete."""
    deleted = 0
    for start in range(0, len(ids), 1000):
        deleted += r.xdel(stream, *ids[start:start + 1000])
    return deleted


def stream_id_key(stream_id: str) -> tuple[int, int]:
    """Sort key of a stream entry id (`<ms>-<seq>`): ids compare as numbers, not as text."""
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq or 0)


def entry_age_seconds(stream_id: str | None, now_ms: int) -> float | None:
    if not stream_id:
        return None
    return max(0.0, (now_ms - int(stream_id.split("-")[0])) / 1000)
