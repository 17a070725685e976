from django.urls import path

from . import views

app_name = "console"
urlpatterns = [
    path("", views.queue, name="queue"),
    path("escalations/", views.escalations, name="escalations"),
    path("calendars/", views.calendars, name="calendars"),
    path("cases/new/", views.new_case, name="new_case"),
]
