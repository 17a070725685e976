"""X-Forwarded-Proto and X-Forwarded-For count only from a trusted proxy with
SLPDESK_HTTPS=1 (issue 12); the real-process check is tests/desk/test_deploy_nginx.py."""

import ipaddress

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory, override_settings

from slpdesk.settings import envnetworks
from slpdesk.web.proxy import TrustedProxyMiddleware, client_address

PROXIES = [ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("10.0.0.0/8")]
HTTPS = {"SLPDESK_HTTPS": True, "SLPDESK_TRUSTED_PROXIES": PROXIES,
         "SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https")}


def seen(peer: str, **headers) -> tuple[bool, str, bool]:
    """(is_secure, REMOTE_ADDR, X-Forwarded-For kept) as the views see the request."""
    request = RequestFactory().get("/", REMOTE_ADDR=peer, headers=headers)
    out = {}

    def view(req):
        out["seen"] = (req.is_secure(), req.META["REMOTE_ADDR"],
                       "HTTP_X_FORWARDED_FOR" in req.META)

    TrustedProxyMiddleware(view)(request)
    return out["seen"]


@override_settings(**HTTPS)
def test_a_trusted_proxy_is_believed():
    assert seen("10.1.2.3", x_forwarded_proto="https",
                x_forwarded_for="198.51.100.7") == (True, "198.51.100.7", True)


@override_settings(**HTTPS)
def test_anyone_else_is_not():
    assert seen("203.0.113.5", x_forwarded_proto="https",
                x_forwarded_for="198.51.100.7") == (False, "203.0.113.5", False)


@override_settings(**{**HTTPS, "SLPDESK_HTTPS": False})
def test_without_https_nobody_is():
    assert seen("127.0.0.1", x_forwarded_proto="https",
                x_forwarded_for="198.51.100.7") == (False, "127.0.0.1", False)


@override_settings(**HTTPS)
def test_the_client_is_the_last_address_no_trusted_proxy_wrote():
    # A client's own prefix proves nothing; chains of trusted proxies are skipped.
    assert client_address("1.1.1.1, 198.51.100.7, 10.0.0.9", "10.0.0.1") == "198.51.100.7"
    assert client_address("10.0.0.9", "10.0.0.1") == "10.0.0.1"
    assert client_address("garbage", "10.0.0.1") == "10.0.0.1"


def test_a_bad_trusted_proxy_setting_stops_start_up(monkeypatch):
    monkeypatch.setenv("SLPDESK_TRUSTED_PROXIES", "127.0.0.1, proxy.local")
    with pytest.raises(ImproperlyConfigured, match="'proxy.local' is not an IP address"):
        envnetworks("SLPDESK_TRUSTED_PROXIES", "127.0.0.1")
    monkeypatch.setenv("SLPDESK_TRUSTED_PROXIES", "10.0.0.0/8,::1")
    assert envnetworks("SLPDESK_TRUSTED_PROXIES", "") == [
        ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1")]
