"""The form a compliance officer places a legal hold with (the service checks it again)."""

from __future__ import annotations

from django import forms


class HoldForm(forms.Form):
    queue = forms.CharField(required=False, max_length=128, help_text="Records of this queue")
    tenant = forms.CharField(required=False, max_length=128, help_text="Records of this tenant id")
    job_ids = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}),
                              help_text="Records of these jobs: ids separated by spaces, commas or new lines")
    subjects = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}),
                               help_text="Records of these people: one subject key per line as KEY=VALUE, e.g. "
                                         "email=ann@example.org (only its keyed hash is kept)")
    date_from = forms.DateField(required=False, help_text="Enqueued on or after this day (UTC), YYYY-MM-DD")
    date_to = forms.DateField(required=False, help_text="Enqueued on or before this day (UTC), YYYY-MM-DD")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), help_text="Why the records must be kept")
    review_on = forms.DateField(required=False, help_text="When it is due for review (default: in 90 days)")

    def clean_job_ids(self) -> list[str]:
        return self.cleaned_data["job_ids"].replace(",", " ").split()

    def clean_subjects(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["subjects"].splitlines() if line.strip()]


class ReleaseForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}),
                             help_text="Why the records need not be kept any more (shown to the approver)")
