"""The reports' routes (under /reports/)."""

from django.urls import path

from . import views

app_name = "reports"
urlpatterns = [
    path("", views.report, name="report"),
    path("cases/", views.case_list, name="cases"),
    path("export/<str:what>.<str:fmt>", views.export, name="export"),
    path("board/", views.board, name="board"),
    path("simulate/", views.simulator, name="simulate"),
]
