"""What a request says about itself through a reverse proxy, believed only from a proxy.

nginx (see ``deploy/nginx/slpdesk.conf``) terminates TLS and tells the application the
scheme in ``X-Forwarded-Proto`` and the client's address in ``X-Forwarded-For``. Anyone can
send those headers, so they count only on a request whose peer is one of
``SLPDESK_TRUSTED_PROXIES`` and only when ``SLPDESK_HTTPS=1``; on every other request they
are removed before anything reads them. Django's ``SECURE_PROXY_SSL_HEADER`` then makes
``request.is_secure()`` true exactly for https requests that came through the proxy.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings

FORWARDED = ("HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_HOST",
             "HTTP_X_FORWARDED_PORT", "HTTP_FORWARDED")


def _address(text: str):
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def is_trusted_proxy(address: str | None) -> bool:
    """Is ``address`` (a request's peer) one of ``SLPDESK_TRUSTED_PROXIES``?"""
    ip = _address(address or "")
    return ip is not None and any(ip in net for net in settings.SLPDESK_TRUSTED_PROXIES)


def client_address(forwarded_for: str, peer: str) -> str:
    """The client's address from ``X-Forwarded-For``: the last entry that is not itself a
    trusted proxy (the entries before it were written by the client and prove nothing)."""
    for entry in reversed([e.strip() for e in forwarded_for.split(",") if e.strip()]):
        if _address(entry) is None:
            break
        if not is_trusted_proxy(entry):
            return entry.strip("[]")
    return peer


class TrustedProxyMiddleware:
    """First in ``MIDDLEWARE``: a trusted proxy's request gets the client's address in
    ``REMOTE_ADDR``; every other request loses its ``X-Forwarded-*`` headers."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        meta = request.META
        peer = meta.get("REMOTE_ADDR", "")
        if settings.SLPDESK_HTTPS and is_trusted_proxy(peer):
            if meta.get("HTTP_X_FORWARDED_FOR"):
                meta["REMOTE_ADDR"] = client_address(meta["HTTP_X_FORWARDED_FOR"], peer)
        else:
            for key in FORWARDED:
                meta.pop(key, None)
        return self.get_response(request)
