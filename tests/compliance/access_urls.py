"""The portal's URLs with the subject access pages mounted at /compliance/access/ (as the portal will)."""

from django.urls import include, path

from archive_portal.urls import urlpatterns as portal

urlpatterns = [path("compliance/access/", include("apps.erasure.access_urls")), *portal]
