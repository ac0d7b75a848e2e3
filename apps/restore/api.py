"""Restores in the REST API (v1): ask for one (with a dry run first, for a set), follow it, list them.
Thin: `apps.restore.services` checks the role and every field, the warehouse worker carries it out."""

from __future__ import annotations

import uuid

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from apps.accounts.actors import Actor
from apps.api.schema import page_of
from apps.restore import selectors, services
from apps.restore.adapters import ADAPTERS
from apps.restore.models import Restore
from apps.warehouse import dispatch


class RestoreCreateSerializer(serializers.Serializer):
    adapter = serializers.ChoiceField(choices=ADAPTERS, help_text="celery, list or stream")
    target = serializers.CharField(required=False, allow_blank=True, default="",
                                   help_text="the Celery task (default: the record's task tag), the list or the stream")
    job_ids = serializers.ListField(child=serializers.CharField(max_length=128), required=False,
                                    help_text="jobs to restore (their latest attempt); or a set:")
    queue = serializers.CharField(required=False, allow_blank=True, default="", help_text="a set: the queue")
    outcome = serializers.CharField(required=False, allow_blank=True, default="", help_text="a set: the outcome")
    start = serializers.DateTimeField(required=False, default=None, help_text="a set: enqueued at or after")
    end = serializers.DateTimeField(required=False, default=None, help_text="a set: enqueued before")
    expected_count = serializers.IntegerField(required=False, default=None, min_value=0,
                                              help_text="refuse unless the set holds exactly this many jobs")
    dry_run = serializers.BooleanField(required=False, default=False)
    force = serializers.BooleanField(required=False, default=False)


class RestoreSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    state = serializers.CharField()
    actor = serializers.CharField()
    adapter = serializers.CharField()
    target = serializers.CharField(allow_null=True)
    dry_run = serializers.BooleanField()
    force = serializers.BooleanField()
    selected = serializers.IntegerField(allow_null=True)
    restored = serializers.IntegerField()
    refused = serializers.IntegerField()
    reasons = serializers.DictField(child=serializers.IntegerField())
    error = serializers.CharField(allow_null=True)


class RestoreViewSet(viewsets.ViewSet):
    """Archived jobs sent back into the live queue (SRE and Administrator restore; Compliance Officers see)."""

    required = {"GET": "restore.view_restore", "POST": services.PERMISSION}
    lookup_value_regex = "[0-9a-f-]{36}"
    unavailable = "no warehouse worker is running (it carries out every restore)"

    @extend_schema(responses={200: page_of(RestoreSerializer, "RestorePage")})
    def list(self, request):
        return Response({"results": [selectors.restore_as_dict(r) for r in selectors.recent(200)], "next": None})

    @extend_schema(request=RestoreCreateSerializer, responses={201: RestoreSerializer})
    def create(self, request):
        given = RestoreCreateSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        dispatch.require_worker()
        restore = services.restore_submit(actor=Actor.of_user(request.user, via="api"), adapter=data["adapter"],
                                          target=data["target"], job_ids=data.get("job_ids"), queue=data["queue"],
                                          outcome=data["outcome"], start=data["start"], end=data["end"],
                                          expected_count=data["expected_count"], dry_run=data["dry_run"],
                                          force=data["force"])
        services.dispatch(restore)
        return Response(selectors.restore_as_dict(restore), status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: RestoreSerializer})
    def retrieve(self, request, pk=None):
        try:
            restore = Restore.objects.filter(pk=uuid.UUID(pk)).first()
        except ValueError:  # 36 characters of the pattern, but no UUID
            restore = None
        if restore is None:
            raise NotFound("no such restore")
        return Response(selectors.restore_as_dict(restore))
