"""What the API keeps: personal API tokens (hashed), the idempotency keys of case
creation, and the request counters of the rate limit."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

#: ``slp_<prefix>_<secret>``: a public prefix to find the row by (shown in the token
#: list), and 256 random bits that are never stored, only their SHA-256.
TOKEN_RE = re.compile(r"slp_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")
#: The last use is written at most this often (one write per minute, not per request).
LAST_USED_STEP = timedelta(seconds=60)


def digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def active(self) -> ApiTokenQuerySet:
        return self.filter(revoked_at__isnull=True)


class ApiToken(models.Model):
    """A personal API token: it acts as its user, with the user's role and
    organisation as they are at each request; dead once revoked or once the user
    is deactivated."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE,
                             related_name="api_tokens", verbose_name=_("user"))
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=12, unique=True, editable=False)
    digest = models.CharField(_("SHA-256 of the token"), max_length=64, editable=False)
    created_at = models.DateTimeField(_("created"))
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} (slp_{self.prefix}_…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @classmethod
    def issue(cls, user, name: str, *, now: datetime) -> tuple[ApiToken, str]:
        """A new token for ``user``: the saved row and the token itself, which is
        shown to the user once and never stored."""
        while True:
            prefix = secrets.token_hex(6)
            if not cls.objects.filter(prefix=prefix).exists():
                break
        raw = f"slp_{prefix}_{secrets.token_urlsafe(32)}"
        token = cls.objects.create(user=user, name=name, prefix=prefix, digest=digest(raw),
                                   created_at=now)
        return token, raw

    @classmethod
    def authenticate(cls, raw: str, *, now: datetime) -> ApiToken | None:
        """The live token ``raw`` is, or None (malformed, unknown, wrong secret,
        revoked, or its user deactivated)."""
        match = TOKEN_RE.fullmatch(raw or "")
        if match is None:
            return None
        token = cls.objects.select_related("user").filter(prefix=match[1]).first()
        expected = token.digest if token is not None else "0" * 64
        if not hmac.compare_digest(expected, digest(raw)) or token is None:
            return None
        if token.revoked_at is not None or not token.user.is_active:
            return None
        if token.last_used_at is None or token.last_used_at < now - LAST_USED_STEP:
            cls.objects.filter(pk=token.pk).update(last_used_at=now)
            token.last_used_at = now
        return token

    def revoke(self, *, now: datetime) -> None:
        if self.revoked_at is None:
            self.revoked_at = now
            self.save(update_fields=["revoked_at"])


class IdempotencyKey(models.Model):
    """A case opened with an ``Idempotency-Key`` header: a retry with the same key
    (by the same user, within :data:`IDEMPOTENCY_TTL`) gets the same case."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="+",
                             verbose_name=_("user"))
    key = models.CharField(_("key"), max_length=255)
    request_hash = models.CharField(_("SHA-256 of the request"), max_length=64)
    case = models.ForeignKey("desk.Case", models.CASCADE, null=True, blank=True,
                             related_name="+", verbose_name=_("case"))
    created_at = models.DateTimeField(_("created"))

    class Meta:
        verbose_name = _("idempotency key")
        verbose_name_plural = _("idempotency keys")
        constraints = [models.UniqueConstraint(fields=["user", "key"],
                                               name="idempotency_key_once")]


#: How long a key is remembered.
IDEMPOTENCY_TTL = timedelta(hours=24)


class RateLimitWindow(models.Model):
    """Requests counted in the current fixed window of one client (a token). In the
    database, so that every web process counts against the same limit."""

    key = models.CharField(_("client"), max_length=100, unique=True)
    window = models.BigIntegerField(_("window"))
    count = models.PositiveIntegerField(_("requests"), default=0)

    class Meta:
        verbose_name = _("rate limit window")
        verbose_name_plural = _("rate limit windows")

    def __str__(self) -> str:
        return f"{self.key}: {self.count}"
