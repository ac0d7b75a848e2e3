"""The certificate of erasure: a canonical JSON document (RFC 8785), its SHA-256 in the audit chain,
shown as an HTML page and a PDF (WeasyPrint) made from the same document.

It names the subject only by keyed hashes, and says what was removed where, what a legal hold
kept and why, and what the independent verification found. What it does not prove is said in
docs/compliance.md (copies outside the portal, space the storage reclaims later).
"""

from __future__ import annotations

import hashlib

import rfc8785
from django.template.loader import render_to_string
from django.utils import timezone

from apps.accounts.actors import Actor
from apps.audit.services import audit_record
from apps.erasure import criteria
from apps.erasure.models import ErasureRequest, ErasureState, LateRecord
from apps.retention.purge import held_counts

FORMAT = "archive-portal/erasure-certificate/1"


def _who(user, at) -> dict:
    return {"user": user.get_username() if user else None, "at": at.isoformat() if at else None}


def document(request: ErasureRequest, held: list[dict]) -> dict:
    from apps.erasure.execution import counts

    steps = request.steps
    cold = steps.get("cold", {}).get("result") or {}
    warm = steps.get("warm", {}).get("result") or {}
    approval = request.approval
    verification = request.verification or {}
    return {
        "format": FORMAT,
        "reference": request.reference,
        "subject": {k: v for k, v in request.hashed.items()},
        "legal_basis": request.legal_basis,
        "requested": _who(request.requested_by, request.submitted_at),
        "approved": _who(approval.decided_by if approval else None, approval.decided_at if approval else None),
        "due_on": request.due_on.isoformat(),
        "executed": {"started_at": request.started_at.isoformat() if request.started_at else None,
                     "attempts": request.attempts},
        "removed": counts(request),
        "warm_parts_rewritten": warm.get("parts_rewritten", 0),
        "cold": {"files_rewritten": cold.get("files_rewritten", 0), "files_in_table": cold.get("files_in_table", 0),
                 "snapshots_expired": cold.get("snapshots_expired", 0),
                 "older_files_removed": cold.get("older_files_removed", 0),
                 "old_file_versions_removed": cold.get("versions_removed", 0)},
        "kept_under_hold": held,
        "late_records_not_archived": LateRecord.objects.filter(request=request).count(),
        "verification": {"passed": bool(verification.get("passed")), "at": verification.get("at"),
                         "places": {place: {"clean": r["clean"], "found": r["found"],
                                            "kept_under_hold": r["kept_under_hold"]}
                                    for place, r in (verification.get("places") or {}).items()}},
        "issued_at": timezone.now().isoformat(),
    }


def sha256(doc: dict) -> str:
    return hashlib.sha256(rfc8785.dumps(doc)).hexdigest()


def issue(request: ErasureRequest, subject, holds) -> dict:
    """Write the certificate, chain its hash, scrub the raw identifiers, and end the request."""
    held = held_counts([subject.keeping(())], holds) if holds else []
    doc = document(request, held)
    digest = sha256(doc)
    state = ErasureState.COMPLETED_HELD if held else ErasureState.COMPLETED
    now = timezone.now()
    ended = {"certificate": doc, "certificate_sha256": digest, "state": state, "completed_at": now, "ended_at": now,
             "criteria": criteria.scrubbed(request.criteria), "scrubbed": True}
    ErasureRequest.objects.filter(pk=request.pk).update(**ended)
    audit_record(actor=Actor.system("erasure"), action="erasure.certified", target=f"erasure:{request.pk}",
                 details={"reference": request.reference, "certificate_sha256": digest, "state": state,
                          "removed": doc["removed"], "kept_under_hold": sum(h["records"] for h in held)})
    # Not `steps`: the run holds them and records this step as done after it (a reload would lose that).
    request.refresh_from_db(fields=list(ended))
    return {"certificate_sha256": digest, "state": state}


def render_pdf(request: ErasureRequest) -> bytes:
    """The certificate as PDF, from the same document the page shows."""
    from weasyprint import HTML

    html = render_to_string("erasure/certificate_pdf.html", {"doc": request.certificate,
                                                             "sha256": request.certificate_sha256})
    return HTML(string=html).write_pdf()
