"""The REST API's one router (mounted at /api/): v1 resources from each app's `api.py`, the OpenAPI schema
at /api/schema/, Swagger UI at /api/docs/ and Redoc at /api/docs/redoc/ (served from the sidecar's
files: no CDN)."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from apps.api.errors import NoSuchResource
from apps.approvals.api import ApprovalViewSet
from apps.audit.api import AuditEventViewSet
from apps.compliance.api import LegalHoldViewSet
from apps.erasure.access_api import SubjectAccessViewSet
from apps.erasure.api import ErasureRequestViewSet
from apps.exports.api import DeadLetterViewSet
from apps.explorer.api import JobViewSet, QueryRunViewSet, StatsView, TemplatesView
from apps.operations.api import HealthView
from apps.restore.api import RestoreViewSet
from apps.retention.api import PoliciesView, PurgeViewSet

router = SimpleRouter()
router.register("query-runs", QueryRunViewSet, basename="query-run")
router.register("jobs", JobViewSet, basename="job")
router.register("restores", RestoreViewSet, basename="restore")
router.register("erasure-requests", ErasureRequestViewSet, basename="erasure-request")
router.register("audit-events", AuditEventViewSet, basename="audit-event")
router.register("approvals", ApprovalViewSet, basename="approval")
router.register("legal-holds", LegalHoldViewSet, basename="legal-hold")
router.register("subject-access-requests", SubjectAccessViewSet, basename="subject-access-request")
router.register("dead-letters", DeadLetterViewSet, basename="dead-letter")
router.register("purges", PurgeViewSet, basename="purge")

v1 = [
    path("stats/", StatsView.as_view(), name="stats"),
    path("health/", HealthView.as_view(), name="health"),
    path("templates/", TemplatesView.as_view(), name="templates"),
    path("retention-policies/", PoliciesView.as_view(), name="retention-policies"),
    *router.urls,
    # Last: any other path is the API's 404 in its one shape. Only paths ending in "/", so that one
    # without it is still redirected to its "/" form first (APPEND_SLASH), as before.
    re_path(r"^.*/$", NoSuchResource.as_view()),
]

app_name = "api"
urlpatterns = [
    path("v1/", include((v1, "v1"))),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("docs/redoc/", SpectacularRedocView.as_view(url_name="api:schema"), name="redoc"),
]
