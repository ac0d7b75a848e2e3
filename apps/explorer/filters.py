"""The jobs search's filters, as django-filter FilterSets: the jobs page, `archive list` and the API
(`GET /api/v1/jobs/?queue=Q&outcome=O`) read the same fields, check them the same way and turn them
into the same query run.

The search itself is the `job_search` template (apps/explorer/templates.py), run as an audited query
run on the warehouse worker, so a FilterSet here filters no Django queryset: it filters a
`JobSearch`, which collects the template's parameters. `JobFilter(data).search()` gives it, or
raises `TemplateError` with every bad field named.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import django_filters

from apps.explorer.templates import SEARCH_MAX_ROWS, TEMPLATES, TemplateError
from apps.records.contract import OUTCOMES

SEARCH = "job_search"


@dataclass(frozen=True)
class JobSearch:
    """The `job_search` parameters gathered so far (text, as a form or the command line gives them)."""

    params: dict = field(default_factory=dict)
    model = None  # django-filter asks; there is no Django model behind the archive's records

    def all(self) -> JobSearch:  # what django-filter calls on the "queryset" before filtering it
        return self

    def where(self, name: str, value) -> JobSearch:
        text = value.isoformat() if hasattr(value, "isoformat") else str(value)
        return replace(self, params={**self.params, name: text})


def _help(name: str) -> str:
    return next(p.help for p in TEMPLATES[SEARCH].params if p.name == name)


class _Param(django_filters.CharFilter):
    """A text field that becomes the `job_search` parameter of the same name (checked by the template)."""

    def __init__(self, name: str, **kwargs):
        super().__init__(method=lambda search, _, value: search.where(name, value), help_text=_help(name),
                         label=next(p.label for p in TEMPLATES[SEARCH].params if p.name == name), **kwargs)


class JobFilter(django_filters.FilterSet):
    """Filters of the jobs search: every one given must hold (empty ones are left out)."""

    queue = _Param("queue")
    outcome = django_filters.ChoiceFilter(
        choices=[(o, o) for o in sorted(OUTCOMES)], label="Outcome", help_text=_help("outcome"),
        method=lambda search, _, value: search.where("outcome", value))
    # `from` is a Python keyword: the field is declared below under its query name.
    to = _Param("to")
    worker = _Param("worker")
    error_type = _Param("error_type")
    tenant = _Param("tenant")
    tag = _Param("tag")
    trace_id = _Param("trace_id")
    job_id = _Param("job_id")
    payload = _Param("payload")
    limit = django_filters.NumberFilter(
        label="Limit", help_text=_help("limit"), min_value=1, max_value=SEARCH_MAX_ROWS,
        method=lambda search, _, value: search.where("limit", int(value)))

    def __init__(self, data=None, *args, **kwargs):
        super().__init__({} if data is None else data, *args, queryset=JobSearch(), **kwargs)

    def filter_queryset(self, queryset: JobSearch) -> JobSearch:
        for name, value in self.form.cleaned_data.items():
            queryset = self.filters[name].filter(queryset, value)
        return queryset

    def search(self) -> JobSearch:
        """The search these filters ask for, its parameters checked by the template; TemplateError
        naming every bad field otherwise (the form's checks and the template's)."""
        problems = {name: " ".join(errors) for name, errors in self.errors.items()}
        params = self.qs.params if not problems else {
            name: str(value).strip() for name, value in self.data.items()
            if name in self.filters and name not in problems and str(value).strip()}
        template = TEMPLATES[SEARCH]
        for param in template.params:
            if param.name in params:
                try:
                    param.convert(params[param.name])
                except TemplateError as exc:
                    problems[param.name] = str(exc).removeprefix(f"{param.name}: ").removeprefix(f"{param.name} ")
        if problems:
            raise TemplateError("; ".join(f"{name}: {why}" for name, why in problems.items()))
        template.bind(params)
        return JobSearch(params)


JobFilter.base_filters["from"] = _Param("from")
JobFilter.base_filters["from"].field_name = "from"
JobFilter.base_filters.move_to_end("from", last=False)
