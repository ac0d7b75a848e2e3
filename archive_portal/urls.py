"""Top-level URLs: login, admin, the dashboard, the export pages, approvals, compliance (with erasure), the explorer, the audit viewer, health and metrics."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from apps.operations.views import health, metrics

admin.site.site_header = "Archive Portal administration"
admin.site.site_title = "Archive Portal"

urlpatterns = [
    path("", include("apps.exports.urls")),
    path("audit/", include("apps.audit.urls")),
    path("explorer/", include("apps.explorer.urls")),
    path("restores/", include("apps.restore.urls")),
    path("api/", include("apps.api.urls")),
    path("dashboard/", include("apps.dashboard.urls")),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("approvals/", include("apps.approvals.urls")),
    path("compliance/erasure/", include("apps.erasure.urls")),
    path("compliance/access/", include("apps.erasure.access_urls")),
    path("compliance/", include("apps.compliance.urls")),
    path("admin/", admin.site.urls),
    path("health/", health, name="health"),
    path("metrics", metrics, name="metrics"),
]
