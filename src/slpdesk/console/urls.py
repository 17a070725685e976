"""The console's routes; the names are a contract (base.html and other apps use them)."""

from django.urls import path

from . import live, outbox_views, publishing_views, views

app_name = "console"
urlpatterns = [
    path("", views.queue, name="queue"),
    path("changes/", live.changes, name="queue_changes"),
    path("bulk/", live.bulk, name="bulk"),
    path("views/", live.save_view, name="save_view"),
    path("views/<int:pk>/", live.edit_view, name="edit_view"),
    path("views/<int:pk>/delete/", live.delete_view, name="delete_view"),
    path("escalations/", views.escalations, name="escalations"),
    path("escalations/<int:pk>/acknowledge/", views.acknowledge, name="acknowledge"),
    path("calendars/", views.calendars, name="calendars"),
    path("mail/", outbox_views.outbox, name="outbox"),
    path("mail/<int:pk>/send-again/", outbox_views.retry, name="outbox_retry"),
    path("updates/", publishing_views.updates, name="updates"),
    path("updates/<int:pk>/publish/", publishing_views.publish_update, name="publish_update"),
    path("policy/", publishing_views.policy, name="policy"),
    path("inbound/", publishing_views.inbound_list, name="inbound"),
    path("inbound/<int:pk>/", publishing_views.inbound_detail, name="inbound_detail"),
    path("inbound/<int:pk>/<str:action>/", publishing_views.inbound_act, name="inbound_act"),
    path("cases/new/", views.new_case, name="new_case"),
    path("cases/<str:number>/", views.case_detail, name="case"),
    path("cases/<str:number>/triage/", views.triage, name="triage"),
    path("cases/<str:number>/information-complete/", views.info_complete,
         name="info_complete"),
    path("cases/<str:number>/request-information/", views.request_info, name="request_info"),
    path("cases/<str:number>/reply/", views.reply, name="reply"),
    path("cases/<str:number>/note/", views.note, name="note"),
    path("cases/<str:number>/call/", views.call, name="call"),
    path("cases/<str:number>/assign/", views.assign, name="assign"),
    path("cases/<str:number>/classify/", views.classify, name="classify"),
    path("cases/<str:number>/resolve/", views.resolve, name="resolve"),
    path("cases/<str:number>/exclude/", views.exclude, name="exclude"),
    path("cases/<str:number>/reopen/", views.reopen, name="reopen"),
    path("cases/<str:number>/escalate/", views.escalate, name="escalate"),
    path("cases/<str:number>/upload/", views.upload, name="upload"),
    path("cases/<str:number>/presence/", live.case_presence, name="presence"),
]
