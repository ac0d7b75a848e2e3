"""The form a compliance officer files a subject access request with (the service checks it again)."""

from __future__ import annotations

from django import forms


class AccessRequestForm(forms.Form):
    subjects = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}),
                               help_text="The person: one subject key per line as KEY=VALUE, e.g. "
                                         "email=ann@example.org (only its keyed hash is kept)")
    job_ids = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}),
                              help_text="Jobs of the person's: ids separated by spaces, commas or new lines "
                                        "(kept until the bundle is built, then only as keyed hashes)")
    basis = forms.CharField(max_length=200, initial="GDPR art. 15", label="Legal basis")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}),
                             help_text="Why: the data subject's request, its reference")

    def clean_job_ids(self) -> list[str]:
        return self.cleaned_data["job_ids"].replace(",", " ").split()

    def clean_subjects(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["subjects"].splitlines() if line.strip()]
