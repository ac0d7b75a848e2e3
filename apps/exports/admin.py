"""Admin for the export ledger (read-only) and dead letters (edit fields, then re-queue)."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.html import format_html_join

from apps.accounts.actors import Actor
from apps.core.admin import ReadOnlyModelAdmin
from apps.exports import entry_fields, services
from apps.exports.models import DeadLetter, ExportBatch, ExportError


@admin.register(ExportBatch)
class ExportBatchAdmin(ReadOnlyModelAdmin):
    list_display = ("id", "created_at", "state", "entry_count", "records", "dead_letters", "first_id", "last_id",
                    "attempts", "consumer")
    list_filter = ("state", "stream")
    search_fields = ("id", "first_id", "last_id", "consumer")
    date_hierarchy = "created_at"
    exclude = ("entry_id_text",)


@admin.register(ExportError)
class ExportErrorAdmin(ReadOnlyModelAdmin):
    list_display = ("created_at", "stage", "message", "batch")
    list_filter = ("stage",)


@admin.register(DeadLetter)
class DeadLetterAdmin(admin.ModelAdmin):
    list_display = ("entry_id", "created_at", "reason", "requeued_at", "requeued_as")
    list_filter = ("requeued_at", "stream")
    search_fields = ("entry_id", "reason")
    fields = ("stream", "entry_id", "reason", "fields", "binary", "batch", "created_at", "requeued_at", "requeued_as",
              "requeued_by")
    readonly_fields = ("stream", "entry_id", "reason", "binary", "batch", "created_at", "requeued_at", "requeued_as",
                       "requeued_by")
    actions = ["requeue"]

    def has_add_permission(self, request):
        return False

    def has_requeue_permission(self, request) -> bool:
        return request.user.has_perm("exports.requeue_deadletter")

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.requeued_at is not None:  # edits after re-queuing would mislead
            return (*self.readonly_fields, "fields")
        return self.readonly_fields

    @admin.display(description="binary fields")
    def binary(self, obj: DeadLetter):
        sizes = entry_fields.binary_sizes(obj.binary_fields)
        if not sizes:
            return "none"
        return format_html_join("", "<div>{}: binary, {} bytes, kept as sent</div>", sizes)

    def save_model(self, request, obj, form, change):
        # The service writes the audit row (changed keys, no values) in the same transaction.
        services.dead_letter_edit(dead_letter=obj, fields=obj.fields, actor=Actor.of_user(request.user, via="admin"))

    @admin.action(description="Re-queue the selected entries into the archive stream (after fixing their fields)",
                  permissions=["requeue"])
    def requeue(self, request, queryset):
        done, skipped, failed = 0, 0, []
        actor = Actor.of_user(request.user, via="admin")
        for dead_letter in queryset:
            try:
                new_id = services.dead_letter_requeue(dead_letter=dead_letter, actor=actor)
            except ValidationError as exc:
                failed.append(f"{dead_letter.entry_id}: {' '.join(exc.messages)}")
                continue
            if new_id is None:
                skipped += 1
            else:
                done += 1
        if done:
            self.message_user(
                request, f"Re-queued {done} {pluralize_entries(done)}; the exporter checks them against the contract again.",
                messages.SUCCESS,
            )
        if skipped:
            self.message_user(request, f"{skipped} {pluralize_entries(skipped)} had been re-queued already.", messages.WARNING)
        for failure in failed:
            self.message_user(request, f"Not re-queued: {failure}", messages.ERROR)


def pluralize_entries(count: int) -> str:
    return "entry" if count == 1 else "entries"
