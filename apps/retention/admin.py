"""Admin for retention: policies (with the effective rule explained), runs, and purge with a preview first."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from apps.accounts.actors import Actor
from apps.approvals.models import Approval, ApprovalAction
from apps.approvals.services import ApprovalRefused
from apps.core.admin import ReadOnlyModelAdmin
from apps.core.durations import DurationError, parse_duration
from apps.records.contract import OUTCOMES
from apps.retention import selectors, services
from apps.retention.models import RetentionPolicy, RetentionRun, RunKind, RunState
from apps.warehouse import dispatch


@admin.register(RetentionPolicy)
class RetentionPolicyAdmin(admin.ModelAdmin):
    list_display = ("scope", "description", "redis_hours", "warm_days", "cold_days", "max_records", "payload_mode",
                    "sample_rate", "updated_at", "updated_by")
    list_filter = ("outcome", "payload_mode")
    search_fields = ("queue", "description")
    readonly_fields = ("effective", "updated_at", "updated_by")
    fieldsets = (
        ("Applies to", {"fields": ("queue", "outcome", "description"),
                        "description": "Leave queue and outcome empty for the global default. For each setting, "
                                       "the most specific rule that sets it wins: queue and outcome, then queue, "
                                       "then outcome, then the global default, then the built-in defaults. "
                                       "Empty settings inherit."}),
        ("Tiers", {"fields": ("redis_hours", "warm_days", "cold_days", "max_records")}),
        ("Payload", {"fields": ("payload_mode", "sample_rate", "keep_failures", "payload_max_bytes",
                                "redaction_patterns")}),
        ("Effective policy", {"fields": ("effective", "updated_at", "updated_by")}),
    )

    @admin.display(description="scope", ordering="queue")
    def scope(self, obj: RetentionPolicy) -> str:
        return obj.scope_label

    @admin.display(description="What applies to this scope, and which rule decides each setting")
    def effective(self, obj: RetentionPolicy) -> str:
        if obj.pk is None:
            return "Save to see the effective policy."
        resolved = selectors.policy_book().for_pair(obj.queue or "(any queue)", obj.outcome or "success")
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((line,) for line in resolved.explain())))

    # Every change goes through `policy_set`, so one that weakens retention or payload handling
    # opens an approval instead of taking effect (nothing is saved until it is approved).
    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # one rule at a time, each through the service
        return actions

    def _set(self, request, items) -> None:
        try:
            changes = services.policy_set(items=items, actor=Actor.of_user(request.user, via="admin"),
                                          reason=f"changed in the admin by {request.user.get_username()}")
        except services.PolicyFileError as exc:
            raise ValidationError(str(exc)) from None
        request.policy_approval = changes.approval

    def _others(self, obj) -> list[dict]:
        original = RetentionPolicy.objects.filter(pk=obj.pk).first() if obj.pk else None
        scope = (original.queue, original.outcome) if original else None
        return [i for i in selectors.policies_as_json() if (i["queue"], i["outcome"]) != scope]

    def save_model(self, request, obj, form, change):
        self._set(request, [*self._others(obj), *selectors.policies_as_json([obj])])
        if request.policy_approval is None:
            saved = RetentionPolicy.objects.get(queue=obj.queue, outcome=obj.outcome)
            obj.pk, obj.updated_at, obj.updated_by = saved.pk, saved.updated_at, saved.updated_by

    def delete_model(self, request, obj):
        self._set(request, self._others(obj))

    # The admin's own history must not claim a change that waits for approval; django-auditlog and
    # the audit chain record what really changed, when it changed.
    def log_addition(self, request, obj, message):
        return None if getattr(request, "policy_approval", None) else super().log_addition(request, obj, message)

    def log_change(self, request, obj, message):
        return None if getattr(request, "policy_approval", None) else super().log_change(request, obj, message)

    def log_deletion(self, request, obj, object_repr):
        return None  # logged before the service decides; auditlog records a deletion that happens

    def log_deletions(self, request, queryset):
        return None

    def _approval_response(self, request):
        approval = getattr(request, "policy_approval", None)
        if approval is None:
            return None
        messages.warning(request, f"This change weakens retention or payload handling, so nothing was changed: "
                                  f"approval {approval} asks a second person to approve it.")
        return redirect(reverse("approvals:detail", args=[approval]))

    def response_add(self, request, obj, post_url_continue=None):
        return self._approval_response(request) or super().response_add(request, obj, post_url_continue)

    def response_change(self, request, obj):
        return self._approval_response(request) or super().response_change(request, obj)

    def response_delete(self, request, obj_display, obj_id):
        return self._approval_response(request) or super().response_delete(request, obj_display, obj_id)


class PurgeForm(forms.Form):
    older_than = forms.CharField(help_text="Records enqueued longer ago than this: e.g. 90d, 12h, 2w.")
    queues = forms.CharField(required=False, help_text="Separated by commas or spaces; empty means every queue.")
    outcomes = forms.MultipleChoiceField(required=False, choices=[(o, o) for o in sorted(OUTCOMES)],
                                         widget=forms.CheckboxSelectMultiple, help_text="None ticked: every outcome.")

    def clean_older_than(self):
        try:
            return parse_duration(self.cleaned_data["older_than"])
        except DurationError as exc:
            raise ValidationError(str(exc)) from None

    def clean_queues(self) -> list[str]:
        return self.cleaned_data["queues"].replace(",", " ").split()


@admin.register(RetentionRun)
class RetentionRunAdmin(ReadOnlyModelAdmin):  # the audit trail of destructive runs stays
    list_display = ("started_at", "kind", "dry_run", "state", "as_of", "actor", "summary", "alert_count")
    list_filter = ("kind", "state", "dry_run")
    date_hierarchy = "started_at"
    readonly_fields = ("kind", "dry_run", "as_of", "parameters", "actor", "requested_by", "preview", "state",
                       "plan_pretty", "result_pretty", "alerts", "error", "started_at", "finished_at")
    exclude = ("plan", "result")
    change_list_template = "admin/retention/run_change_list.html"
    change_form_template = "admin/retention/run_change_form.html"

    @admin.display(description="what")
    def summary(self, obj: RetentionRun) -> str:
        plan = obj.plan or {}
        if obj.kind == "purge":
            return f"{plan.get('records', '?')} records ({', '.join(plan.get('selections', []))[:80]})"
        parts = []
        if "purge" in plan:
            parts.append(f"purge {plan['purge'].get('records', 0)}")
        if "tiering" in plan:
            parts.append(f"tier {plan['tiering'].get('records', 0)}")
        if "compaction" in plan:
            parts.append(f"compact {plan['compaction'].get('days', 0)} days")
        if "trim" in plan:
            parts.append(f"trim {plan['trim'].get('trimmed_entries', 0) + plan['trim'].get('deleted_entries', 0)}")
        return ", ".join(parts)

    @admin.display(description="alerts")
    def alert_count(self, obj: RetentionRun) -> int:
        return len(obj.alerts or [])

    @admin.display(description="plan (what the run found to do)")
    def plan_pretty(self, obj: RetentionRun) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.plan, indent=2, default=str))

    @admin.display(description="result (what it did)")
    def result_pretty(self, obj: RetentionRun) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.result, indent=2, default=str))

    def get_urls(self):
        return [
            path("preview/", self.admin_site.admin_view(self.preview_view), name="retention_preview"),
            path("purge/", self.admin_site.admin_view(self.purge_view), name="retention_purge"),
            path("<int:run_id>/confirm/", self.admin_site.admin_view(self.confirm_view), name="retention_confirm"),
            *super().get_urls(),
        ]

    def _submitted(self, request, submit) -> HttpResponseRedirect | None:
        """Record and submit a run to the warehouse worker, then show its page (which follows it).

        The web never runs it: with no worker serving the warehouse queue, nothing is recorded and
        the page says so."""
        try:
            dispatch.require_worker()
            with transaction.atomic():
                run = submit(Actor.of_user(request.user, via="admin"))
                services.run_submit(run)
        except (dispatch.WorkerUnavailable, services.RunRefused) as exc:
            messages.error(request, str(exc))
            return None
        messages.info(request, f"Run {run.pk} was sent to the warehouse worker. This page follows it and shows "
                               "the result when it is done.")
        return redirect(reverse("admin:retention_retentionrun_change", args=[run.pk]))

    def preview_view(self, request):
        """A dry run of the retention run with the current policies, on the worker that owns the warehouse."""
        if request.method != "POST" or not request.user.has_perm("retention.start_retentionrun"):
            raise PermissionDenied
        done = self._submitted(request, lambda actor: services.retention_run_request(actor=actor, dry_run=True))
        return done or redirect(reverse("admin:retention_retentionrun_changelist"))

    def purge_view(self, request):
        """Step 1: the selection; its preview (a dry run) is sent to the worker. Step 2, on the
        preview's page once it is done: confirm exactly that preview (`confirm_view`)."""
        if not request.user.has_perm("retention.purge_records"):
            raise PermissionDenied
        form = PurgeForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            done = self._submitted(request, lambda actor: services.purge_request(
                actor=actor, older_than=form.cleaned_data["older_than"], dry_run=True,
                queues=form.cleaned_data["queues"] or None, outcomes=form.cleaned_data["outcomes"] or None))
            if done:
                return done
        context = {**self.admin_site.each_context(request), "title": "Purge records from every place they live",
                   "form": form, "opts": self.model._meta}
        return render(request, "admin/retention/purge.html", context)

    def confirm_view(self, request, run_id: int):
        """Step 2: ask for the purge of exactly this preview; a second person approves it (and so runs it)."""
        if request.method != "POST" or not request.user.has_perm("retention.purge_records"):
            raise PermissionDenied
        preview = get_object_or_404(RetentionRun, pk=run_id)
        if request.POST.get("confirm") != "yes":
            messages.error(request, "Tick the box to confirm that you checked the preview.")
            return redirect(reverse("admin:retention_retentionrun_change", args=[run_id]))
        try:
            approval = services.purge_approval_request(preview=preview, actor=Actor.of_user(request.user, via="admin"),
                                                       reason=request.POST.get("reason", ""))
        except (services.RunRefused, ApprovalRefused) as exc:
            messages.error(request, str(exc))
            return redirect(reverse("admin:retention_retentionrun_change", args=[run_id]))
        messages.info(request, f"Approval {approval.pk} asks a second person to approve this purge; nothing is "
                               "removed until they do.")
        return redirect(reverse("approvals:detail", args=[approval.pk]))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        run = get_object_or_404(RetentionRun, pk=object_id)
        extra = {"run": run, **(extra_context or {})}
        if not run.finished:
            # Only after a while, and with a short timeout: the page refreshes every few seconds.
            waiting = (timezone.now() - run.started_at).total_seconds() > NO_WORKER_AFTER_S
            extra["no_worker"] = waiting and run.state == RunState.QUEUED and not _worker_live()
        asked = Approval.objects.filter(action=ApprovalAction.PURGE, target=f"run:{run.pk}").first()
        extra["approval"] = asked
        extra["is_purge_preview"] = run.kind == RunKind.PURGE and run.dry_run and run.state == RunState.PREVIEWED
        extra["can_confirm"] = (extra["is_purge_preview"] and asked is None
                                and not RetentionRun.objects.filter(preview=run).exists()
                                and not run.parameters.get("as_of_given")
                                and request.user.has_perm("retention.purge_records"))
        return super().change_view(request, object_id, form_url, extra)


NO_WORKER_AFTER_S = 5


def _worker_live() -> bool:
    try:
        return dispatch.warehouse_worker_live(timeout=0.5)
    except dispatch.WorkerUnavailable:
        return False
