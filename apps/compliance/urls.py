"""URLs of the compliance pages."""

from django.urls import path

from apps.compliance import views

app_name = "compliance"
urlpatterns = [
    path("", views.home, name="home"),
    path("holds/", views.hold_list, name="holds"),
    path("holds/<int:hold_id>/", views.hold_detail, name="hold"),
    path("holds/<int:hold_id>/release/", views.hold_release, name="hold-release"),
]
