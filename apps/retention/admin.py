"""Admin for retention: policies (with the effective rule explained), runs, and purge with a preview first."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from apps.core.admin import ReadOnlyModelAdmin
from apps.core.durations import DurationError, parse_duration
from apps.records.contract import OUTCOMES
from apps.retention import selectors
from apps.retention.models import RetentionPolicy, RetentionRun


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

    def save_model(self, request, obj, form, change):
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)


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
    list_display = ("started_at", "kind", "dry_run", "state", "as_of", "requested_by", "summary", "alert_count")
    list_filter = ("kind", "state", "dry_run")
    date_hierarchy = "started_at"
    readonly_fields = ("kind", "dry_run", "as_of", "parameters", "requested_by", "state", "plan_pretty",
                       "result_pretty", "alerts", "error", "started_at", "finished_at")
    exclude = ("plan", "result")
    change_list_template = "admin/retention/run_change_list.html"

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
            *super().get_urls(),
        ]

    def _can_act(self, request) -> bool:
        return request.user.has_perm("retention.change_retentionpolicy")

    def preview_view(self, request):
        """A dry run of the retention run with the current policies, on the worker that owns the warehouse."""
        if request.method != "POST" or not self._can_act(request):
            raise PermissionDenied
        from apps.retention.tasks import retention_run
        from apps.warehouse.dispatch import run_on_warehouse

        report = run_on_warehouse(retention_run, timeout=600, dry_run=True, actor_id=request.user.pk)
        messages.info(request, "Dry run finished: nothing was changed. The plan below is what a run would do now.")
        return redirect(reverse("admin:retention_retentionrun_change", args=[report["run"]]))

    def purge_view(self, request):
        """Step 1: the form and a preview (dry run). Step 2: confirm the same parameters to purge."""
        if not self._can_act(request):
            raise PermissionDenied
        from apps.retention.tasks import purge_records
        from apps.warehouse.dispatch import run_on_warehouse

        form = PurgeForm(request.POST or None)
        context = {**self.admin_site.each_context(request), "title": "Purge records from every tier", "form": form,
                   "opts": self.model._meta}
        if request.method == "POST" and form.is_valid():
            confirm = request.POST.get("confirm") == "yes"
            report = run_on_warehouse(
                purge_records, timeout=3600, older_than_seconds=int(form.cleaned_data["older_than"].total_seconds()),
                dry_run=not confirm, queues=form.cleaned_data["queues"] or None,
                outcomes=form.cleaned_data["outcomes"] or None, actor_id=request.user.pk)
            if confirm:
                messages.success(request, f"Purged {report['result'].get('records', 0)} records from every tier.")
                return redirect(reverse("admin:retention_retentionrun_change", args=[report["run"]]))
            context.update(preview=report["plan"], preview_run=report["run"])
        return render(request, "admin/retention/purge.html", context)
