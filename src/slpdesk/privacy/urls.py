"""The console's personal-data pages (administrators), under /console/privacy/."""

from django.urls import path

from . import views

app_name = "privacy"
urlpatterns = [
    path("", views.people, name="people"),
    path("<int:pk>/", views.person, name="person"),
    path("<int:pk>/export/", views.person_export, name="export"),
    path("<int:pk>/erase/", views.person_erase, name="erase"),
]
