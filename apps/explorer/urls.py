"""URLs of the explorer (mounted at /explorer/)."""

from django.urls import path

from apps.explorer import job_views, views

app_name = "explorer"
urlpatterns = [
    path("", views.console, name="console"),
    path("runs/", views.run_submit, name="submit"),
    path("runs/<uuid:run_id>/status.json", views.run_status, name="status"),
    path("runs/<uuid:run_id>/download/<str:fmt>/", views.run_download, name="download"),
    path("history/", views.history, name="history"),
    path("saved/", views.saved_save, name="save"),
    path("saved/<int:saved_id>/delete/", views.saved_delete, name="delete_saved"),
    path("stats/", views.stats, name="stats"),
    path("jobs/", job_views.search, name="jobs"),
    path("jobs/view/", job_views.job, name="job"),
]
