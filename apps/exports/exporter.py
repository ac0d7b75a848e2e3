"""The exporter: reads the stream in batches and lands each batch exactly once in every sink.

Per batch: read -> record in the ledger (locked) -> transform -> claim its records' keys (records
archived already are dropped as duplicates) -> write ClickHouse -> write Iceberg -> dead-letter
+ XACK in one Redis MULTI, once per batch -> mark acknowledged. Each step is idempotent and recorded, so
a crash anywhere is repaired by replaying the recorded batch as it was.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import numpy as np
import pyarrow as pa
from django.conf import settings
from django.db import transaction

from apps.compliance.selectors import active_holds
from apps.core import collector, faults
from apps.erasure import tombstones
from apps.exports import entry_fields
from apps.exports.models import BatchState, DeadLetter, ExportBatch, ExportError
from apps.exports.pipeline import dedup, key_index, ledger, sinks
from apps.exports.pipeline.policy import Policies
from apps.exports.pipeline.transform import Transformed, batch_fields, transform
from apps.operations import metrics
from apps.places.selection import Entry, text_fields
from apps.retention.selectors import export_policies
from apps.stream import client as streams
from apps.stream.client import fields_dict, stream_id_key
from apps.warehouse import held

logger = logging.getLogger(__name__)
# One long-lived thread per process for ClickHouse inserts (its chDB client lives as long).
_clickhouse_writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="archive-clickhouse")
# And one for hashing record keys beside the transform.
_hasher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="archive-keys")


def default_consumer_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"


@dataclass
class ExportSummary:
    batches: int = 0
    records: int = 0
    dead_letters: int = 0
    duplicates: int = 0
    recovered_batches: int = 0
    seconds: float = 0.0
    stopped_early: bool = False
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    stage_seconds: dict[str, float] = field(default_factory=dict)

    def add_error(self, exc: Exception) -> None:
        self.errors.append(f"{type(exc).__name__}: {exc}"[:500])

    def add(self, batch: ExportBatch, recovered: bool = False) -> None:
        self.batches += 1
        self.records += batch.records
        self.dead_letters += batch.dead_letters
        self.duplicates += batch.duplicates
        self.recovered_batches += int(recovered)

    def as_dict(self) -> dict:
        return {
            "batches": self.batches,
            "records": self.records,
            "dead_letters": self.dead_letters,
            "duplicates": self.duplicates,
            "recovered_batches": self.recovered_batches,
            "seconds": round(self.seconds, 3),
            "stopped_early": self.stopped_early,
            "errors": self.errors,
            "warnings": self.warnings,
            "stage_seconds": {k: round(v, 3) for k, v in self.stage_seconds.items()},
        }


@dataclass
class _Prepared:
    """A recorded, locked, transformed batch, ready for the sinks."""

    batch: ExportBatch
    entries: list[streams.Entry]
    result: Transformed
    recovered: bool = False


def _decode_fields(raw: dict[bytes, bytes]) -> dict[str, dict[str, str]]:
    """A dead letter's `fields` and `binary_fields`: every field kept byte for byte."""
    text, binary = entry_fields.split(raw)
    return {"fields": text, "binary_fields": binary}


class Exporter:
    def __init__(
        self,
        *,
        consumer: str | None = None,
        cfg: streams.StreamConfig | None = None,
        policies: Policies | None = None,
        batch_size: int | None = None,
        batch_seconds: float | None = None,
        claim_idle_ms: int | None = None,
    ) -> None:
        self.cfg = cfg or streams.StreamConfig.from_settings()
        self.consumer = consumer or default_consumer_name()
        # None: the retention policies, read afresh for every batch so admin changes apply at once.
        self.policies = policies
        self.batch_size = batch_size or settings.ARCHIVE_EXPORT_BATCH_SIZE
        self.batch_seconds = settings.ARCHIVE_EXPORT_BATCH_SECONDS if batch_seconds is None else batch_seconds
        self.claim_idle_ms = settings.ARCHIVE_EXPORT_CLAIM_IDLE_MS if claim_idle_ms is None else claim_idle_ms
        self.redis = streams.connection()
        self.stage_seconds: dict[str, float] = {}
        self._stage_lock = threading.Lock()
        # Batches this exporter holds; advisory locks are re-entrant within a session, so our own
        # batches must be told apart from other exporters' explicitly.
        self._mine: set = set()
        self._held: tuple[ExportBatch, list[streams.Entry]] | None = None  # read ahead and recorded
        self._claimed_at = 0.0
        streams.ensure_group(self.redis, self.cfg)

    # --- the loop -------------------------------------------------------------------------
    def run(
        self,
        *,
        follow: bool = False,
        max_seconds: float | None = None,
        should_stop: Callable[[], bool] = lambda: False,
        on_batch: Callable[[ExportBatch, ExportSummary], None] | None = None,
    ) -> ExportSummary:
        """Drain (default): everything present at start, then return. Follow: until should_stop()."""
        started = time.monotonic()
        summary = ExportSummary()
        self._follow = follow
        horizon = None if follow else self._last_entry_id()
        self._horizon_key = stream_id_key(horizon) if horizon else None
        # Drain: new entries are read until a read reaches the horizon, the entry that was last
        # when the drain started (an empty stream: nothing to read); later ones wait for the next run.
        self._read_all = not follow and horizon is None
        wait_for_idle_until = None
        self.locks = ledger.BatchLocks()
        self.claims = key_index.KeyClaims()
        self._ahead = streams.ReadAhead(self.redis, self.cfg, self.consumer)

        def finish(prepared: _Prepared) -> None:
            self._write(prepared)
            summary.add(prepared.batch, recovered=prepared.recovered)
            if on_batch is not None:
                on_batch(prepared.batch, summary)

        try:
            while True:
                if should_stop() or (max_seconds is not None and time.monotonic() - started > max_seconds):
                    summary.stopped_early = not follow
                    if self._held is not None:  # read ahead and recorded: finished, not left behind
                        self._read_all = True  # and nothing more is read, not even ahead
                        try:
                            finish(self.prepare_next())
                        except Exception as exc:  # recorded and released: the next run recovers it
                            logger.exception("export failed while stopping; the batch will be retried")
                            summary.add_error(exc)
                    break
                try:
                    with collector.paused():
                        recovered = 0
                        for prepared in self.recover():
                            finish(prepared)
                            recovered += 1
                        prepared = self.prepare_next()
                        if prepared is not None:
                            finish(prepared)
                except Exception as exc:  # the batch stays recorded and unacknowledged; it is retried
                    logger.exception("export failed; the batch will be retried")
                    summary.add_error(exc)
                    if not follow:
                        break
                    time.sleep(min(30.0, 2.0 ** min(len(summary.errors), 5)))
                    continue
                if prepared is not None or recovered or follow:
                    wait_for_idle_until = None
                    continue
                # Nothing new: entries still pending for a dead consumer become claimable once idle.
                if not self._orphaned_pending():
                    break
                if wait_for_idle_until is None:
                    wait_for_idle_until = time.monotonic() + self.claim_idle_ms / 1000 + 5
                if time.monotonic() > wait_for_idle_until:
                    summary.warnings.append("some pending entries are held by another live exporter")
                    break
                time.sleep(min(0.25, self.claim_idle_ms / 4000))
        finally:
            if self._held is not None:  # after a failure: recorded, and recoverable at once once unlocked
                self._release(self._held[0])
                self._held = None
            self._ahead.close()
            self.claims.close()
            self.locks.close()
        summary.seconds = time.monotonic() - started
        summary.stage_seconds = dict(self.stage_seconds)
        return summary

    def _last_entry_id(self) -> str | None:
        last = self.redis.xrevrange(self.cfg.stream, count=1)
        return last[0][0].decode() if last else None

    def _held_by_other(self, batch: ExportBatch) -> bool:
        if batch.id in self._mine:
            return True
        if self.locks.try_lock(batch.id):
            self.locks.unlock(batch.id)
            return False
        return True

    def _orphaned_pending(self) -> bool:
        """Pending entries that no live exporter is working on (they will be claimed when idle)."""
        pending = self.redis.xpending(self.cfg.stream, self.cfg.group)["pending"]
        if not pending:
            return False
        held = sum(b.entry_count for b in ledger.unfinished(self.cfg.stream, self.cfg.group)
                   if self._held_by_other(b))
        return pending > held

    def _release(self, batch: ExportBatch) -> None:
        self.locks.unlock(batch.id)
        self._mine.discard(batch.id)

    def _timed_clickhouse(self, result: Transformed, batch_key: str) -> None:
        with self._stage("clickhouse"):
            sinks.write_clickhouse(result.table, batch_key)

    @contextmanager
    def _stage(self, name: str):
        started = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - started
            metrics.observe_stage(name, elapsed)
            with self._stage_lock:
                self.stage_seconds[name] = self.stage_seconds.get(name, 0.0) + elapsed

    # --- preparing a batch (reader side) --------------------------------------------------------
    def prepare_next(self) -> _Prepared | None:
        """The next batch, recorded and transformed: the one read ahead if there is one, else up
        to batch_size entries (idle claims first, then new ones; in follow mode waiting up to
        batch_seconds for them).

        When the batch came back full, the read of the next one is sent before this one is
        transformed and received after, so Redis builds that reply while this process works; it is
        recorded at once, which keeps delivered-but-unrecorded entries as short-lived as before.
        """
        if self._held is not None:
            (batch, entries), self._held = self._held, None
        else:
            entries = self._collect()
            if not entries:
                return None
            batch = self._record(entries)
        reading_ahead = self._backlog(entries) and self._send_ahead()
        try:
            return self._transform(batch, entries)
        finally:
            if reading_ahead:
                self._held = self._receive_ahead()

    def _collect(self) -> list[streams.Entry]:
        with self._stage("claim"):
            entries = self._claim_orphans()
        claimed = len(entries)
        deadline = time.monotonic() + self.batch_seconds
        while len(entries) < self.batch_size and not self._read_all:
            remaining_ms = int((deadline - time.monotonic()) * 1000)
            if self._follow and remaining_ms <= 0:
                break
            wait = remaining_ms if self._follow else None
            with self._stage("read"):
                new = streams.read_new(self.redis, self.cfg, self.consumer, self.batch_size - len(entries), wait)
            if not new:
                break
            entries.extend(new)
            self._note_read(new)
        if claimed:  # new entries arrive in stream order; claimed older ones may not
            entries.sort(key=lambda e: stream_id_key(e[0]))
        return entries

    def _note_read(self, new: list[streams.Entry]) -> None:
        if not self._follow and stream_id_key(new[-1][0]) >= self._horizon_key:
            self._read_all = True

    def _backlog(self, entries: list[streams.Entry]) -> bool:
        """Worth reading ahead: this batch is full and more is expected. Not for long, though: idle
        entries of dead consumers are only claimed on the normal path, which must come round often."""
        return (len(entries) >= self.batch_size and not self._read_all
                and time.monotonic() - self._claimed_at <= self.claim_idle_ms / 2000)

    def _send_ahead(self) -> bool:
        try:
            self._ahead.send(self.batch_size)
            return True
        except Exception:
            logger.warning("could not read ahead; reading on without", exc_info=True)
            return False

    def _receive_ahead(self) -> tuple[ExportBatch, list[streams.Entry]] | None:
        """The entries read ahead, recorded. A failure here is left to the normal path to meet
        again; entries delivered but not recorded are claimed once idle, as after any failed read."""
        try:
            with self._stage("read"):
                entries = self._ahead.receive()
            if not entries:
                return None
            self._note_read(entries)
            return self._record(entries), entries
        except Exception:
            logger.warning("reading ahead failed; its entries are claimed once idle", exc_info=True)
            return None

    def _record(self, entries: list[streams.Entry]) -> ExportBatch:
        with self._stage("ledger"):
            batch = ledger.record(
                self.locks,
                stream=self.cfg.stream,
                group=self.cfg.group,
                consumer=self.consumer,
                entry_ids=[e[0] for e in entries],
                sinks=sinks.enabled_sinks(),
            )
        self._mine.add(batch.id)
        faults.checkpoint("recorded")
        return batch

    def _transform(self, batch: ExportBatch, entries: list[streams.Entry], recovered: bool = False) -> _Prepared:
        """Transform the batch, then claim its records' keys and drop the duplicates."""
        try:
            with self._stage("transform"):
                fields = batch_fields(entries)
            with self._stage("dedup"):
                # Hashed beside the transform: it spends much of its time in Arrow, outside the GIL.
                entry_keys = _hasher.submit(dedup.raw_keys, fields.column("job_id"), fields.column("retries"))
            try:
                with self._stage("transform"):
                    result = transform(entries, self.policies or export_policies(), fields)
            finally:
                with self._stage("dedup"):
                    keys = entry_keys.result()
            with self._stage("dedup"):
                result = self._drop_erased(result, entries)
                result = self._deduplicate(batch, result, fields, keys)
        except Exception:
            self._release(batch)
            raise
        return _Prepared(batch=batch, entries=entries, result=result, recovered=recovered)

    def _drop_erased(self, result: Transformed, entries: list[streams.Entry]) -> Transformed:
        """Records of erased people (tombstones) are not archived again, unless a legal hold keeps
        them; each is counted on the request that erased it."""
        hits = tombstones.erased_rows(result.table)
        if not hits:
            return result
        holds = active_holds()
        if holds:
            for row in list(hits):
                stream_id, flat = entries[int(result.entry_index[row])]
                entry = Entry(text_fields(fields_dict(flat)), stream_id_key(stream_id)[0])
                if any(held.covers(entry) for held in holds):
                    del hits[row]
        if not hits:
            return result
        stream_ids = result.table["stream_id"].to_pylist()
        tombstones.count_late([(request, stream_ids[row]) for row, request in hits.items()])
        keep = np.ones(result.table.num_rows, dtype=bool)
        keep[list(hits)] = False
        logger.info("dropped %d records of erased subjects", len(hits))
        return replace(result, table=result.table.filter(pa.array(keep)), entry_index=result.entry_index[keep])

    def _deduplicate(self, batch: ExportBatch, result: Transformed, fields, entry_keys: list) -> Transformed:
        """Claim the keys of the batch's records; keep the rows whose keys it owns, the first of each."""
        keys = dedup.row_keys(result.table, result.entry_index, entry_keys)
        distinct = list(set(keys))
        foreign = self.claims.claim(batch.id, distinct, dedup.expires_on(fields.column("enqueue_time")))
        keep, duplicates = dedup.decide(keys, result.table, foreign, distinct=len(distinct))
        if keep is None:
            return result
        return replace(result, table=result.table.take(keep), duplicates=duplicates)

    def _claim_orphans(self) -> list[streams.Entry]:
        """Entries another consumer received and left idle, that no recorded batch covers."""
        self._claimed_at = time.monotonic()
        claimed = streams.claim_idle(self.redis, self.cfg, self.consumer, self.claim_idle_ms, self.batch_size)
        if not claimed:
            return []
        covered = set()
        for batch in ledger.unfinished(self.cfg.stream, self.cfg.group).only("entry_id_text"):
            covered.update(batch.entry_ids)
        return [e for e in claimed if e[0] not in covered]

    def recover(self) -> Iterator[_Prepared]:
        """Prepare every recorded, unfinished batch whose exporter is gone (its lock is free).

        Cheap when there is nothing to recover: one indexed query for unfinished batches."""
        for batch in ledger.unfinished(self.cfg.stream, self.cfg.group):
            if batch.id in self._mine or not self.locks.try_lock(batch.id):
                continue  # a live exporter is on it
            self._mine.add(batch.id)
            batch.refresh_from_db()
            if batch.state == BatchState.ACKNOWLEDGED:  # finished between our query and the lock
                self._release(batch)
                continue
            ledger.mark(batch, attempts=batch.attempts + 1, consumer=self.consumer)
            logger.warning("recovering batch %s (%d entries)", batch.id, batch.entry_count)
            entries = streams.claim_ids(self.redis, self.cfg, self.consumer, batch.entry_ids)
            yield self._transform(batch, entries, recovered=True)

    # --- writing a batch (writer side) -----------------------------------------------------------
    def _write(self, prepared: _Prepared) -> None:
        """Finish a locked batch from wherever it stands; releases the lock in every case."""
        batch = prepared.batch
        try:
            self._write_and_ack(prepared)
        except Exception as exc:
            ExportError.objects.create(batch=batch, stage="export", message=f"{type(exc).__name__}: {exc}"[:4000])
            metrics.count_error("export")
            raise
        finally:
            self._release(batch)
        metrics.observe_batch(batch.records)

    def _write_and_ack(self, prepared: _Prepared) -> None:
        """`entries` are exactly the batch's entries still pending for us: after a crash that
        followed the acknowledgement they are none, since dead letters and XACK go in one MULTI."""
        batch, entries, result = prepared.batch, prepared.entries, prepared.result
        batch_key = str(batch.id)
        again = self._dead_letters_seen_before(batch, result)
        if batch.state == BatchState.RECORDED:
            if len(entries) < batch.entry_count:
                # Only possible if someone deleted or trimmed entries that were still pending.
                metrics.count_error("read")
                ExportError.objects.create(
                    batch=batch, stage="read",
                    message=f"{batch.entry_count - len(entries)} entries left the stream before they were exported",
                )
            ledger.mark(batch, records=result.records, dead_letters=len(result.dead), duplicates=result.duplicates,
                        arrow_bytes=result.table.nbytes)
            to_clickhouse = result.records and sinks.CLICKHOUSE in batch.sinks and batch.clickhouse_at is None
            to_iceberg = result.records and sinks.ICEBERG in batch.sinks and batch.iceberg_at is None
            # The ClickHouse insert runs in chDB's C++ code, outside the GIL, so it overlaps the
            # (mostly Python) Iceberg append; each is recorded only once it has succeeded.
            # What the batch's days hold changes: their summary (apps.warehouse.held) is stale meanwhile.
            with held.changing(held.days_of(result.table) if to_clickhouse or to_iceberg else ()):
                clickhouse = _clickhouse_writer.submit(self._timed_clickhouse, result, batch_key) if to_clickhouse else None
                try:
                    if to_iceberg:
                        with self._stage("iceberg"):
                            sinks.write_iceberg(result.table, batch_key)
                            if sinks.CLICKHOUSE not in batch.sinks:
                                sinks.write_cold_only(result.table, batch_key)
                finally:
                    if clickhouse is not None:
                        clickhouse.result()
            if to_clickhouse:
                faults.checkpoint("clickhouse_written")
                ledger.mark(batch, clickhouse_at=ledger.now())
            if to_iceberg:
                faults.checkpoint("iceberg_written")
                ledger.mark(batch, iceberg_at=ledger.now())
            with transaction.atomic():
                DeadLetter.objects.bulk_create(
                    [
                        DeadLetter(stream=self.cfg.stream, entry_id=sid, reason=reason,
                                   batch=batch, **_decode_fields(raw))
                        for sid, reason, raw in result.dead
                    ],
                    ignore_conflicts=True,
                )
                ledger.mark(batch, state=BatchState.WRITTEN, dead_letters=batch.dead_letters - len(again),
                            duplicates=batch.duplicates + len(again))
        if entries:
            self.locks.ensure_held(batch.id)  # a lost lock session: another exporter may be finishing it
            dead = [d for d in result.dead if d[0] not in again]
            with self._stage("acknowledge"):
                streams.ack_batch(self.redis, self.cfg, str(batch.id), [e[0] for e in entries], dead)
            faults.checkpoint("acknowledged")
        ledger.acknowledge(batch)

    def _dead_letters_seen_before(self, batch: ExportBatch, result: Transformed) -> set[str]:
        """Entries of this batch dead-lettered by an earlier batch (a re-delivery): not again."""
        if not result.dead:
            return set()
        return set(DeadLetter.objects.filter(stream=self.cfg.stream, entry_id__in=[d[0] for d in result.dead])
                   .exclude(batch=batch).values_list("entry_id", flat=True))
