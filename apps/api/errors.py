"""The API's one error shape: `{"error": {"code", "message", "fields"?}}` with the fitting status.

DRF's own exceptions (authentication, permission, validation, throttling, not found) and the
domain's refusals (a bad template parameter, a refused query, a refused restore) all answer this
way, so a script reads one shape. `message` is one line a person can act on.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView, exception_handler


class Unavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "unavailable"
    default_detail = "not available yet; try again shortly"


def _refusals() -> tuple[type[Exception], ...]:
    from apps.approvals.services import ApprovalRefused
    from apps.erasure.services import ErasureRefused
    from apps.explorer.allowed import QueryRefused
    from apps.explorer.jobs import JobsUnavailable
    from apps.explorer.templates import TemplateError
    from apps.compliance.services import HoldRefused
    from apps.erasure.access import AccessRefused
    from apps.restore.adapters import Refusal
    from apps.retention.services import PolicyFileError, RunRefused

    return (TemplateError, QueryRefused, Refusal, JobsUnavailable, ErasureRefused, ApprovalRefused, HoldRefused,
            AccessRefused, PolicyFileError, RunRefused)


def _message(detail) -> str:
    if isinstance(detail, dict):
        return "; ".join(f"{k}: {_message(v)}" for k, v in detail.items())
    if isinstance(detail, list):
        return " ".join(_message(d) for d in detail)
    return str(detail)


def handle(exc, context):
    """DRF's EXCEPTION_HANDLER: every error in the one shape."""
    from apps.warehouse.dispatch import WorkerUnavailable

    if isinstance(exc, _refusals()):
        body = {"code": "refused", "message": str(exc).replace("\n", " ")}
        if getattr(exc, "field", None):
            body["fields"] = {exc.field: body["message"]}
        return Response({"error": body}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, WorkerUnavailable):
        exc = Unavailable(str(exc))
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or None)
    response = exception_handler(exc, context)
    if response is None:
        return None
    detail = exc.detail if isinstance(exc, exceptions.APIException) else response.data
    codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
    body = {"code": codes if isinstance(codes, str) else "invalid", "message": _message(detail)}
    if isinstance(exc, exceptions.ValidationError) and isinstance(detail, dict):
        body["fields"] = {k: _message(v) for k, v in detail.items()}
    response.data = {"error": body}
    return response


class NoSuchResource(APIView):
    """Any other path under /api/v1/ (an id of the wrong form, a format that does not exist): the API's
    404 in its one shape, not the site's HTML page."""

    schema = None  # not an operation of the API

    def initial(self, request, *args, **kwargs):  # before any method's handler: every method gets this
        super().initial(request, *args, **kwargs)  # authenticated like the rest: 401 first
        raise exceptions.NotFound(f"no such resource: {request.path}")

    def get_permissions(self):
        return [IsAuthenticated()]


def one_or_404(queryset, pk, what: str):
    """The row `pk` of `queryset`, or the API's 404 naming what was looked for."""
    found = queryset.filter(pk=pk).first()
    if found is None:
        raise exceptions.NotFound(f"no {what} {pk}")
    return found
