"""Bearer-token authentication and the per-token rate limit of the API.

``Authorization: Bearer slp_<prefix>_<secret>``: the token is looked up by its
public prefix and compared by SHA-256 in constant time. The request then acts
as the token's user (``request.user``), with the user's role and organisation
as they are now; every read and write decides access from that user exactly as
the web pages do. Only bearer tokens are accepted (no session cookies), so no
CSRF token is needed or possible.
"""

from __future__ import annotations

import threading

from django.conf import settings
from django.utils import timezone, translation
from ninja.errors import Throttled
from ninja.security import HttpBearer
from ninja.throttling import BaseThrottle

from slpdesk.config import parse_rate
from slpdesk.web.security import client_ip

from .errors import refuse_large_body
from .models import ApiToken
from .ratelimit import hit, used_up


class TokenAuth(HttpBearer):
    """A personal API token (see :class:`ApiToken`).

    Requests without a valid token (none, malformed, wrong, revoked) count against
    ``SLPDESK_API_ANON_RATE`` per client address; once an address has used that up,
    its requests are refused (429) before any token is looked at, until the window
    ends, so tokens cannot be guessed at speed.
    """

    def __call__(self, request):
        refuse_large_body(request)  # first: nothing of an oversized body is read
        rate = parse_rate(settings.SLPDESK_API_ANON_RATE)
        if rate is None:
            return super().__call__(request)
        key, now = f"address:{client_ip(request)}", timezone.now()
        refused = used_up(key, rate, now)
        if refused is None:
            found = super().__call__(request)
            if found is not None:
                return found
            refused = hit(key, rate, now)
            if refused.allowed:
                return None
        request.slpdesk_rate, request.slpdesk_per_address = rate, True
        raise Throttled(refused.retry_after)

    def authenticate(self, request, token: str):
        found = ApiToken.authenticate(token, now=timezone.now())
        if found is None:
            return None
        user = found.user
        request.user = user
        request.api_token = found
        # Accept-Language when the client sends one, else the user's own language.
        if user.language and not request.META.get("HTTP_ACCEPT_LANGUAGE"):
            translation.activate(user.language)
            request.LANGUAGE_CODE = translation.get_language()
        return found


class TokenRateThrottle(BaseThrottle):
    """At most ``SLPDESK_API_RATE`` requests per token (``120/m``; ``off``: none)."""

    def __init__(self):
        self._local = threading.local()

    def allow_request(self, request) -> bool:
        self._local.wait = None
        rate = parse_rate(settings.SLPDESK_API_RATE)
        token = getattr(request, "auth", None)
        if rate is None or not isinstance(token, ApiToken):
            return True
        verdict = hit(f"token:{token.pk}", rate, timezone.now())
        if verdict.allowed:
            return True
        request.slpdesk_rate = rate
        self._local.wait = verdict.retry_after
        return False

    def wait(self):
        return getattr(self._local, "wait", None)
