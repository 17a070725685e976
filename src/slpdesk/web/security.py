"""Who is knocking: the client's address, and the log-in lock-out (django-axes).

Failed log-ins are counted per user name (whether or not such a user exists, so a
lock says nothing about the account) and per client address. 10 failures for one
user name lock that name from every address; 50 from one address lock the address.
A lock ends 15 minutes after the last failure; administrators lift one earlier in
the admin (*Access attempts*: delete the row).
"""

from __future__ import annotations

from axes.handlers.database import AxesDatabaseHandler
from django.conf import settings
from django.db.models import Sum


def client_ip(request) -> str:
    """The client's address: the connection's, which
    :class:`slpdesk.web.proxy.TrustedProxyMiddleware` has already replaced by the
    address a trusted proxy saw (``SLPDESK_TRUSTED_PROXIES``)."""
    return request.META.get("REMOTE_ADDR", "")[:45]


class LockoutHandler(AxesDatabaseHandler):
    """axes' database handler with two limits: ``SLPDESK_LOGIN_FAILURES_PER_USERNAME``
    for a user name, ``SLPDESK_LOGIN_FAILURES_PER_ADDRESS`` for an address.

    axes compares one figure with one limit (``AXES_FAILURE_LIMIT``, the user name's);
    the address's failures enter it scaled to that limit, so the figure reaches the
    limit exactly when either count reaches its own.
    """

    def get_failures(self, request, credentials=None) -> int:
        by_username, by_address = (
            attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0
            for attempts in self.get_user_attempts(request, credentials))
        per_name = settings.SLPDESK_LOGIN_FAILURES_PER_USERNAME
        per_address = settings.SLPDESK_LOGIN_FAILURES_PER_ADDRESS
        return max(by_username, by_address * per_name // per_address)
