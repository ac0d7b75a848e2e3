"""Subject access requests (GDPR art. 15) in the REST API (v1): file one (its bundle is built on the
worker), follow it, download the bundle (only whoever filed it, before it expires)."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.accounts.actors import Actor
from apps.api.errors import one_or_404
from apps.api.schema import page_of
from apps.erasure import access
from apps.erasure.access_selectors import access_as_dict, access_requests_listed
from apps.erasure.models import SubjectAccessRequest
from apps.warehouse import dispatch


class AccessFileSerializer(serializers.Serializer):
    subjects = serializers.ListField(child=serializers.CharField(max_length=300), required=False, default=list,
                                     help_text='subject keys as "name=value"')
    job_ids = serializers.ListField(child=serializers.CharField(max_length=128), required=False, default=list)
    reason = serializers.CharField(help_text="the data subject's request, its reference")
    basis = serializers.CharField(required=False, default="GDPR art. 15")


class SubjectAccessViewSet(viewsets.ViewSet):
    required = {"GET": "erasure.view_subjectaccessrequest", "POST": "erasure.add_subjectaccessrequest"}
    lookup_value_regex = "[0-9]+"
    unavailable = "no warehouse worker is running (it builds the bundles)"

    def _one(self, pk) -> SubjectAccessRequest:
        return one_or_404(SubjectAccessRequest.objects.select_related("bundle", "requested_by"), pk, "subject access request")

    @extend_schema(responses={200: page_of(None, "SubjectAccessPage")}, operation_id="v1_subject_access_requests_list")
    def list(self, request):
        return Response({"results": [access_as_dict(r) for r in access_requests_listed()[:200]], "next": None})

    @extend_schema(request=AccessFileSerializer, responses={201: OpenApiTypes.OBJECT})
    def create(self, request):
        given = AccessFileSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        dispatch.require_worker()
        filed = access.access_request(actor=Actor.of_user(request.user, via="api"), submit=True,
                                      **given.validated_data)
        return Response(access_as_dict(self._one(filed.pk)), status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def retrieve(self, request, pk=None):
        return Response(access_as_dict(self._one(pk)))

    @extend_schema(responses={(200, "application/json"): OpenApiTypes.BINARY, (200, "text/csv"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"], url_path=r"bundle/(?P<fmt>json|csv)")
    def bundle(self, request, pk=None, fmt="json"):
        """The bundle's file (audited); only whoever filed the request, before it expires."""
        got = access.access_download(request=self._one(pk), actor=Actor.of_user(request.user, via="api"), fmt=fmt)
        response = HttpResponse(got.body, content_type=got.content_type)
        response["Content-Disposition"] = f'attachment; filename="{got.filename}"'
        return response
