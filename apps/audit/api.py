"""The audit chain in the REST API (v1): events (filtered, newest first, cursor-paginated) and verify."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.accounts.actors import Actor
from apps.audit import selectors, services
from apps.audit.models import AuditEvent


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = list(selectors.COLUMNS)


class AuditEventViewSet(viewsets.GenericViewSet):
    """Every audited action, newest first: `?actor=` (exact), `?action=` (a prefix), `?target=` (a part)."""

    required = {"GET": "audit.view_auditevent", "verify": "audit.verify_chain"}
    serializer_class = AuditEventSerializer
    queryset = AuditEvent.objects.none()
    ordering = "-seq"

    def _actor(self) -> Actor:
        return Actor.of_user(self.request.user, via="api")

    @extend_schema(parameters=[OpenApiParameter(n, OpenApiTypes.STR, OpenApiParameter.QUERY)
                               for n in ("actor", "action", "target")])
    def list(self, request):
        filters = selectors.EventFilter(**{k: request.query_params.get(k, "") for k in ("actor", "action", "target")})
        events = selectors.audit_events(actor=self._actor(), filters=filters)
        self.paginator.ordering = "-seq"
        page = self.paginate_queryset(events)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT})
    @action(detail=False, methods=["post"])
    def verify(self, request):
        """Verify the whole chain and its locked digests now (recorded as `audit.verified`)."""
        result = services.audit_verify(actor=self._actor())
        first = result.first_bad
        return Response({"ok": result.ok, "events": result.events, "digests": result.digests,
                         "head_seq": result.head_seq, "first_bad_seq": first.seq if first else None})
