"""``/api/v1/webhooks``: administrators manage webhook subscriptions and read their
delivery log (everyone else: 403). The payloads sent are in the OpenAPI
document's ``webhooks`` (:mod:`slpdesk.webhooks.openapi`)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Path, Query, Router, Status

from slpdesk.desk import access
from slpdesk.desk.services import DeskError
from slpdesk.webhooks import manage
from slpdesk.webhooks.models import Delivery, Webhook
from slpdesk.webhooks.schemas import (
    DeliveryOut,
    WebhookCreated,
    WebhookIn,
    WebhookOut,
    WebhookPatch,
)

from .errors import ApiError
from .schemas import ErrorOut

router = Router(tags=["webhooks"])
MAX_ID = 2**53
ERRORS = {code: ErrorOut for code in (400, 401, 403, 404, 409, 422, 429)}


def _admin(request) -> None:
    if not access.can_manage_webhooks(request.user):
        raise ApiError(403, "forbidden", _("Only administrators can manage webhooks."))


def _hook(request, pk: int) -> Webhook:
    _admin(request)
    return get_object_or_404(access.webhooks_for(request.user), pk=pk)


def _out(hook: Webhook) -> dict:
    return {"id": hook.pk, "url": hook.url, "events": hook.events,
            "description": hook.description, "enabled": hook.enabled,
            "created_at": hook.created_at, "failing_since": hook.failing_since,
            "disabled_at": hook.disabled_at, "disabled_reason": hook.disabled_reason}


def _invalid(exc: DeskError) -> ApiError:
    return ApiError(422, exc.code, str(exc))


def _id():
    return Path(..., ge=1, le=MAX_ID, description="The subscription's id.")


@router.get("", response={200: list[WebhookOut], **ERRORS}, operation_id="list_webhooks",
            summary="The webhook subscriptions (administrators)")
def list_webhooks(request):
    _admin(request)
    return [_out(h) for h in access.webhooks_for(request.user)]


@router.post("", response={201: WebhookCreated, **ERRORS}, operation_id="create_webhook",
             summary="Subscribe a URL to events (administrators)",
             description="Answers with the signing secret, shown this once.")
def create_webhook(request, payload: WebhookIn):
    _admin(request)
    try:
        hook, secret = manage.create(url=payload.url, events=payload.events,
                                     description=payload.description, actor=request.user,
                                     now=timezone.now())
    except DeskError as exc:
        raise _invalid(exc) from None
    return Status(201, {"id": hook.pk, "url": hook.url, "events": hook.events,
                        "secret": secret})


@router.get("/{webhook_id}", response={200: WebhookOut, **ERRORS}, operation_id="get_webhook",
            summary="One subscription (administrators)")
def get_webhook(request, webhook_id: int = _id()):
    return _out(_hook(request, webhook_id))


@router.patch("/{webhook_id}", response={200: WebhookOut, **ERRORS},
              operation_id="update_webhook", summary="Change a subscription (administrators)")
def update_webhook(request, payload: WebhookPatch, webhook_id: int = _id()):
    hook = _hook(request, webhook_id)
    try:
        manage.update(hook, actor=request.user, now=timezone.now(), url=payload.url,
                      events=payload.events, description=payload.description,
                      enabled=payload.enabled)
    except DeskError as exc:
        raise _invalid(exc) from None
    return _out(hook)


@router.delete("/{webhook_id}", response={204: None, **ERRORS}, operation_id="delete_webhook",
               summary="Remove a subscription and its delivery log (administrators)")
def delete_webhook(request, webhook_id: int = _id()):
    manage.delete(_hook(request, webhook_id), actor=request.user)
    return Status(204, None)


@router.get("/{webhook_id}/deliveries", response={200: list[DeliveryOut], **ERRORS},
            operation_id="list_webhook_deliveries",
            summary="A subscription's delivery log, newest first (administrators)")
def list_webhook_deliveries(request, webhook_id: int = _id(),
                    limit: int = Query(50, ge=1, le=100)):
    hook = _hook(request, webhook_id)
    rows = (Delivery.objects.filter(webhook=hook).select_related("case").defer("body")
            .order_by("-pk")[:limit])
    return [{"id": d.uuid, "event": d.event, "case": d.case.number if d.case else None,
             "state": d.state, "attempts": d.attempts, "created_at": d.created_at,
             "last_attempt_at": d.last_attempt_at,
             "next_attempt_at": d.next_attempt_at if d.state == d.State.PENDING else None,
             "response_status": d.response_status, "duration_ms": d.duration_ms,
             "response_excerpt": d.response_excerpt, "last_error": d.last_error}
            for d in rows]
