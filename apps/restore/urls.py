"""URLs of restores (mounted at /restores/)."""

from django.urls import path

from apps.restore import views

app_name = "restore"
urlpatterns = [
    path("", views.listing, name="list"),
    path("new/", views.submit, name="submit"),
    path("<uuid:restore_id>/", views.detail, name="detail"),
    path("<uuid:restore_id>/status.json", views.status, name="status"),
]
