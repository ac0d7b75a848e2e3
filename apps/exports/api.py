"""Dead letters in the REST API (v1): entries the exporter refused, with the reason; re-queue one
(after correcting it in the admin) back onto the archive stream, once."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from apps.accounts.actors import Actor
from apps.api.schema import page_of
from apps.exports import services
from apps.exports.models import DeadLetter


def _dead_letter(letter: DeadLetter) -> dict:
    """What the list shows: the reason and where it came from, not the fields (they may hold personal data)."""
    return {"id": letter.pk, "reason": letter.reason, "stream": letter.stream, "entry_id": letter.entry_id,
            "created_at": letter.created_at.isoformat() if letter.created_at else None,
            "requeued_at": letter.requeued_at.isoformat() if letter.requeued_at else None,
            "requeued_as": letter.requeued_as or None}


class DeadLetterViewSet(viewsets.ViewSet):
    required = {"GET": "exports.view_deadletter", "requeue": "exports.requeue_deadletter"}
    lookup_value_regex = "[0-9]+"

    @extend_schema(responses={200: page_of(None, "DeadLetterPage")}, operation_id="v1_dead_letters_list")
    def list(self, request):
        letters = DeadLetter.objects.order_by("-pk")[:500]
        return Response({"results": [_dead_letter(d) for d in letters], "next": None})

    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def requeue(self, request, pk=None):
        """Put it back on the archive stream (checked again by the exporter); once only."""
        letter = DeadLetter.objects.filter(pk=pk).first()
        if letter is None:
            raise NotFound(f"no dead letter {pk}")
        new_id = services.dead_letter_requeue(dead_letter=letter, actor=Actor.of_user(request.user, via="api"))
        letter.refresh_from_db()
        return Response({**_dead_letter(letter), "requeued_now": new_id is not None})
