"""The record of what was done to personal data: erasures (who, when, why, of whom as
an opaque reference; never the erased data) and the daily retention runs."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Erasure(models.Model):
    """One erasure of a person's personal data (GDPR art. 17), or one case's
    anonymisation by retention. Holds no personal data: the person is ``subject_ref``
    (random, also the tombstone account's user name) and the tombstone's id."""

    class Mode(models.TextChoices):
        REDACT = "redact", _("Their texts redacted")
        KEEP = "keep", _("Texts kept, identifiers removed")

    subject_ref = models.CharField(_("person (opaque reference)"), max_length=40, unique=True)
    subject = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True,
                                blank=True, related_name="+", verbose_name=_("tombstone account"))
    at = models.DateTimeField(_("erased"))
    by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True,
                           related_name="+", verbose_name=_("erased by"))
    by_label = models.CharField(_("erased through"), max_length=100, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    mode = models.CharField(_("message texts"), max_length=10, choices=Mode.choices)
    counts = models.JSONField(_("what was removed"), default=dict, blank=True)

    class Meta:
        verbose_name = _("erasure")
        verbose_name_plural = _("erasures")
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.subject_ref} {self.at:%Y-%m-%d %H:%M}"


class RetentionRun(models.Model):
    """One run of retention: at most one a day (the unique day is the claim)."""

    day = models.DateField(_("day"), unique=True)
    started_at = models.DateTimeField(_("started"))
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    cutoff = models.DateTimeField(_("cases resolved or closed before"))
    cases = models.PositiveIntegerField(_("cases anonymised"), default=0)

    class Meta:
        verbose_name = _("retention run")
        verbose_name_plural = _("retention runs")
        ordering = ["-day"]

    def __str__(self) -> str:
        return f"{self.day}: {self.cases}"
