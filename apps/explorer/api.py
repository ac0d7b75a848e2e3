"""The explorer's REST API (v1): stats, templates, query runs and jobs. Thin: the same services and
selectors as the pages and the CLI, the same permissions (checked here and again in the services).

A query run is created (`POST /api/v1/query-runs/`) and executed by the warehouse worker; poll
`GET /api/v1/query-runs/<id>/` until it has ended, then read `results/<csv|json|parquet>/`. The jobs
search and a job's attempts answer at once: the API waits for the worker's run (never running it
in the web process).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.actors import Actor
from apps.api.errors import Unavailable
from apps.api.schema import page_of
from apps.explorer import jobs, selectors, services
from apps.explorer.filters import SEARCH, JobFilter
from apps.explorer.models import QueryRun
from apps.warehouse import dispatch

RUN = services.RUN_PERMISSION
NO_WORKER = "no warehouse worker is running (it executes every query run)"


def _actor(request) -> Actor:
    return Actor.of_user(request.user, via="api")


class StatsView(APIView):
    """The archive's figures as the worker last computed them (every 15 minutes): per tier records,
    stored bytes, size as JSON, compression ratio, bytes saved, oldest and newest; per queue the same."""

    required = {"GET": "explorer.view_statssnapshot"}
    unavailable = "no figures yet (the worker computes them every 15 minutes)"

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        snapshot = selectors.latest_stats()
        if snapshot is None:
            raise Unavailable("no figures yet: the worker computes them every 15 minutes")
        return Response({**snapshot.figures, "computed_at": snapshot.computed_at.isoformat()})


class TemplateSerializer(serializers.Serializer):
    name = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField()
    params = serializers.ListField(child=serializers.DictField())


class TemplatesView(APIView):
    """The query templates and their typed parameters."""

    required = {"GET": RUN}

    @extend_schema(responses={200: TemplateSerializer(many=True)})
    def get(self, request):
        from apps.explorer.templates import TEMPLATES

        return Response([t.as_dict() for t in TEMPLATES.values()])


class QueryRunSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    state = serializers.CharField()
    actor = serializers.CharField()
    via = serializers.CharField()
    allow_list = serializers.CharField()
    template = serializers.CharField(allow_null=True)
    params = serializers.DictField()
    sql = serializers.CharField(allow_blank=True)
    explain = serializers.BooleanField()
    error = serializers.CharField(allow_null=True)
    submitted_at = serializers.DateTimeField(allow_null=True)
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    queued_ms = serializers.FloatField(allow_null=True)
    elapsed_ms = serializers.FloatField(allow_null=True)
    total_ms = serializers.FloatField(allow_null=True)
    rows = serializers.IntegerField(allow_null=True)
    truncated = serializers.BooleanField(allow_null=True)
    rows_read = serializers.IntegerField(allow_null=True)
    bytes_read = serializers.IntegerField(allow_null=True)
    result_bytes = serializers.IntegerField(allow_null=True)
    columns = serializers.ListField(child=serializers.ListField(child=serializers.CharField()), allow_null=True)
    tables = serializers.ListField(child=serializers.CharField(), allow_null=True)
    result_kept = serializers.BooleanField()


class QueryRunCreateSerializer(serializers.Serializer):
    sql = serializers.CharField(required=False, allow_blank=False, help_text="one SELECT (or give a template)")
    template = serializers.CharField(required=False, help_text="a template's name (GET /api/v1/templates/)")
    params = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False,
                                   help_text="the template's parameters, e.g. {\"from\": \"-30d\"}")
    explain = serializers.BooleanField(required=False, default=False, help_text="the engine's plan, not the rows")

    def validate(self, data):
        if ("sql" in data) == ("template" in data):
            raise serializers.ValidationError("give either sql or template")
        if "params" in data and "template" not in data:
            raise serializers.ValidationError({"params": "params go with a template"})
        return data


class QueryRunViewSet(viewsets.ViewSet):
    """Your query runs: create one (SQL or a template), follow it, download its result."""

    required = {"GET": "explorer.view_queryrun", "POST": RUN}
    lookup_value_regex = "[0-9a-f-]{36}"
    unavailable = NO_WORKER

    def _own(self, request, pk) -> QueryRun:
        try:
            return selectors.run_for(request.user, uuid.UUID(pk))
        except (QueryRun.DoesNotExist, ValueError):  # ValueError: 36 characters of the pattern, but no UUID
            raise NotFound("no such query run of yours") from None

    @extend_schema(responses={200: page_of(QueryRunSerializer, "QueryRunPage")})
    def list(self, request):
        """Your newest runs (at most 200)."""
        runs = selectors.history_for(request.user, limit=200)
        return Response({"results": [selectors.run_as_dict(r) for r in runs], "next": None})

    @extend_schema(request=QueryRunCreateSerializer, responses={201: QueryRunSerializer, 400: OpenApiTypes.OBJECT})
    def create(self, request):
        """Submit a run for the worker; 201 with the run (queued), or 400 with why it was refused (the
        refused run is recorded too: its id is in the error's `run`)."""
        given = QueryRunCreateSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        dispatch.require_worker()
        run = services.query_run_submit(actor=_actor(request), sql=data.get("sql"), template=data.get("template"),
                                        params=data.get("params"), explain=data["explain"])
        if run.state == "refused":
            return Response({"error": {"code": "refused", "message": run.error, "run": str(run.pk)}},
                            status=status.HTTP_400_BAD_REQUEST)
        services.dispatch(run)
        return Response(selectors.run_as_dict(run), status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: QueryRunSerializer})
    def retrieve(self, request, pk=None):
        return Response(selectors.run_as_dict(self._own(request, pk)))

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.BINARY, (200, "application/json"): OpenApiTypes.BINARY,
                              (200, "application/vnd.apache.parquet"): OpenApiTypes.BINARY},
                   operation_id="query_runs_results")
    @action(detail=True, methods=["get"], url_path=r"results/(?P<fmt>csv|json|parquet)")
    def results(self, request, pk=None, fmt="csv"):
        """The stored result as CSV, JSON or Parquet (audited as a download)."""
        name, content_type, body = services.query_result_download(run=self._own(request, pk), actor=_actor(request),
                                                                  fmt=fmt)
        response = HttpResponse(body, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response


def _filter_parameters() -> list[OpenApiParameter]:
    return [OpenApiParameter(name, OpenApiTypes.INT if name == "limit" else OpenApiTypes.STR,
                             OpenApiParameter.QUERY, description=str(f.extra.get("help_text") or ""))
            for name, f in JobFilter.base_filters.items()]


_ATTEMPT = inline_serializer("JobAttempt", {
    "job_id": serializers.CharField(), "retries": serializers.IntegerField(), "queue": serializers.CharField(),
    "outcome": serializers.CharField(), "enqueue_time": serializers.DateTimeField()})


def _next_page(request, attempts: list[dict]) -> tuple[str | None, int]:
    """The link to the attempts after these (None when there are none), and how many of these to show.

    The search is newest first and its `to` is exclusive, so the next page is the same search with
    `to` just after this page's oldest enqueue time, and this page stops before that time: attempts
    that share it are shown together on the next page, none twice, none skipped. A page whose
    attempts all share one time is empty and links to the same search with a bigger `limit`; past
    SEARCH_MAX_ROWS attempts at one time, the rest of that time is skipped. `from` is pinned to the
    moment it meant now (`-7d` would otherwise move while someone pages).
    """
    from apps.explorer.templates import SEARCH_MAX_ROWS, TEMPLATES

    search = JobFilter(request.query_params).search().params
    bound = TEMPLATES[SEARCH].bind(search)
    limit = int(bound["limit"])
    if len(attempts) < limit:
        return None, len(attempts)
    oldest = attempts[-1]["enqueue_time"]
    shown = sum(1 for a in attempts if a["enqueue_time"] != oldest)
    params = {**search, "from": bound["from"].isoformat(),
              "to": (datetime.fromisoformat(oldest) + timedelta(microseconds=1)).isoformat()}
    if not shown and limit < SEARCH_MAX_ROWS:
        params["limit"] = str(min(limit * 2, SEARCH_MAX_ROWS))
    elif not shown:
        shown, params["to"] = len(attempts), oldest
    return f"{request.build_absolute_uri(request.path)}?{urlencode(params)}", shown


class JobViewSet(viewsets.ViewSet):
    """Archived jobs: search (the jobs page's filters), and one job's attempts. Each is an audited query run."""

    required = {"GET": RUN}
    lookup_value_regex = "[^/]+"
    unavailable = NO_WORKER

    @extend_schema(parameters=_filter_parameters(),
                   responses={200: page_of(_ATTEMPT.__class__, "JobPage", run=serializers.UUIDField())})
    def list(self, request):
        """Attempts newest first, at most `limit`; `next` continues further back (the same filters)."""
        dispatch.require_worker()
        found = jobs.search(actor=_actor(request), filters=request.query_params, in_process=False)
        following, shown = _next_page(request, found["jobs"])
        return Response({"results": found["jobs"][:shown], "next": following, "run": found["run"]["id"]})

    @extend_schema(responses={200: inline_serializer("Job", {"job_id": serializers.CharField(),
                                                             "attempts": _ATTEMPT.__class__(many=True)})})
    def retrieve(self, request, pk=None):
        dispatch.require_worker()
        job = jobs.show(actor=_actor(request), job_id=pk, in_process=False)
        if not job["attempts"]:
            raise NotFound(f"no archived attempt of job {pk!r} (erased, purged or never archived)")
        return Response({"job_id": job["job_id"], "run": job["run"]["id"], "attempts": job["attempts"]})
