"""The forms a compliance officer files, rejects and cancels erasure requests with (the services check again)."""

from __future__ import annotations

from django import forms
from django.utils import timezone

from apps.compliance.subject_key_rules import rules
from apps.erasure.services import DUE_AFTER

_LIST_HELP = "one per line (or separated by spaces or commas)"


def _lines(rows: int = 3):
    return forms.Textarea(attrs={"rows": rows, "cols": 60})


class ErasureForm(forms.Form):
    subjects = forms.CharField(required=False, widget=_lines(), label="Subjects")
    job_ids = forms.CharField(required=False, widget=_lines(2), label="Job ids", help_text=f"Job ids, {_LIST_HELP}")
    trace_ids = forms.CharField(required=False, widget=_lines(2), label="Trace ids",
                                help_text=f"Trace ids, {_LIST_HELP}")
    payload_hashes = forms.CharField(required=False, widget=_lines(2), label="Payload hashes",
                                     help_text=f"32 hex digits each (the payload_hash column), {_LIST_HELP}")
    tenant = forms.CharField(required=False, max_length=128, label="Tenant",
                             help_text="Only records of this tenant id (optional)")
    date_from = forms.DateField(required=False, label="From", help_text="Enqueued on or after this day (UTC), YYYY-MM-DD")
    date_to = forms.DateField(required=False, label="To", help_text="Enqueued on or before this day (UTC), YYYY-MM-DD")
    # Required by the service, which says what to give (one wording for the pages and the CLI).
    legal_basis = forms.CharField(required=False, max_length=200, label="Legal basis",
                                  help_text="e.g. GDPR art. 17(1)(a): no longer necessary")
    reason = forms.CharField(required=False, widget=_lines(2), label="Reason",
                             help_text="The data subject's request and its reference (shown to the approver)")
    due_on = forms.DateField(label="Due on", help_text="When the answer is due (GDPR art. 12(3): one month)")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        names = sorted({rule.name for rule in rules()})
        keys = ", ".join(names) if names else "none configured (admin, Subject key rules)"
        example = f"{names[0]}=..." if names else "email=ann@example.org"
        self.fields["subjects"].help_text = (f"One KEY=VALUE per line, e.g. {example}; the subject keys configured: "
                                             f"{keys}. Values are hashed at once; only their hashes are kept when "
                                             "the request ends.")
        self.fields["due_on"].initial = (timezone.now() + DUE_AFTER).date()

    def clean_subjects(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["subjects"].splitlines() if line.strip()]

    def clean_legal_basis(self) -> str:
        return self.cleaned_data["legal_basis"].strip()

    def clean_reason(self) -> str:
        return self.cleaned_data["reason"].strip()


class RejectForm(forms.Form):
    reason = forms.CharField(widget=_lines(2), label="Why it is rejected",
                             help_text="Required; the requester sees it")


class CancelForm(forms.Form):
    reason = forms.CharField(required=False, max_length=500, label="Why it is cancelled")
