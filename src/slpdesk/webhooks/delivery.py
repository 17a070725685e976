"""Sending deliveries (the worker's step :func:`handle_one_webhook`).

* Each attempt is a POST of the stored body with ``Slpdesk-Event``,
  ``Slpdesk-Delivery`` (the delivery's uuid, the same on every attempt) and
  ``Slpdesk-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">``
  (:func:`signature`), through :mod:`.transport` (SSRF guards, timeouts).
* 2xx: done. 5xx, 408, 429 and network errors: tried again after
  :func:`backoff` (1 min, 5 min, 15 min, 30 min, 1 h, 2 h, 4 h, then every 6 h;
  a longer ``Retry-After`` is honoured) until two days after the event, then
  given up. Any other answer (3xx: redirects are not followed; 4xx) and an
  address the guards refuse fail at once, without retry.
* One case's deliveries to one subscription go out in order: a delivery waits
  while an earlier one of the same case is still pending (retrying).
* A subscription that keeps failing is disabled: a failure two days or more
  after its first failure since the last success (so a delivery given up after
  two days of retries), or a 410 Gone; its administrators are mailed (in their
  language, through the outbox). A worker that was not running for days
  disables nothing by itself: the two days count from the first failure.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import Exists, F, OuterRef
from django.urls import reverse

from slpdesk.desk.models import Claimable, User
from slpdesk.mail import outbound
from slpdesk.worker import claims

from . import transport
from .events import forget_listeners, iso
from .models import Delivery, Webhook

PENDING = Claimable.State.PENDING
#: Retry delays after the 1st, 2nd… failed attempt (then the last, repeated).
BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15),
           timedelta(minutes=30), timedelta(hours=1), timedelta(hours=2), timedelta(hours=4),
           timedelta(hours=6))
#: A delivery still failing this long after its event is given up.
GIVE_UP_AFTER = timedelta(days=2)
#: A subscription whose deliveries have failed (without a success) this long is disabled.
DISABLE_AFTER = GIVE_UP_AFTER
RETRY_STATUSES = frozenset({408, 429})
USER_AGENT = "slpdesk-webhooks/1"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """``t=<timestamp>,v1=<hex HMAC-SHA256 of b"<timestamp>." + body>``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed attempt (1, 2, 3…)."""
    return BACKOFF[min(max(attempts, 1), len(BACKOFF)) - 1]


def retryable(status: int) -> bool:
    return status >= 500 or status in RETRY_STATUSES


def due(now: datetime):
    """Deliveries the worker may send now, oldest first: waiting, their time come, of
    an enabled subscription, with no earlier delivery of the same case to the same
    subscription still pending."""
    earlier = Delivery.objects.filter(webhook=OuterRef("webhook"), case=OuterRef("case"),
                                      state=PENDING, pk__lt=OuterRef("pk"))
    return (Delivery.objects.due(now)
            .filter(webhook__in=Webhook.objects.filter(enabled=True).values("pk"))
            .exclude(Exists(earlier)).order_by("next_attempt_at", "pk"))


def handle_one_webhook(now: datetime, ctx) -> bool:
    """Send one delivery (see the module's docstring)."""
    row = claims.claim_next(due(now), now=now, lease=ctx.lease, name=ctx.name)
    if row is None:
        return False
    try:
        attempt(row, now, ctx)
    except (OperationalError, InterfaceError):
        ctx.unfinished.append(lambda: claims.release(row, name=ctx.name))
        raise
    return True


def attempt(row: Delivery, now: datetime, ctx) -> None:
    hook = row.webhook
    body = row.body.encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Slpdesk-Event": row.event,
        "Slpdesk-Delivery": str(row.uuid),
        "Slpdesk-Signature": signature(hook.secret, int(now.timestamp()), body),
    }
    started = time.monotonic()
    status, excerpt, error, retry, wait = None, "", "", False, None
    try:
        answer = transport.post(hook.url, body, headers,
                                timeout=settings.SLPDESK_WEBHOOKS_TIMEOUT,
                                allow_http=settings.SLPDESK_WEBHOOKS_ALLOW_HTTP,
                                allow_private=settings.SLPDESK_WEBHOOKS_ALLOW_PRIVATE)
    except transport.Refused as exc:
        error = f"refused: {exc}"
    except transport.NetworkError as exc:
        error, retry = str(exc), True
    else:
        status, excerpt = answer.status, answer.excerpt
        if not 200 <= status < 300:
            error = f"HTTP {status}" + (" (redirects are not followed)"
                                        if 300 <= status < 400 else "")
            retry = retryable(status)
            if answer.retry_after is not None:
                wait = timedelta(seconds=answer.retry_after)
    duration = int((time.monotonic() - started) * 1000)
    with transaction.atomic():
        Delivery.objects.filter(pk=row.pk, claimed_by=ctx.name).update(
            attempts=F("attempts") + 1, last_attempt_at=now, response_status=status,
            duration_ms=duration, response_excerpt=excerpt)
        if not error:
            claims.finish(row, name=ctx.name, now=now, state=Claimable.State.DONE)
            Webhook.objects.filter(pk=hook.pk, failing_since__isnull=False).update(
                failing_since=None)
            ctx.say(f"webhook {row.uuid} ({row.event}) delivered to {hook.url}: {status}")
            return
        attempts = row.attempts + 1
        give_up_at = row.created_at + GIVE_UP_AFTER
        if retry and now < give_up_at:
            delay = max(backoff(attempts), wait or timedelta(0))
            Delivery.objects.filter(pk=row.pk, claimed_by=ctx.name, state=PENDING).update(
                next_attempt_at=now + min(delay, give_up_at - now), claimed_until=None,
                claimed_by="", last_error=error[:2000])
            ctx.warn(f"webhook {row.uuid} to {hook.url}: {error}; trying again")
        else:
            if retry:
                error = (f"gave up after {attempts} attempt{'' if attempts == 1 else 's'}: "
                         f"{error}")
            claims.finish(row, name=ctx.name, now=now, state=Claimable.State.FAILED,
                          error=error)
            ctx.warn(f"webhook {row.uuid} to {hook.url} failed: {error}")
        Webhook.objects.filter(pk=hook.pk, failing_since__isnull=True).update(
            failing_since=now)
        try:
            hook.refresh_from_db()
        except Webhook.DoesNotExist:  # removed meanwhile (with its deliveries)
            return
        reason = ""
        if status == 410:
            reason = "the receiver answered 410 Gone"
        elif now - hook.failing_since >= DISABLE_AFTER:  # (not a worker that was down)
            reason = f"deliveries have failed since {iso(hook.failing_since)} ({error})"
        if reason and hook.enabled:
            disable(hook, reason, now=now)
            ctx.warn(f"webhook {hook.pk} ({hook.url}) disabled: {reason}")


def disable(hook: Webhook, reason: str, *, now: datetime) -> None:
    """Stop deliveries to ``hook`` and tell the administrators (the outbox)."""
    if Webhook.objects.filter(pk=hook.pk, enabled=True).update(
            enabled=False, disabled_at=now, disabled_reason=reason[:300]) != 1:
        return
    forget_listeners()
    link = (settings.SLPDESK_SITE_URL + reverse("console:webhook", kwargs={"pk": hook.pk})
            if settings.SLPDESK_SITE_URL else "")
    for admin in User.objects.filter(role=User.Role.ADMIN, is_active=True).order_by("pk"):
        outbound.enqueue("webhook_disabled", to=admin, now=now,
                         key=f"webhook-{hook.pk}-{int(now.timestamp())}",
                         context={"webhook": hook, "reason": reason, "webhook_link": link})
