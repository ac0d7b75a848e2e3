"""Erasure request writes: file (draft or submitted), preview and open the approval, the approved
start, rejection, cancellation, and the run itself. Every step is in the audit chain, which
holds keyed hashes of the identifiers only.

Who: filing, cancelling and running need the erasure permissions (compliance officers and
administrators); approving needs `approvals.approve_erasure`, and never by the requester
(apps.approvals). Criteria are immutable once submitted: the approval is bound to their hash.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.db import transaction
from django.utils import timezone

from apps.accounts.actors import Actor, require_permission
from apps.approvals.models import Approval, ApprovalAction, ApprovalState
from apps.approvals.services import ApprovalRefused, approval_request, approval_withdraw
from apps.audit.services import audit_record
from apps.erasure import criteria as criteria_mod
from apps.erasure.models import ENDED_STATES, ErasureRequest, ErasureState

DUE_AFTER = timedelta(days=30)  # GDPR art. 12(3): without undue delay, within one month


class ErasureRefused(ValueError):
    """The request cannot be filed, changed or run as asked; the message says why. Nothing changed."""


def _target(request: ErasureRequest) -> str:
    return f"erasure:{request.pk}"


def _audit_details(request: ErasureRequest, **more) -> dict:
    return {"reference": request.reference, "criteria": request.hashed, **more}


def erasure_file(*, actor: Actor, legal_basis: str, reason: str, subjects=(), job_ids=(), trace_ids=(),
                 payload_hashes=(), tenant: str = "", date_from=None, date_to=None, due_on: date | None = None,
                 submit: bool = True) -> ErasureRequest:
    """A new request, as a draft or submitted at once (`submit`); a submitted one still needs its
    preview (`erasure_preview`, on the warehouse worker), which opens the approval."""
    require_permission(actor, "erasure.add_erasurerequest")
    if actor.user is None:
        raise ErasureRefused("an erasure request needs a portal user who answers for it (--by USERNAME)")
    if not legal_basis.strip():
        raise ErasureRefused("give the legal basis (e.g. GDPR art. 17(1)(a))")
    if not reason.strip():
        raise ErasureRefused("say why: a request needs a reason (the data subject's request, its reference)")
    try:
        criteria = criteria_mod.cleaned(subjects=subjects, job_ids=job_ids, trace_ids=trace_ids,
                                        payload_hashes=payload_hashes, tenant=tenant, date_from=date_from,
                                        date_to=date_to)
    except criteria_mod.CriteriaError as exc:
        raise ErasureRefused(str(exc)) from None
    with transaction.atomic():
        request = ErasureRequest.objects.create(
            criteria=criteria, hashed=criteria_mod.hashed(criteria), legal_basis=legal_basis.strip()[:200],
            reason=reason.strip(), requested_by=actor.user, due_on=due_on or (timezone.now() + DUE_AFTER).date())
        audit_record(actor=actor, action="erasure.filed", target=_target(request),
                     details=_audit_details(request, legal_basis=request.legal_basis, due_on=request.due_on.isoformat()))
        if submit:
            erasure_submit(request=request, actor=actor)
    return request


def erasure_change(*, request: ErasureRequest, actor: Actor, **fields) -> ErasureRequest:
    """Change a draft (its criteria, basis, reason); a submitted request cannot change."""
    require_permission(actor, "erasure.change_erasurerequest")
    with transaction.atomic():
        request = ErasureRequest.objects.select_for_update().get(pk=request.pk)
        if request.state != ErasureState.DRAFT:
            raise ErasureRefused(f"{request.reference} is {request.get_state_display().lower()}: its criteria "
                                 "are frozen once submitted (file a new request instead)")
        names = ("subjects", "job_ids", "trace_ids", "payload_hashes", "tenant", "date_from", "date_to")
        wanted = {n: fields.get(n, request.criteria.get(n)) for n in names}
        try:
            request.criteria = criteria_mod.cleaned(**wanted)
        except criteria_mod.CriteriaError as exc:
            raise ErasureRefused(str(exc)) from None
        request.hashed = criteria_mod.hashed(request.criteria)
        request.legal_basis = (fields.get("legal_basis") or request.legal_basis).strip()[:200]
        request.reason = (fields.get("reason") or request.reason).strip()
        request.save()
        audit_record(actor=actor, action="erasure.changed", target=_target(request), details=_audit_details(request))
    return request


def erasure_submit(*, request: ErasureRequest, actor: Actor) -> ErasureRequest:
    """Freeze the criteria; the preview is computed next (on the warehouse), then the approval opens."""
    require_permission(actor, "erasure.add_erasurerequest")
    with transaction.atomic():
        request = ErasureRequest.objects.select_for_update().get(pk=request.pk)
        if request.state != ErasureState.DRAFT:
            raise ErasureRefused(f"{request.reference} is {request.get_state_display().lower()}, not a draft")
        request.state, request.submitted_at = ErasureState.SUBMITTED, timezone.now()
        request.save(update_fields=["state", "submitted_at"])
        audit_record(actor=actor, action="erasure.submitted", target=_target(request), details=_audit_details(request))
    return request


def erasure_preview(*, request_id: int, actor: Actor) -> dict:
    """Count the request's records in every place (warehouse worker only) and open its approval."""
    from apps.erasure.survey import survey

    request = ErasureRequest.objects.get(pk=request_id)
    if request.state != ErasureState.SUBMITTED:
        return {"id": request.pk, "state": request.state, "preview": request.preview}
    subject = criteria_mod.subject_of(request.criteria, request.hashed)
    preview = survey(subject)
    with transaction.atomic():
        request = ErasureRequest.objects.select_for_update().get(pk=request_id)
        if request.state != ErasureState.SUBMITTED:
            return {"id": request.pk, "state": request.state, "preview": request.preview}
        request.preview = preview
        if request.approval_id is None:
            requester = Actor.of_user(request.requested_by, via=actor.via)
            request.approval = approval_request(
                action=ApprovalAction.ERASURE, actor=requester, reason=request.reason, target=_target(request),
                content={"erasure": request.pk, "criteria": request.hashed, "legal_basis": request.legal_basis},
                summary={"reference": request.reference, "names": criteria_mod.label(criteria_mod.scrubbed(request.criteria)),
                         "counts": preview["counts"], "held": preview["held"], "files": preview["files"],
                         "due_on": request.due_on.isoformat()})
        request.save(update_fields=["preview", "approval"])
        audit_record(actor=actor, action="erasure.previewed", target=_target(request),
                     details={"reference": request.reference, "counts": preview["counts"],
                              "held": [{"hold": h["hold"], "records": h["records"]} for h in preview["held"]]})
    return {"id": request.pk, "state": request.state, "preview": preview, "approval": request.approval_id}


def erasure_approved(approval: Approval, actor: Actor, *, submit: bool = True) -> dict:
    """The approval's runner: the request, exactly as approved, may now run (on the worker when `submit`)."""
    request = ErasureRequest.objects.select_for_update().filter(pk=approval.content["erasure"]).first()
    if request is None or request.state != ErasureState.SUBMITTED:
        raise ApprovalRefused(f"erasure request {approval.content['erasure']} is not waiting for approval")
    if request.hashed != approval.content["criteria"]:
        raise ApprovalRefused(f"{request.reference}: its criteria differ from what was approved; nothing runs")
    request.state = ErasureState.APPROVED
    request.save(update_fields=["state"])
    audit_record(actor=actor, action="erasure.approved", target=_target(request),
                 details={"reference": request.reference, "approval": approval.pk,
                          "asked_by": request.requested_by.get_username()})
    if submit:
        erasure_dispatch(request)
    return {"erasure": request.pk, "state": request.state,
            "run": "on the worker" if submit else f"archive erasure run {request.pk}"}


def erasure_approval_ended(approval: Approval, actor: Actor) -> None:
    """The approval was rejected or withdrawn: the request ends with it, keeping only hashes."""
    request = ErasureRequest.objects.select_for_update().filter(pk=approval.content["erasure"]).first()
    if request is None or request.state in ENDED_STATES:
        return
    state = ErasureState.REJECTED if approval.state == ApprovalState.REJECTED else ErasureState.CANCELLED
    _end(request, state, actor, why=approval.decision_reason)


def _end(request: ErasureRequest, state: str, actor: Actor, *, why: str = "") -> None:
    request.state, request.ended_at = state, timezone.now()
    request.criteria, request.scrubbed = criteria_mod.scrubbed(request.criteria), True
    request.save(update_fields=["state", "ended_at", "criteria", "scrubbed"])
    audit_record(actor=actor, action=f"erasure.{state}", target=_target(request),
                 details={"reference": request.reference, "why": why[:500]})


def erasure_reject(*, request: ErasureRequest, actor: Actor, reason: str) -> ErasureRequest:
    """Reject through the request's approval (the four-eyes rules apply: never its requester)."""
    from apps.approvals.services import approval_reject

    request = ErasureRequest.objects.get(pk=request.pk)
    if request.approval is None:
        raise ErasureRefused(f"{request.reference} has no approval yet (its preview is not done)")
    approval_reject(approval=request.approval, actor=actor, reason=reason)
    return ErasureRequest.objects.get(pk=request.pk)


def erasure_approve(*, request: ErasureRequest, actor: Actor, submit: bool = True,
                    content_hash_seen: str | None = None) -> ErasureRequest:
    from apps.approvals.services import approval_approve

    request = ErasureRequest.objects.get(pk=request.pk)
    if request.approval is None:
        raise ErasureRefused(f"{request.reference} has no approval yet (its preview is not done)")
    approval = approval_approve(approval=request.approval, actor=actor, submit=submit,
                                content_hash_seen=content_hash_seen)
    if approval.state == ApprovalState.FAILED:
        raise ErasureRefused(approval.error)
    return ErasureRequest.objects.get(pk=request.pk)


def erasure_cancel(*, request: ErasureRequest, actor: Actor, reason: str = "") -> ErasureRequest:
    """The requester (or an administrator) cancels a draft or a request still waiting for approval."""
    require_permission(actor, "erasure.change_erasurerequest")
    with transaction.atomic():
        request = ErasureRequest.objects.select_for_update().get(pk=request.pk)
        if request.state not in (ErasureState.DRAFT, ErasureState.SUBMITTED):
            raise ErasureRefused(f"{request.reference} is {request.get_state_display().lower()}: only a draft or "
                                 "a request waiting for approval can be cancelled")
        if request.approval and request.approval.state == ApprovalState.PENDING:
            approval_withdraw(approval=request.approval, actor=Actor.of_user(request.requested_by, via=actor.via))
            request.refresh_from_db()
        if request.state not in ENDED_STATES:
            _end(request, ErasureState.CANCELLED, actor, why=reason)
    return request


def erasure_dispatch(request: ErasureRequest) -> None:
    """Send the run (or a retry) to the warehouse worker once the transaction commits."""
    from apps.erasure.tasks import erasure_execute
    from apps.warehouse import dispatch

    dispatch.submit(erasure_execute, request_id=request.pk)


def erasure_retry(*, request: ErasureRequest, actor: Actor) -> ErasureRequest:
    """A failed request runs again from the step it reached (pages: on the worker)."""
    require_permission(actor, "erasure.run_erasurerequest")
    from apps.warehouse import dispatch

    dispatch.require_worker()
    with transaction.atomic():
        request = ErasureRequest.objects.select_for_update().get(pk=request.pk)
        if request.state != ErasureState.FAILED:
            raise ErasureRefused(f"{request.reference} is {request.get_state_display().lower()}, not failed")
        audit_record(actor=actor, action="erasure.retried", target=_target(request),
                     details={"reference": request.reference, "step": request.step})
        erasure_dispatch(request)
    return request


def erasure_reap() -> list[int]:
    """Requests left `executing` by a run whose process died (its lock is free) become failed at the
    step they reached; a retry resumes them. Beat calls it every minute, the CLI before it reads."""
    from apps.erasure import locks

    reaped = []
    for request in ErasureRequest.objects.filter(state=ErasureState.EXECUTING):
        if locks.is_running(request.pk):
            continue
        with transaction.atomic():
            locked = ErasureRequest.objects.select_for_update().get(pk=request.pk)
            if locked.state != ErasureState.EXECUTING or locks.is_running(request.pk):
                continue
            locked.state = ErasureState.FAILED
            locked.error = f"step {locked.step}: the run stopped (its process died); run it again to resume"
            locked.save(update_fields=["state", "error"])
            audit_record(actor=Actor.system("erasure"), action="erasure.failed", target=_target(locked),
                         details={"reference": locked.reference, "step": locked.step, "why": "process died"})
        reaped.append(request.pk)
    return reaped


def erasure_run(*, request_id: int) -> dict:
    """Run or resume an approved request where the warehouse lives; returns it as `erasure show` prints it."""
    from apps.erasure.execution import execute
    from apps.erasure.selectors import erasure_as_dict

    request = ErasureRequest.objects.get(pk=request_id)
    if request.state in (ErasureState.DRAFT, ErasureState.SUBMITTED):
        raise ErasureRefused(f"{request.reference} is {request.get_state_display().lower()}: it runs only once approved")
    if request.state in ENDED_STATES:
        return erasure_as_dict(request)
    return erasure_as_dict(execute(request_id))
