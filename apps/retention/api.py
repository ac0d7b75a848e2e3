"""Retention in the REST API (v1): the policies (read; set the whole set, with a dry run, where a change
that weakens retention opens an approval), and purges (a preview first; confirming it asks for an
approval that somebody else gives). The worker does the counting and the purging."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.actors import Actor
from apps.api.errors import one_or_404
from apps.api.schema import page_of
from apps.approvals.selectors import approval_as_dict
from apps.core.durations import DurationError, parse_duration
from apps.retention import selectors, services
from apps.retention.models import RetentionRun
from apps.warehouse import dispatch


def _actor(request) -> Actor:
    return Actor.of_user(request.user, via="api")


class PolicySetSerializer(serializers.Serializer):
    policies = serializers.ListField(child=serializers.DictField(), help_text="the whole set, as `archive policy get` prints it")
    dry_run = serializers.BooleanField(required=False, default=False)
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class PoliciesView(APIView):
    """GET: the policies; PUT: make the set exactly this (all or nothing; a weakening change waits for approval)."""

    required = {"GET": "retention.view_retentionpolicy", "PUT": "retention.change_retentionpolicy"}

    @extend_schema(responses={200: page_of(None, "RetentionPolicyPage")})
    def get(self, request):
        return Response({"results": selectors.policies_as_json(), "next": None})

    @extend_schema(request=PolicySetSerializer, responses={200: OpenApiTypes.OBJECT})
    def put(self, request):
        given = PolicySetSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        changes = services.policy_set(items=data["policies"], actor=_actor(request), dry_run=data["dry_run"],
                                      reason=data["reason"])
        return Response({**changes.as_dict(), "weakened": changes.weakened, "approval": changes.approval,
                         "dry_run": data["dry_run"]})


class PurgeSerializer(serializers.Serializer):
    older_than = serializers.CharField(help_text="e.g. 90d, 12h")
    queues = serializers.ListField(child=serializers.CharField(), required=False, default=list)
    outcomes = serializers.ListField(child=serializers.CharField(), required=False, default=list)


class ConfirmSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")


def _run(run: RetentionRun) -> dict:
    return {"id": run.pk, "kind": run.kind, "state": run.state, "dry_run": run.dry_run, "parameters": run.parameters,
            "plan": run.plan, "error": getattr(run, "error", "") or None,
            "finished_at": run.finished_at.isoformat() if run.finished_at else None}


class PurgeViewSet(viewsets.ViewSet):
    """POST: a purge preview (dry run, on the worker); GET its plan; POST confirm: ask for its approval."""

    required = {"GET": "retention.view_retentionrun", "POST": "retention.purge_records"}
    lookup_value_regex = "[0-9]+"
    unavailable = "no warehouse worker is running (it counts and purges)"

    def _one(self, pk) -> RetentionRun:
        return one_or_404(RetentionRun.objects.filter(kind="purge"), pk, "purge")

    @extend_schema(request=PurgeSerializer, responses={201: OpenApiTypes.OBJECT})
    def create(self, request):
        given = PurgeSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        try:
            older = parse_duration(data["older_than"])
        except DurationError as exc:
            raise serializers.ValidationError({"older_than": str(exc)}) from None
        dispatch.require_worker()
        run = services.purge_request(actor=_actor(request), older_than=older, dry_run=True,
                                     queues=data["queues"], outcomes=data["outcomes"])
        services.run_submit(run)
        return Response(_run(run), status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def retrieve(self, request, pk=None):
        return Response(_run(self._one(pk)))

    @extend_schema(request=ConfirmSerializer, responses={201: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def confirm(self, request, pk=None):
        """Ask for the purge this preview showed: an approval somebody else gives (POST /api/v1/approvals/<id>/approve/)."""
        given = ConfirmSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        approval = services.purge_approval_request(preview=self._one(pk), actor=_actor(request),
                                                   reason=given.validated_data["reason"])
        return Response(approval_as_dict(approval), status=status.HTTP_201_CREATED)
