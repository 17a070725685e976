"""URL routes of slpdesk. The portal, console and API are added here as they are built."""

from django.contrib import admin
from django.urls import path

urlpatterns = [
    path("admin/", admin.site.urls),
]
