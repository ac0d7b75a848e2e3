"""Approvals in the REST API (v1): the four-eyes decisions of every kind (purges, policy changes, hold
releases, erasures). Approving runs exactly the approved content; nobody decides their own."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.accounts.actors import Actor
from apps.api.errors import one_or_404
from apps.api.schema import page_of
from apps.approvals import selectors, services
from apps.approvals.models import Approval, ApprovalAction, ApprovalState
from apps.warehouse import dispatch


class DecideSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", help_text="needed to reject")
    content_hash_seen = serializers.CharField(required=False, allow_blank=True, default="",
                                              help_text="the content hash you reviewed (refused if it differs)")


class ApprovalViewSet(viewsets.ViewSet):
    """`?state=pending` (the default) or any state; approve, reject, or withdraw your own."""

    required = {"GET": "approvals.view_approval", "POST": "approvals.view_approval"}  # deciding: checked per action
    lookup_value_regex = "[0-9]+"
    unavailable = "no warehouse worker is running (it runs approved purges and erasures)"

    def _one(self, pk) -> Approval:
        return one_or_404(Approval.objects.select_related("requested_by", "decided_by"), pk, "approval")

    @extend_schema(responses={200: page_of(None, "ApprovalPage")}, operation_id="v1_approvals_list",
                   parameters=[OpenApiParameter("state", OpenApiTypes.STR, OpenApiParameter.QUERY,
                                                enum=[*ApprovalState.values, "all"], default="pending")])
    def list(self, request):
        state = request.query_params.get("state", "pending")
        if state not in (*ApprovalState.values, "all"):
            raise serializers.ValidationError({"state": f"one of {', '.join([*ApprovalState.values, 'all'])}"})
        found = Approval.objects.select_related("requested_by", "decided_by").order_by("-pk")
        found = found if state == "all" else found.filter(state=state)
        return Response({"results": [selectors.approval_as_dict(a) for a in found[:200]], "next": None})

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def retrieve(self, request, pk=None):
        return Response(selectors.approval_as_dict(self._one(pk)))

    def _decided(self, request, pk, decision: str):
        given = DecideSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        approval, actor = self._one(pk), Actor.of_user(request.user, via="api")
        data = given.validated_data
        if decision == "approve":
            if approval.action in (ApprovalAction.PURGE, ApprovalAction.ERASURE):
                dispatch.require_worker()
            approval = services.approval_approve(approval=approval, actor=actor,
                                                 content_hash_seen=data["content_hash_seen"] or None,
                                                 reason=data["reason"])
        elif decision == "reject":
            approval = services.approval_reject(approval=approval, actor=actor, reason=data["reason"])
        else:
            approval = services.approval_withdraw(approval=approval, actor=actor)
        return Response(selectors.approval_as_dict(approval))

    @extend_schema(request=DecideSerializer, responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """Approve (never your own) and run the approved content."""
        return self._decided(request, pk, "approve")

    @extend_schema(request=DecideSerializer, responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        return self._decided(request, pk, "reject")

    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        """Withdraw your own pending request."""
        return self._decided(request, pk, "withdraw")
