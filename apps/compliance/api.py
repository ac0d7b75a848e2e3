"""Legal holds in the REST API (v1): list, place, see, and ask for a release (approved by somebody else)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.accounts.actors import Actor
from apps.api.errors import one_or_404
from apps.api.schema import page_of
from apps.approvals.selectors import approval_as_dict
from apps.compliance import selectors, services
from apps.compliance.models import LegalHold


class HoldSerializer(serializers.Serializer):
    reason = serializers.CharField(help_text="why: the case, its reference")
    queue = serializers.CharField(required=False, allow_blank=True, default="")
    tenant = serializers.CharField(required=False, allow_blank=True, default="")
    job_ids = serializers.ListField(child=serializers.CharField(max_length=128), required=False, default=list)
    subjects = serializers.ListField(child=serializers.CharField(max_length=300), required=False, default=list,
                                     help_text='subject keys as "name=value" (kept only as keyed hashes)')
    date_from = serializers.DateField(required=False, default=None)
    date_to = serializers.DateField(required=False, default=None)
    review_on = serializers.DateField(required=False, default=None)


class ReleaseSerializer(serializers.Serializer):
    reason = serializers.CharField(help_text="why the hold may end")


class LegalHoldViewSet(viewsets.ViewSet):
    required = {"GET": "compliance.view_legalhold", "POST": "compliance.add_legalhold",
                "release": "compliance.release_legalhold"}
    lookup_value_regex = "[0-9]+"

    def _one(self, pk) -> LegalHold:
        return one_or_404(LegalHold.objects, pk, "legal hold")

    @extend_schema(responses={200: page_of(None, "LegalHoldPage")}, operation_id="v1_legal_holds_list")
    def list(self, request):
        return Response({"results": [selectors.hold_as_dict(h) for h in selectors.holds_listed()[:500]], "next": None})

    @extend_schema(request=HoldSerializer, responses={201: OpenApiTypes.OBJECT})
    def create(self, request):
        given = HoldSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        hold = services.hold_place(actor=Actor.of_user(request.user, via="api"), **given.validated_data)
        return Response(selectors.hold_as_dict(hold), status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def retrieve(self, request, pk=None):
        return Response(selectors.hold_as_dict(self._one(pk)))

    @extend_schema(request=ReleaseSerializer, responses={201: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def release(self, request, pk=None):
        """Ask for the release: it opens an approval (GET /api/v1/approvals/) that somebody else decides."""
        given = ReleaseSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        approval = services.hold_release_request(hold=self._one(pk), actor=Actor.of_user(request.user, via="api"),
                                                 reason=given.validated_data["reason"])
        return Response(approval_as_dict(approval), status=status.HTTP_201_CREATED)
