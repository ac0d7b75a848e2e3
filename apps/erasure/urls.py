"""URLs of the erasure pages (mounted at /compliance/erasure/)."""

from django.urls import path

from apps.erasure import views

app_name = "erasure"
urlpatterns = [
    path("", views.erasure_list, name="list"),
    path("new/", views.erasure_new, name="new"),
    path("<int:request_id>/", views.erasure_detail, name="detail"),
    path("<int:request_id>/progress.json", views.erasure_progress, name="progress"),
    path("<int:request_id>/decide/", views.erasure_decide, name="decide"),
    path("<int:request_id>/submit/", views.erasure_submit, name="submit"),
    path("<int:request_id>/cancel/", views.erasure_cancel, name="cancel"),
    path("<int:request_id>/retry/", views.erasure_retry, name="retry"),
    path("<int:request_id>/certificate/", views.erasure_certificate, name="certificate"),
]
