"""URLs of the subject access pages (mounted at /compliance/access/)."""

from django.urls import path

from apps.erasure import access_views as views

app_name = "subject_access"
urlpatterns = [
    path("", views.access_list, name="list"),
    path("new/", views.access_new, name="new"),
    path("<int:request_id>/", views.access_detail, name="detail"),
    path("<int:request_id>/download/<str:fmt>/", views.access_download, name="download"),
    path("<int:request_id>/retry/", views.access_retry, name="retry"),
]
