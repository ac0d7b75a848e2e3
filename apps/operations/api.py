"""Health in the REST API: the same report as `/health/` (up or down per component), for any role."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.operations.health import health_report


class HealthView(APIView):
    required = {"GET": "exports.view_exportbatch"}

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        return Response(health_report())
