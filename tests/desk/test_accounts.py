"""Issue 11: password reset and change, two-factor enforcement, the client address."""

from __future__ import annotations

import base64
import ipaddress
import re
from datetime import timedelta

import pyotp
from django.contrib.auth.tokens import default_token_generator
from django.test import Client, RequestFactory
from django_otp.plugins.otp_totp.models import TOTPDevice

from desk.api_world import build_world
from slpdesk.desk.models import Outbox, User
from slpdesk.web.proxy import TrustedProxyMiddleware
from slpdesk.web.security import client_ip


def _reset(client, email):
    return client.post("/password-reset/", {"email": email})


def test_a_reset_mail_goes_through_the_outbox_in_the_recipients_language(cast, client):
    User.objects.filter(pk=cast.olga.pk).update(language="sv")
    answer = _reset(client, "olga@example.com")
    assert answer.status_code == 302 and answer["Location"] == "/password-reset/sent/"
    row = Outbox.objects.get(kind=Outbox.Kind.PASSWORD_RESET)
    assert (row.recipient, row.to_address, row.language) == (cast.olga, "olga@example.com",
                                                             "sv")
    assert row.subject == "Välj ett nytt lösenord"
    assert "inom 60 minuter" in row.body_text
    link = re.search(r"http://testserver(/password-reset/\S+/)", row.body_text)[1]
    form = client.get(link, follow=True)
    assert form.context["validlink"] is True


def test_an_unknown_address_gets_the_same_answer_and_no_mail(cast, client):
    known, unknown = _reset(client, "alice@example.com"), _reset(Client(), "nobody@example.com")
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
    assert Outbox.objects.filter(kind=Outbox.Kind.PASSWORD_RESET).count() == 1


def test_at_most_three_reset_mails_an_hour_go_to_one_person(cast, client, monkeypatch):
    # A distinct token per request (the generator's clock moves a second each time).
    seconds = iter(range(10**6, 10**6 + 100))
    monkeypatch.setattr(default_token_generator, "_num_seconds", lambda dt: next(seconds))
    for _ in range(5):
        assert _reset(client, "alice@example.com").status_code == 302
    assert Outbox.objects.filter(kind=Outbox.Kind.PASSWORD_RESET).count() == 3


def test_the_reset_link_expires_after_an_hour(cast, client, monkeypatch):
    _reset(client, "alice@example.com")
    body = Outbox.objects.get(kind=Outbox.Kind.PASSWORD_RESET).body_text
    link = re.search(r"http://testserver(/password-reset/\S+/)", body)[1]
    later = default_token_generator._now() + timedelta(hours=1, seconds=1)
    monkeypatch.setattr(default_token_generator, "_now", lambda: later)
    page = client.get(link, follow=True)
    assert page.context["validlink"] is False
    assert "This link has expired or was used already." in page.content.decode()


def test_a_new_password_must_pass_djangos_validators(cast, client):
    client.force_login(cast.alice)
    response = client.post("/password/", {"old_password": "pw", "new_password1": "12345678",
                                          "new_password2": "12345678"})
    assert response.status_code == 200
    codes = {e.code for e in response.context["form"].errors.as_data()["new_password2"]}
    assert codes == {"password_too_common", "password_entirely_numeric"}
    ok = client.post("/password/", {"old_password": "pw", "new_password1": "Fjord-Lantern-93",
                                    "new_password2": "Fjord-Lantern-93"})
    assert ok["Location"] == "/password/changed/"
    assert User.objects.get(pk=cast.alice.pk).check_password("Fjord-Lantern-93")


def test_require_2fa_modes(cast, settings, client):
    admin = User.objects.create_user("root", "root@example.com", "pw", role=User.Role.ADMIN)
    expected = {"off": (False, False), "admin": (False, True), "staff": (True, True)}
    for mode, (agent_sent, admin_sent) in expected.items():
        settings.SLPDESK_REQUIRE_2FA = mode
        for user, sent in ((cast.sam, agent_sent), (admin, admin_sent)):
            c = Client()
            c.force_login(user)
            response = c.get("/console/")
            assert (response.status_code == 302 and response["Location"].startswith(
                "/preferences/two-factor/")) is sent, (mode, user.username)
        customer = Client()
        customer.force_login(cast.alice)
        assert customer.get("/portal/").status_code == 200


def test_a_user_with_a_device_gives_a_code_before_any_page(cast, settings, client):
    settings.SLPDESK_REQUIRE_2FA = "off"
    device = TOTPDevice.objects.create(user=cast.alice, name="app", confirmed=True)
    client.force_login(cast.alice)
    assert client.get("/portal/")["Location"] == "/login/verify/?next=/portal/"
    assert client.get("/preferences/two-factor/")["Location"].startswith("/login/verify/")
    wrong = client.post("/login/verify/?next=/portal/", {"code": "abc", "next": "/portal/"})
    assert wrong.status_code == 200 and wrong.context["form"].errors
    secret = base64.b32encode(device.bin_key).decode()
    # The wrong code throttled the device for a second (django-otp); the test skips that.
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0,
                                                   throttling_failure_timestamp=None)
    ok = client.post("/login/verify/", {"code": pyotp.TOTP(secret).now(),
                                        "next": "//evil.example/"})
    assert ok["Location"] == "/"  # a foreign next= is not followed
    assert client.get("/portal/").status_code == 200


def test_api_tokens_are_not_affected_by_two_factor(cast, settings):
    settings.SLPDESK_API_RATE = "off"
    settings.SLPDESK_REQUIRE_2FA = "staff"
    w = build_world(cast)
    assert Client().get("/api/v1/cases", **w.auth("agent")).status_code == 200


def test_the_client_address_comes_from_the_trusted_proxies_only(settings):
    settings.SLPDESK_HTTPS = True
    settings.SLPDESK_TRUSTED_PROXIES = [ipaddress.ip_network("10.0.0.2/32")]
    seen = []
    middleware = TrustedProxyMiddleware(lambda request: seen.append(client_ip(request)))
    forwarded = {"HTTP_X_FORWARDED_FOR": "6.6.6.6, 198.51.100.7"}
    middleware(RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", **forwarded))
    middleware(RequestFactory().get("/", REMOTE_ADDR="10.0.0.3", **forwarded))
    # From the proxy: the address it saw, not the forged first entry; from anyone else:
    # the connection's own.
    assert seen == ["198.51.100.7", "10.0.0.3"]
