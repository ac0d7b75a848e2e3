"""Four eyes: an approval authorises exactly one action, bound to the hash of its canonical JSON.

Somebody asks (the requester), somebody else with the action's approving permission approves or
rejects (the approver: never the requester, which the database refuses too), and approving runs
the approved content and nothing else (apps.approvals.services).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class ApprovalAction(models.TextChoices):
    PURGE = "purge", "Purge records"
    POLICY_CHANGE = "policy_change", "Retention policy change"
    HOLD_RELEASE = "hold_release", "Legal hold release"
    ERASURE = "erasure", "Erasure request"


class ApprovalState(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved and run"
    REJECTED = "rejected", "Rejected"
    FAILED = "failed", "Approved, but running it failed"
    WITHDRAWN = "withdrawn", "Withdrawn by the requester"


class Approval(models.Model):
    action = models.CharField(max_length=16, choices=ApprovalAction.choices)
    content = models.JSONField(help_text="The action exactly as it will run (canonical JSON is hashed)")
    content_hash = models.CharField(max_length=64, help_text="SHA-256 of the content's RFC 8785 canonical JSON")
    summary = models.JSONField(default=dict, blank=True,
                               help_text="What the approver should know: counts, the changes, the holds")
    reason = models.TextField(blank=True, help_text="Why the requester asks for it")
    target = models.CharField(max_length=200, blank=True, help_text="What it acts on, e.g. run:12 or hold:3")
    state = models.CharField(max_length=12, choices=ApprovalState.choices, default=ApprovalState.PENDING,
                             db_index=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    result = models.JSONField(default=dict, blank=True, help_text="What running it did (or where it runs)")
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at"]
        constraints = [
            models.CheckConstraint(condition=Q(decided_by__isnull=True) | ~Q(decided_by=F("requested_by")),
                                   name="approver_is_not_requester"),
        ]
        permissions = [
            ("approve_purge", "Can approve a purge of records"),
            ("approve_policy_change", "Can approve a retention policy change that weakens retention"),
            ("approve_hold_release", "Can approve the release of a legal hold"),
            ("approve_erasure", "Can approve an erasure request"),
        ]

    def __str__(self) -> str:
        return f"approval {self.pk}: {self.get_action_display().lower()} ({self.get_state_display().lower()})"

    @property
    def approve_permission(self) -> str:
        return f"approvals.approve_{self.action}"
