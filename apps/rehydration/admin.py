"""Admin for rehydrations: the list with states, a form to request one, and "drop now"."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat

from apps.accounts.actors import Actor
from apps.core.durations import DurationError, parse_duration
from apps.rehydration import services
from apps.rehydration.models import Rehydration, RehydrationState
from apps.warehouse import dispatch


class RehydrationRequestForm(forms.ModelForm):
    queue_names = forms.CharField(required=False, label="Queues",
                                  help_text="Separated by commas or spaces; empty means every queue.")
    expires_in = forms.CharField(label="Expires in", help_text="e.g. 12h, 7d, 2w. The table is dropped then.")

    class Meta:
        model = Rehydration
        fields = ("date_from", "date_to")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["expires_in"].initial = settings.REHYDRATION_DEFAULT_EXPIRY

    def clean_queue_names(self) -> list[str]:
        return self.cleaned_data["queue_names"].replace(",", " ").split()

    def clean_expires_in(self):
        try:
            return parse_duration(self.cleaned_data["expires_in"])
        except DurationError as exc:
            raise ValidationError(str(exc)) from None

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            dispatch.require_worker()  # the copy runs there; say so now rather than leave it pending
        except dispatch.WorkerUnavailable as exc:
            raise ValidationError(str(exc)) from None
        try:
            data["queue_names"] = services.rehydration_validate(
                date_from=data["date_from"], date_to=data["date_to"], queues=data["queue_names"],
                expires_in=data["expires_in"])
        except ValidationError as exc:
            for name, errors in exc.message_dict.items():
                self.add_error({"queues": "queue_names"}.get(name, name), errors)
        return data


@admin.register(Rehydration)
class RehydrationAdmin(admin.ModelAdmin):
    form = RehydrationRequestForm
    list_display = ("short_id", "date_from", "date_to", "queue_list", "state", "table_name", "rows", "size",
                    "expires_at", "requested_by", "created_at")
    list_filter = ("state",)
    search_fields = ("table_name", "queues")
    date_hierarchy = "created_at"
    actions = ["drop_now"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("date_from", "date_to", "queue_names", "expires_in")
        return ("date_from", "date_to", "queues", "state", "table_name", "rows", "bytes", "error", "expires_at",
                "requested_by", "requested_via", "created_at", "started_at", "finished_at", "dropped_at")

    def has_change_permission(self, request, obj=None):
        return False  # a request is immutable; drop it and request another

    def has_delete_permission(self, request, obj=None):
        return False  # the record of who rehydrated what stays; "drop now" removes the table

    def has_drop_permission(self, request) -> bool:
        # Dropping ends what someone else may be querying: SREs and administrators, not analysts.
        return request.user.has_perm("rehydration.delete_rehydration")

    @admin.display(description="queues")
    def queue_list(self, obj: Rehydration) -> str:
        return ", ".join(obj.queues) or "all"

    @admin.display(description="size", ordering="bytes")
    def size(self, obj: Rehydration) -> str:
        return filesizeformat(obj.bytes) if obj.bytes is not None else ""

    def save_model(self, request, obj, form, change):
        created = services.rehydration_request(
            date_from=form.cleaned_data["date_from"], date_to=form.cleaned_data["date_to"],
            queues=form.cleaned_data["queue_names"], expires_in=form.cleaned_data["expires_in"],
            actor=Actor.of_user(request.user, via="admin"), via="admin",
        )
        # The admin logs and redirects with the object it passed in: make it the recorded one.
        for field in Rehydration._meta.concrete_fields:
            setattr(obj, field.attname, getattr(created, field.attname))
        obj._state.adding, obj._state.db = False, created._state.db
        self.message_user(request, f"Rehydration requested: table {created.table_name}. The warehouse worker copies "
                          "the range now; its state here turns to Ready when done.", messages.INFO)

    @admin.action(description="Drop the selected rehydrated tables now", permissions=["drop"])
    def drop_now(self, request, queryset):
        try:
            dispatch.require_worker()
        except dispatch.WorkerUnavailable as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        dropped, actor = 0, Actor.of_user(request.user, via="admin")
        for rehydration in queryset.exclude(state=RehydrationState.EXPIRED):
            services.rehydration_drop(rehydration=rehydration, actor=actor)
            dropped += 1
        if dropped:
            self.message_user(request, f"Dropping {dropped} rehydrated table{'s' if dropped != 1 else ''}.",
                              messages.SUCCESS)
        else:
            self.message_user(request, "Nothing to drop: the selected tables were dropped already.", messages.WARNING)
