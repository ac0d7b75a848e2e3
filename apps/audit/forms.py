"""The audit viewer's filter form (GET): actor, action, target, time from and to."""

from django import forms

from apps.audit.selectors import EventFilter


class EventFilterForm(forms.Form):
    actor = forms.CharField(required=False, max_length=150, help_text="exact, e.g. alice, os:deploy, beat")
    action = forms.CharField(required=False, max_length=64, help_text="a prefix, e.g. retention.")
    target = forms.CharField(required=False, max_length=200, help_text="a part, e.g. approval:12")
    since = forms.DateTimeField(required=False, label="from", help_text="UTC, e.g. 2027-03-01 00:00")
    until = forms.DateTimeField(required=False, label="to", help_text="UTC, excluded")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("since") and cleaned.get("until") and cleaned["until"] <= cleaned["since"]:
            raise forms.ValidationError("'to' must be after 'from'.")
        return cleaned

    def filters(self) -> EventFilter | None:
        """The cleaned filters; None when they are invalid (the page shows the errors, not every event)."""
        if not self.is_bound:
            return EventFilter()
        if not self.is_valid():
            return None
        data = self.cleaned_data
        return EventFilter(actor=data["actor"].strip(), action=data["action"].strip(), target=data["target"].strip(),
                           since=data["since"], until=data["until"])
