"""Erasure requests in the REST API (v1): file one (it is submitted and previewed on the worker, which
opens its approval), see it, approve or reject it (four eyes: never your own), and its certificate.
Thin: `apps.erasure.services` decides and checks every permission again."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from apps.accounts.actors import Actor
from apps.api.errors import one_or_404
from apps.api.schema import page_of
from apps.erasure import certificate, selectors, services
from apps.erasure.models import ErasureRequest, ErasureState
from apps.warehouse import dispatch


def _actor(request) -> Actor:
    return Actor.of_user(request.user, via="api")


def _strings(help_text: str):
    return serializers.ListField(child=serializers.CharField(max_length=300), required=False, default=list,
                                 help_text=help_text)


class ErasureFileSerializer(serializers.Serializer):
    legal_basis = serializers.CharField(max_length=200, help_text="e.g. GDPR art. 17(1)(a)")
    reason = serializers.CharField(help_text="why: the data subject's request, its reference")
    subjects = _strings('subject keys as "name=value", e.g. "email=ann@example.org"')
    job_ids = _strings("job ids")
    trace_ids = _strings("trace ids")
    payload_hashes = _strings("payload hashes (32 hex digits)")
    tenant = serializers.CharField(required=False, allow_blank=True, default="")
    date_from = serializers.DateField(required=False, default=None)
    date_to = serializers.DateField(required=False, default=None)
    due_on = serializers.DateField(required=False, default=None, help_text="answer due (default: one month)")


class DecisionSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", help_text="needed to reject")
    content_hash_seen = serializers.CharField(required=False, allow_blank=True, default="",
                                              help_text="the approval's content hash you reviewed (refused if it differs)")


class ErasureRequestViewSet(viewsets.ViewSet):
    required = {"GET": "erasure.view_erasurerequest", "POST": "erasure.add_erasurerequest",
                "approve": "approvals.approve_erasure", "reject": "approvals.approve_erasure"}
    lookup_value_regex = "[0-9]+"
    unavailable = "no warehouse worker is running (it previews and carries out erasures)"

    def _one(self, pk) -> ErasureRequest:
        return one_or_404(ErasureRequest.objects.select_related("approval", "requested_by"), pk, "erasure request")

    @extend_schema(responses={200: page_of(None, "ErasureRequestPage")}, operation_id="v1_erasure_requests_list",
                   parameters=[OpenApiParameter("state", OpenApiTypes.STR, OpenApiParameter.QUERY,
                                                enum=ErasureState.values)])
    def list(self, request):
        """Requests, newest first (`?state=` to choose one state)."""
        state = request.query_params.get("state") or None
        if state is not None and state not in ErasureState.values:
            raise serializers.ValidationError({"state": f"one of {', '.join(ErasureState.values)}"})
        listed = selectors.requests_listed(state=state)[:200]
        return Response({"results": [selectors.erasure_as_dict(r) for r in listed], "next": None})

    @extend_schema(request=ErasureFileSerializer, responses={201: OpenApiTypes.OBJECT})
    def create(self, request):
        """File a request; it is submitted at once and its preview (counts per place) computed on the
        worker, which then opens the approval another officer decides."""
        given = ErasureFileSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        dispatch.require_worker()
        filed = services.erasure_file(actor=_actor(request), submit=True, **given.validated_data)
        services.erasure_preview_dispatch(request=filed, actor=_actor(request))
        return Response(selectors.erasure_as_dict(self._one(filed.pk)), status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def retrieve(self, request, pk=None):
        return Response(selectors.erasure_as_dict(self._one(pk)))

    @extend_schema(request=DecisionSerializer, responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """Approve (never your own request); the erasure then runs on the worker."""
        given = DecisionSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        dispatch.require_worker()
        done = services.erasure_approve(request=self._one(pk), actor=_actor(request), submit=True,
                                        content_hash_seen=given.validated_data["content_hash_seen"] or None)
        return Response(selectors.erasure_as_dict(done))

    @extend_schema(request=DecisionSerializer, responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        given = DecisionSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        done = services.erasure_reject(request=self._one(pk), actor=_actor(request),
                                       reason=given.validated_data["reason"])
        return Response(selectors.erasure_as_dict(done))

    @extend_schema(responses={200: OpenApiTypes.OBJECT, (200, "application/pdf"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"], url_path=r"certificate(?:/(?P<fmt>json|pdf))?")
    def certificate(self, request, pk=None, fmt=None):
        """The certificate of erasure: its canonical JSON document and SHA-256, or `certificate/pdf/`."""
        erasure = self._one(pk)
        if not erasure.certificate_sha256:
            raise NotFound(f"{erasure.reference} has no certificate ({erasure.get_state_display().lower()})")
        if fmt == "pdf":
            response = HttpResponse(certificate.render_pdf(erasure), content_type="application/pdf")
            response["Content-Disposition"] = f'attachment; filename="{erasure.reference}-certificate.pdf"'
            return response
        return Response({"document": erasure.certificate, "sha256": erasure.certificate_sha256})
