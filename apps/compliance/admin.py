"""Admin for legal holds (read-only here: holds are placed and released on the holds pages and the CLI,
placing by a compliance officer, releasing through an approval) and for the subject key rules."""

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import format_html

from apps.accounts.actors import Actor
from apps.compliance.models import LegalHold, SubjectKeyRule
from apps.compliance.subject_key_rules import rules_as_json, subject_keys_set
from apps.compliance.subject_keys import SubjectKeyError
from apps.core.admin import ReadOnlyModelAdmin


@admin.register(LegalHold)
class LegalHoldAdmin(ReadOnlyModelAdmin):
    list_display = ("id", "state", "criteria_label", "owner", "review_on", "placed_by", "placed_at", "page")
    list_filter = ("state",)
    search_fields = ("queue", "tenant", "reason")
    readonly_fields = ("queue", "tenant", "job_ids", "date_from", "date_to", "reason", "owner", "review_on", "state",
                       "placed_by", "placed_at", "released_by", "released_at", "release_reason", "page")

    @admin.display(description="manage")
    def page(self, obj: LegalHold) -> str:
        return format_html('<a href="{}">open the hold page</a>', reverse("compliance:hold", args=[obj.pk]))


@admin.register(SubjectKeyRule)
class SubjectKeyRuleAdmin(admin.ModelAdmin):
    """Where identifiers of people are read at ingest; changes apply to records archived from then on."""

    list_display = ("name", "source", "field", "kind")
    list_filter = ("source", "kind")

    # Every change goes through the one service, so it is validated and in the audit chain.
    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def _others(self, obj) -> list[dict]:
        original = SubjectKeyRule.objects.filter(pk=obj.pk).first() if obj.pk else None
        return [r for r in rules_as_json() if not original or (r["source"], r["field"]) != (original.source,
                                                                                            original.field)]

    def _set(self, request, items) -> None:
        try:
            subject_keys_set(items=items, actor=Actor.of_user(request.user, via="admin"))
        except SubjectKeyError as exc:
            raise ValidationError(str(exc)) from None

    def save_model(self, request, obj, form, change):
        self._set(request, [*self._others(obj), {"name": obj.name, "source": obj.source, "field": obj.field,
                                                 "kind": obj.kind}])
        obj.pk = SubjectKeyRule.objects.get(source=obj.source, field=obj.field).pk

    def delete_model(self, request, obj):
        self._set(request, self._others(obj))
