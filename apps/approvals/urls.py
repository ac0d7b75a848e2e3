"""URLs of the approval pages."""

from django.urls import path

from apps.approvals import views

app_name = "approvals"
urlpatterns = [
    path("", views.approval_list, name="list"),
    path("<int:approval_id>/", views.approval_detail, name="detail"),
    path("<int:approval_id>/decide/", views.approval_decide, name="decide"),
]
