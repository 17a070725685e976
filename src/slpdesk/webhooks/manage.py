"""Managing subscriptions, for the API and the console alike: administrators only
(:func:`slpdesk.desk.access.can_manage_webhooks`); a refusal is a
:class:`DeskError` with a translated message, before anything is written."""

from __future__ import annotations

import secrets
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from slpdesk.desk import access
from slpdesk.desk.models import Claimable
from slpdesk.desk.services import DeskError

from . import transport
from .events import forget_listeners
from .models import Delivery, Event, Webhook

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """A fresh signing secret: 32 random bytes, URL-safe text."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _require_admin(actor) -> None:
    if not access.can_manage_webhooks(actor):
        raise DeskError("forbidden", _("Only administrators can manage webhooks."))


def clean_url(url: str) -> str:
    """``url`` if deliveries may go there: https (http only when allowed), a host,
    no user name; an IP address that is not public only when private addresses
    are allowed (a host name is checked on each delivery, where it resolves then)."""
    url = (url or "").strip()
    if not url:
        raise DeskError("url", _("Give the URL to send the events to."))
    if len(url) > 500:
        raise DeskError("url", _("The URL is too long (at most 500 characters)."))
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise DeskError("url", _("The URL must not contain spaces."))
    try:
        _scheme, host, _port, _path = transport.check_url(
            url, allow_http=settings.SLPDESK_WEBHOOKS_ALLOW_HTTP)
    except transport.Refused:
        if settings.SLPDESK_WEBHOOKS_ALLOW_HTTP:
            message = _("Give an http:// or https:// URL with a host name, without a user "
                        "name or password.")
        else:
            message = _("Give an https:// URL with a host name, without a user name or "
                        "password.")
        raise DeskError("url", message) from None
    ip = transport.literal_address(host)
    if ip is not None and not transport.allowed_address(
            ip, allow_private=settings.SLPDESK_WEBHOOKS_ALLOW_PRIVATE):
        raise DeskError("url", _("%(address)s is not a public address; webhooks are only "
                                 "sent to public addresses."), address=str(ip))
    return url


def clean_events(events) -> list[str]:
    events = list(dict.fromkeys(events or []))
    if not events:
        raise DeskError("events", _("Choose at least one event."))
    unknown = [e for e in events if e not in Event.values]
    if unknown:
        raise DeskError("events", _("Unknown event %(event)s."), event=unknown[0])
    return [e for e in Event.values if e in events]  # in the contract's order


def clean_description(text: str) -> str:
    text = " ".join((text or "").split())
    if len(text) > 200:
        raise DeskError("description", _("The description is too long (at most 200 "
                                         "characters)."))
    return text


def create(*, url: str, events, description: str = "", actor, now: datetime
           ) -> tuple[Webhook, str]:
    """A new, enabled subscription. Returns it and its secret (to show once)."""
    _require_admin(actor)
    secret = new_secret()
    hook = Webhook.objects.create(url=clean_url(url), events=clean_events(events),
                                  description=clean_description(description), secret=secret,
                                  created_at=now, created_by=actor)
    forget_listeners()
    return hook, secret


def update(hook: Webhook, *, actor, now: datetime, url: str | None = None, events=None,
           description: str | None = None, enabled: bool | None = None) -> Webhook:
    """Change what is given; switching it on again clears why the desk disabled it."""
    _require_admin(actor)
    fields = []
    if url is not None:
        hook.url = clean_url(url)
        fields.append("url")
    if events is not None:
        hook.events = clean_events(events)
        fields.append("events")
    if description is not None:
        hook.description = clean_description(description)
        fields.append("description")
    if enabled is not None and enabled != hook.enabled:
        hook.enabled = enabled
        if enabled:
            hook.disabled_at, hook.disabled_reason, hook.failing_since = None, "", None
        else:
            hook.disabled_at, hook.disabled_reason = now, ""
        fields += ["enabled", "disabled_at", "disabled_reason", "failing_since"]
    if fields:
        hook.save(update_fields=fields)
        forget_listeners()
    return hook


def rotate_secret(hook: Webhook, *, actor) -> str:
    """A new secret for ``hook`` (the old one stops signing at once). Returns it."""
    _require_admin(actor)
    hook.secret = new_secret()
    hook.save(update_fields=["secret"])
    return hook.secret


def delete(hook: Webhook, *, actor) -> None:
    """Remove the subscription with its deliveries."""
    _require_admin(actor)
    hook.delete()
    forget_listeners()


def resend(delivery: Delivery, *, actor, now: datetime) -> bool:
    """Send a delivery that finished (done or failed) again, now, with the same id
    and body. False if it is still waiting to be sent."""
    _require_admin(actor)
    with transaction.atomic():
        return Delivery.objects.filter(pk=delivery.pk).exclude(
            state=Claimable.State.PENDING).update(
            state=Claimable.State.PENDING, attempts=0, next_attempt_at=now, created_at=now,
            claimed_until=None, claimed_by="", finished_at=None) == 1
