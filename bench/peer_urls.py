"""The django-helpdesk peer's URLs (bench only): helpdesk at the root."""

from django.urls import include, path

urlpatterns = [path("", include("helpdesk.urls"))]
