"""A webhook subscription and its deliveries."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from slpdesk.desk.models import Case, Claimable


class Event(models.TextChoices):
    """What a subscription can ask to hear about (the contract: never renamed)."""

    CASE_CREATED = "case.created", _("A case was opened")
    CASE_UPDATED = "case.updated", _("A case's priority, assignee or status changed")
    CASE_MESSAGE = "case.message", _("A public message on a case")
    CASE_RESOLVED = "case.resolved", _("A case was resolved")
    CASE_REOPENED = "case.reopened", _("A case was reopened")
    SLA_AT_RISK = "sla.at_risk", _("An SLA clock is at risk")
    SLA_BREACHED = "sla.breached", _("An SLA clock was breached")
    ESCALATION_RAISED = "escalation.raised", _("A case was escalated")
    ESCALATION_ACKNOWLEDGED = "escalation.acknowledged", _("An escalation was acknowledged")
    POLICY_PUBLISHED = "policy.published", _("A policy version was published")
    UPDATE_PUBLISHED = "update.published", _("A program update was published")


class Webhook(models.Model):
    """Where to POST which events. The ``secret`` is kept as it is (HMAC-SHA256 needs
    the key itself to sign; a hash could not sign): anyone who can read the
    database can read it, as they can read the cases. It is shown to the
    administrator once, when made or rotated, and never again."""

    url = models.URLField(_("URL"), max_length=500)
    events = models.JSONField(_("events"), default=list)
    description = models.CharField(_("description"), max_length=200, blank=True)
    secret = models.CharField(_("signing secret"), max_length=100)
    enabled = models.BooleanField(_("enabled"), default=True)
    created_at = models.DateTimeField(_("created"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True,
                                   blank=True, related_name="+", verbose_name=_("created by"))
    #: The first failure since the last success (None while deliveries succeed).
    failing_since = models.DateTimeField(_("failing since"), null=True, blank=True)
    disabled_at = models.DateTimeField(_("disabled"), null=True, blank=True)
    disabled_reason = models.CharField(_("why disabled"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("webhook")
        verbose_name_plural = _("webhooks")
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.url


class Delivery(Claimable):
    """One event for one subscription: the exact body (so every attempt sends the
    same bytes and the same ``id``), and what the last attempt got back."""

    uuid = models.UUIDField(_("delivery id"), unique=True)
    # No database constraint: a subscription removed while a change is being written
    # (its listeners read a moment before) must not make that change fail at COMMIT; the
    # delivery is then an orphan the worker never picks (deletes cascade here, in Django).
    webhook = models.ForeignKey(Webhook, models.CASCADE, related_name="deliveries",
                                verbose_name=_("webhook"), db_constraint=False)
    event = models.CharField(_("event"), max_length=40, choices=Event.choices)
    # Deliveries of one case go out in order (a later one waits for the earlier).
    case = models.ForeignKey(Case, models.SET_NULL, null=True, blank=True, related_name="+",
                             verbose_name=_("case"))
    body = models.TextField(_("body (JSON)"))
    last_attempt_at = models.DateTimeField(_("last attempt"), null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(_("response code"), null=True,
                                                       blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), null=True, blank=True)
    response_excerpt = models.TextField(_("start of the answer"), blank=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-pk"]
        indexes = [
            # The worker's "send one" (delivery.handle_one_webhook).
            models.Index(fields=["state", "next_attempt_at"], name="webhook_delivery_due"),
            # "Is an earlier delivery of this case still waiting?" (ordering per case).
            models.Index(fields=["webhook", "case", "state"], name="webhook_delivery_case"),
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.uuid}"
