"""URLs of the export pages."""

from django.urls import path

from apps.exports import views

app_name = "exports"
urlpatterns = [
    path("", views.status, name="status"),
    path("status.json", views.status_json, name="status-json"),
]
