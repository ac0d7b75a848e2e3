"""Executing an approved erasure: step by step, each idempotent, resumable after a crash anywhere.

Each step first records its plan (what it will remove, by internal ids), then acts, then records
its result. A step that dies after acting is run again from its recorded plan, so a retry
removes nothing twice and counts every record once. Steps, in order:

1. tombstones: the erased identifiers' keyed hashes; from here on the exporter archives no new
   record of the subject (apps.erasure.tombstones).
2. stream: the stream's entries, pending or not (their keys are marked purged first and batches
   holding them waited for, so nothing is exported behind the removal).
3. dead_letters: the dead-letter stream and the DeadLetter rows.
4. warm: `jobs_archive`, physically (apps.warehouse.physical): no active or inactive part keeps a row.
5. rehydrated: every `rehydrated_*` table, the same way.
6. cold: an Iceberg delete that rewrites only the files holding the records, expiry of the
   snapshots older than it, then removal of the old files, every version, and of the manifests
   that listed them; also of older generations only those snapshots read (a compaction's inputs).
7. copies: stored copies holding the subject's records (subject-access bundles), every version.
8. subject_index: the erased keys' rows.
9. verify: every place searched again, by its own means (apps.erasure.verification).
10. certificate: the certificate of erasure, its hash in the audit chain; raw identifiers scrubbed.

The whole run holds the retention runs' lock: no tiering, compaction or purge moves records
under it. Runs only where the warehouse lives (the worker, or `archive erasure run` in-process).
"""

from __future__ import annotations

import logging
import time

from django.utils import timezone

from apps.compliance.selectors import active_holds
from apps.core import faults
from apps.erasure import criteria, locks, survey, tombstones
from apps.erasure.models import ErasureRequest, ErasureState
from apps.lake import maintenance, s3
from apps.places import copies, dead_letters, stream, subject_index
from apps.places.subject import Subject
from apps.rehydration import tables
from apps.retention.locks import one_run_at_a_time
from apps.warehouse import held
from apps.warehouse.physical import parts_holding, remove_rows

logger = logging.getLogger(__name__)

STEPS = ("tombstones", "stream", "dead_letters", "warm", "rehydrated", "cold", "copies", "subject_index",
         "verify", "certificate")
# Which step cleans each place verification searches: a place found unclean is done again on retry.
STEP_OF_PLACE = {"stream": "stream", "dead_letters": "dead_letters", "warm": "warm", "rehydrated": "rehydrated",
                 "cold": "cold", "copies": "copies", "subject_index": "subject_index"}


class _Run:
    """One attempt at a request: its steps' plans and results, saved as they are made."""

    def __init__(self, request: ErasureRequest, subject: Subject, holds) -> None:
        self.request = request
        self.subject = subject  # the unresolved subject, holds kept out, days narrowed by the index
        self.holds = holds

    def save(self, **fields) -> None:
        for name, value in fields.items():
            setattr(self.request, name, value)
        ErasureRequest.objects.filter(pk=self.request.pk).update(steps=self.request.steps, **fields)

    def step(self, name: str) -> dict:
        return self.request.steps.setdefault(name, {})

    def plan(self, name: str, make) -> dict:
        step = self.step(name)
        if "plan" not in step:
            step["plan"] = make()
            self.save()
        return step["plan"]


# --- the steps ---------------------------------------------------------------------------------
def _tombstones(run: _Run) -> dict:
    hashed = run.request.hashed
    added = tombstones.remember(run.request, key_hashes=hashed["subject_keys"], job_ids=run.subject.job_ids)
    return {"subject_keys": len(hashed["subject_keys"]), "job_ids": len(run.subject.job_ids), "new": added}


def _stream(run: _Run) -> dict:
    def make() -> dict:
        found = stream.preview([run.subject])
        return {"stream": found.stream, "ids": found.ids, "keys": [k.hex() for k in found.keys],
                "pending": found.pending}

    plan = run.plan("stream", make)
    stream.remove(stream.Found(stream=plan["stream"], ids=plan["ids"], keys=[bytes.fromhex(k) for k in plan["keys"]],
                               pending=plan["pending"]))
    faults.checkpoint("erasure_stream")
    return {"records": len(plan["ids"]), "pending": plan["pending"]}


def _dead_letters(run: _Run) -> dict:
    def make() -> dict:
        found = dead_letters.preview([run.subject])
        return {"stream": found.stream, "row_ids": found.row_ids, "entry_ids": found.entry_ids}

    plan = run.plan("dead_letters", make)
    dead_letters.remove(dead_letters.Found(stream=plan["stream"], row_ids=plan["row_ids"], entry_ids=plan["entry_ids"]))
    faults.checkpoint("erasure_dead_letters")
    return {"records": len(plan["row_ids"]) + len(plan["entry_ids"]), "rows": len(plan["row_ids"]),
            "stream_entries": len(plan["entry_ids"])}


def _located_with_parts(subject: Subject, table: str) -> dict:
    """A table's plan: the rows, and the parts holding them (a retry waits for those to go too)."""
    located = survey.locate_warm(subject, table).as_dict()
    return {**located, "parts": parts_holding(table, located["stream_ids"], located["days"])}


def _warm(run: _Run) -> dict:
    plan = run.plan("warm", lambda: _located_with_parts(run.subject, "jobs_archive"))
    with held.changing(plan["days"] if plan["stream_ids"] else ()):
        remove_rows("jobs_archive", plan["stream_ids"], plan["days"], parts=plan.get("parts", ()),
                    checkpoint="erasure_warm_mutated")
    faults.checkpoint("erasure_warm")
    return {"records": len(plan["stream_ids"]), "partitions": len(plan["days"]),
            "parts_rewritten": len(plan.get("parts", ()))}


def _rehydrated(run: _Run) -> dict:
    def make() -> dict:
        located = {t: _located_with_parts(run.subject, t) for t in tables.existing()}
        return {t: found for t, found in located.items() if found["stream_ids"]}

    plan = run.plan("rehydrated", make)
    for table, found in plan.items():
        if table in tables.existing():  # dropped since: nothing left to remove
            remove_rows(table, found["stream_ids"], found["days"], parts=found.get("parts", ()))
    faults.checkpoint("erasure_rehydrated")
    return {"records": sum(len(f["stream_ids"]) for f in plan.values()), "tables": sorted(plan)}


def _cold(run: _Run) -> dict:
    reference = run.request.reference

    def make() -> dict:
        located = survey.locate_cold(run.subject)
        return {**located.as_dict(), "files_before": survey.cold_files(run.subject, located),
                "files_in_table": maintenance.table_size()["files"]}

    plan = run.plan("cold", make)
    located = survey.Located(plan["stream_ids"], plan["days"])
    if located.stream_ids and maintenance.erasure_snapshot_ms(reference) is None:  # an earlier attempt's is committed
        with held.changing(located.days):
            maintenance.erase_where(survey.resolved(run.subject, located).iceberg(), reference)
    faults.checkpoint("erasure_cold_deleted")
    step = run.step("cold")
    # Noted once, after the delete and before anything goes, so a retry does and counts the same:
    # the files the delete replaced, then the snapshots that still read them, then the objects.
    if "expiring" not in step:
        current = set(maintenance.data_files(survey.resolved(run.subject, located).iceberg())) \
            if located.stream_ids else set()
        step["replaced"] = sorted(set(plan["files_before"]) - current)
        step["expiring"] = maintenance.snapshots_before_erasure(reference)
        # Files of older generations (a compaction's inputs, say) that only those snapshots still read.
        step["older"] = sorted(set(maintenance.files_only_in(step["expiring"])) - set(step["replaced"]))
        run.save()
    maintenance.expire_snapshots_by_id(step["expiring"])
    faults.checkpoint("erasure_cold_expired")
    if "removing" not in step:
        step["removing"] = maintenance.unreferenced(step["replaced"], older=step.get("older", []),
                                                    metadata_before_ms=maintenance.erasure_snapshot_ms(reference))
        run.save()
    removing = step["removing"]
    maintenance.remove_objects(removing)
    faults.checkpoint("erasure_cold")
    return {"records": len(plan["stream_ids"]), "partitions": len(plan["days"]),
            "files_rewritten": len(step["replaced"]), "files_in_table": plan["files_in_table"],
            "snapshots_expired": len(step["expiring"]), "files_removed": removing["files"],
            "older_files_removed": removing.get("older_files", 0), "versions_removed": removing["versions"], "still_referenced": removing["still_referenced"],
            "metadata_removed": removing["metadata"]}


def _copies(run: _Run) -> dict:
    plan = run.plan("copies", lambda: {"copy_ids": copies.preview([run.subject]).copy_ids})
    found = copies.Found(copy_ids=plan["copy_ids"])
    from apps.compliance.models import StoredCopy

    found.records = sum(StoredCopy.objects.filter(pk__in=plan["copy_ids"]).values_list("records", flat=True))
    result = copies.remove(found)
    faults.checkpoint("erasure_copies")
    return result


def _subject_index(run: _Run) -> dict:
    hashes = run.request.hashed["subject_keys"]
    plan = run.plan("subject_index", lambda: {"rows": subject_index.preview([run.subject]).rows})
    subject_index.remove(subject_index.Found(hashes, plan["rows"]))
    faults.checkpoint("erasure_subject_index")
    return {"rows": plan["rows"]}


def _verify(run: _Run) -> dict:
    from apps.erasure.verification import verify

    return verify(run.request, run.subject)


def _certificate(run: _Run) -> dict:
    from apps.erasure.certificate import issue

    return issue(run.request, run.subject, run.holds)


_RUN = {"tombstones": _tombstones, "stream": _stream, "dead_letters": _dead_letters, "warm": _warm,
        "rehydrated": _rehydrated, "cold": _cold, "copies": _copies, "subject_index": _subject_index,
        "verify": _verify, "certificate": _certificate}


class VerificationFailed(RuntimeError):
    """A place still holds the subject after its step; it is cleaned again on retry."""


# --- the run -------------------------------------------------------------------------------------
def execute(request_id: int) -> ErasureRequest:
    """Run or resume an approved request to its end (or to the step that fails). Idempotent."""
    with locks.running(request_id), one_run_at_a_time():
        request = ErasureRequest.objects.get(pk=request_id)
        if request.state not in (ErasureState.APPROVED, ErasureState.EXECUTING, ErasureState.FAILED,
                                 ErasureState.VERIFIED):
            return request
        subject = criteria.subject_of(request.criteria, request.hashed)
        holds = active_holds()
        run = _Run(request, survey.narrowed(subject).keeping(holds), holds)
        run.save(state=ErasureState.EXECUTING, attempts=request.attempts + 1, error="",
                 started_at=request.started_at or timezone.now())
        for name in STEPS:
            step = run.step(name)
            if step.get("done"):
                continue
            step["started_at"] = timezone.now().isoformat()
            run.save(step=name)
            began = time.monotonic()
            try:
                result = _RUN[name](run)
                step = run.step(name)  # the certificate step reloads the request: its steps are new dicts
                if name == "verify" and not result["passed"]:
                    _redo_unclean(run, result)
                    raise VerificationFailed("still found in: " + ", ".join(
                        p for p, r in result["places"].items() if not r["clean"]))
            except Exception as exc:
                logger.exception("erasure %s failed at step %s", request.reference, name)
                step = run.step(name)
                why = _failure(exc)
                step["error"] = why[:1000]
                run.save(state=ErasureState.FAILED, error=f"step {name}: {why}"[:2000])
                return run.request
            step.update(done=True, result=result, seconds=round(time.monotonic() - began, 3),
                        finished_at=timezone.now().isoformat())
            step.pop("error", None)
            if name == "verify":
                run.save(state=ErasureState.VERIFIED, verification=result, verified_at=timezone.now())
            else:
                run.save()
        return ErasureRequest.objects.get(pk=request_id)


def _failure(exc: Exception) -> str:
    """Why a step failed, for the officer: an S3 that does not answer is said so first."""
    why = f"{type(exc).__name__}: {exc}"
    if s3.unreachable(exc):
        return (f"S3 at {s3.S3Config.from_settings().endpoint_url or 'AWS'} did not answer; run the request again "
                f"once it does, it resumes at this step ({why})")
    return why


def _redo_unclean(run: _Run, result: dict) -> None:
    """Steps whose place verification found unclean lose their plan and result: a retry does them again."""
    for place, checked in result["places"].items():
        if not checked["clean"] and place in STEP_OF_PLACE:
            old = run.request.steps.get(STEP_OF_PLACE[place], {})
            earlier = [*old.get("earlier", []), *([old["result"]] if old.get("result") else [])]
            run.request.steps[STEP_OF_PLACE[place]] = {"earlier": earlier}
    run.save(verification=result)


def counts(request: ErasureRequest) -> dict:
    """Records removed per place (what the certificate says), from the steps' results."""
    result = {}
    for place in survey.COUNT_KEYS:
        step = request.steps.get(place, {})
        results = [*step.get("earlier", []), *([step["result"]] if step.get("result") else [])]
        result[place] = sum(r.get("records", r.get("rows", 0)) for r in results)
    return result
