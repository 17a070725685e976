from django.urls import path

from . import updates_views, views

app_name = "portal"
urlpatterns = [
    path("", views.home, name="home"),
    path("cases/", views.cases, name="cases"),
    path("cases/new/", views.new_case, name="new_case"),
    path("updates/", updates_views.updates, name="updates"),
    path("statements/", views.statements, name="statements"),
    path("statements/<str:month>/", views.statement, name="statement"),
    path("statements/<str:month>/csv/", views.statement_csv, name="statement_csv"),
    path("cases/<str:number>/", views.case_detail, name="case"),
    # POST only: the forms on the case page.
    path("cases/<str:number>/reply/", views.reply, name="reply"),
    path("cases/<str:number>/files/", views.upload, name="upload"),
    path("cases/<str:number>/escalate/", views.escalate, name="escalate"),
    path("cases/<str:number>/reopen/", views.reopen, name="reopen"),
    # The signed, expiring link mailed when an unverified e-mail asks to escalate.
    path("cases/<str:number>/escalate/confirm/<str:token>/", views.confirm_escalation,
         name="confirm_escalation"),
]
