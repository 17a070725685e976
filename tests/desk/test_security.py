"""Issue 11: log-in protection (form and API), browser headers, the deploy check, zone
names, oversized API bodies and the storage quota per organisation."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.hashers import MD5PasswordHasher
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from desk.api_world import build_world
from slpdesk.desk import services
from slpdesk.desk.models import Attachment, User


def new_case(site, contact, now):
    return services.receive_case(site, contact=contact, actor=contact, now=now,
                                 channel="portal", proposed_priority="P3", title="Files")


def attempt(client, username, password, ip="203.0.113.5"):
    return client.post("/login/", {"username": username, "password": password},
                       REMOTE_ADDR=ip, HTTP_ACCEPT_LANGUAGE="en")


# ------------------------------------------------------------------ log-in form
def test_ten_failures_lock_a_user_name_from_every_address_for_15_minutes(cast, client):
    for i in range(10):
        response = attempt(client, "alice", f"wrong-{i}", ip=f"198.51.100.{i + 1}")
    assert response.status_code == 429  # the tenth failure locks
    # The right password, from a fresh address: still locked.
    locked = attempt(client, "alice", "pw", ip="192.0.2.77")
    assert locked.status_code == 429
    assert "too many failed log-ins" in locked.content.decode()
    assert "_auth_user_id" not in client.session
    # Another user from those addresses is not affected (9 failures from none of them).
    assert attempt(client, "bob", "pw", ip="198.51.100.1").status_code == 302
    # 15 minutes after the last failure the lock has ended.
    AccessAttempt.objects.update(attempt_time=timezone.now() - timezone.timedelta(minutes=16))
    assert attempt(Client(), "alice", "pw", ip="192.0.2.77").status_code == 302


def test_nine_failures_do_not_lock(cast, client):
    for i in range(9):
        assert attempt(client, "alice", f"wrong-{i}").status_code == 200
    assert attempt(client, "alice", "pw").status_code == 302


def test_fifty_failures_from_one_address_lock_that_address(cast, client):
    for i in range(50):  # 50 different user names, 5 tries each at most: no name locked
        response = attempt(client, f"guess{i // 5}", "wrong", ip="203.0.113.9")
    assert response.status_code == 429
    assert attempt(client, "alice", "pw", ip="203.0.113.9").status_code == 429
    assert attempt(client, "alice", "pw", ip="203.0.113.10").status_code == 302


def test_a_locked_unknown_name_looks_like_a_locked_real_one(cast):
    pages = {}
    for name in ("alice", "nobody-here"):
        client = Client()
        for i in range(11):
            response = attempt(client, name, f"wrong-{i}", ip=f"198.51.100.{i + 1}")
        pages[name] = response
    assert pages["alice"].status_code == pages["nobody-here"].status_code == 429
    token = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]*"')
    assert (token.sub(b"", pages["alice"].content)
            == token.sub(b"", pages["nobody-here"].content))


def test_the_locked_page_speaks_swedish(cast, client):
    for i in range(10):
        response = client.post("/login/", {"username": "alice", "password": f"x{i}"},
                               HTTP_ACCEPT_LANGUAGE="sv")
    assert response.status_code == 429
    assert "för många misslyckade inloggningar" in response.content.decode()


class CountingHasher(MD5PasswordHasher):
    calls = 0

    def encode(self, password, salt):
        CountingHasher.calls += 1
        return super().encode(password, salt)


def test_log_in_does_not_tell_unknown_names_from_wrong_passwords(cast, client, settings):
    settings.PASSWORD_HASHERS = ["desk.test_security.CountingHasher"]
    User.objects.filter(username="alice").update(password="")
    alice = User.objects.get(username="alice")
    alice.set_password("pw")
    alice.save()
    answers = {}
    for name in ("alice", "nobody-here"):
        CountingHasher.calls = 0
        response = attempt(client, name, "wrong")
        answers[name] = (response.status_code, response.context["form"].non_field_errors())
        assert CountingHasher.calls == 1, name  # the hasher runs for an unknown name too
    assert answers["alice"] == answers["nobody-here"]
    assert answers["alice"][0] == 200


def test_administrators_see_and_lift_locks_in_the_admin(cast, client):
    for i in range(10):
        attempt(client, "alice", f"wrong-{i}")
    admin = User.objects.create_superuser("root", "root@example.com", "pw")
    staff = Client()
    staff.force_login(admin)
    listing = staff.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200 and "alice" in listing.content.decode()
    row = AccessAttempt.objects.get(username="alice")
    staff.post(f"/admin/axes/accessattempt/{row.pk}/delete/", {"post": "yes"})
    assert attempt(Client(), "alice", "pw").status_code == 302


# ------------------------------------------------------------------------ API
def test_the_api_limits_requests_without_a_valid_token_per_address(cast, settings):
    settings.SLPDESK_API_RATE = "off"
    settings.SLPDESK_API_ANON_RATE = "5/m"
    w = build_world(cast)
    client = Client()
    statuses = [client.get("/api/v1/sites", REMOTE_ADDR="203.0.113.20",
                           HTTP_AUTHORIZATION=f"Bearer slp_guess{i:04d}_{'x' * 43}").status_code
                for i in range(5)]
    assert statuses == [401] * 5
    refused = client.get("/api/v1/sites", REMOTE_ADDR="203.0.113.20")
    assert refused.status_code == 429
    assert refused.json()["code"] == "rate_limited"
    assert 1 <= int(refused["Retry-After"]) <= 60
    # Even the right token is not looked at from that address until the window ends.
    assert client.get("/api/v1/sites", REMOTE_ADDR="203.0.113.20",
                      **w.auth("agent")).status_code == 429
    # Other addresses, and valid tokens elsewhere, go on.
    assert client.get("/api/v1/sites", REMOTE_ADDR="203.0.113.21").status_code == 401
    assert client.get("/api/v1/sites", REMOTE_ADDR="203.0.113.22",
                      **w.auth("agent")).status_code == 200


def test_valid_tokens_do_not_use_up_the_address_limit(cast, settings):
    settings.SLPDESK_API_RATE = "off"
    settings.SLPDESK_API_ANON_RATE = "2/m"
    w = build_world(cast)
    client = Client()
    for _ in range(5):
        assert client.get("/api/v1/sites", **w.auth("customer")).status_code == 200


def test_an_api_body_too_large_is_a_json_413(cast, settings):
    settings.SLPDESK_API_RATE = "off"
    w = build_world(cast)
    response = Client().post("/api/v1/cases", "{" + " " * 3_000_000 + "}",
                             content_type="application/json", **w.auth("customer"))
    assert response.status_code == 413
    assert response.json()["code"] == "too_large_request"


# -------------------------------------------------------------------- headers
def test_html_pages_carry_a_strict_policy_and_authenticated_ones_no_store(cast, client):
    login = client.get("/login/")
    policy = login["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split(
        "style-src")[0] and "object-src 'none'" in policy and "base-uri 'none'" in policy
    client.force_login(cast.alice)
    home = client.get("/portal/")
    assert home["Content-Security-Policy"] == policy
    assert "no-store" in home["Cache-Control"]


def test_downloads_keep_their_sandbox_and_are_not_stored(cast, client):
    case = new_case(cast.hartford, cast.alice, timezone.now())
    attachment = services.attach_file(case, SimpleUploadedFile("a.txt", b"hello"),
                                      actor=cast.alice, now=timezone.now())
    client.force_login(cast.alice)
    response = client.get(f"/attachments/{attachment.pk}/")
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert "no-store" in response["Cache-Control"]


PRODUCTION = {  # the README's production settings
    "SLPDESK_HTTPS": "1", "SLPDESK_HSTS_SECONDS": "31536000",
    "SLPDESK_HSTS_INCLUDE_SUBDOMAINS": "1", "SLPDESK_HSTS_PRELOAD": "1",
    "SLPDESK_ALLOWED_HOSTS": "support.example.com",
    "SLPDESK_CSRF_TRUSTED_ORIGINS": "https://support.example.com",
}


def test_check_deploy_is_clean_with_the_production_settings(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("DJANGO_SETTINGS_MODULE", "SLPDESK_DATABASE_URL",
                        "DJANGO_ALLOW_ASYNC_UNSAFE")}
    env.update(PRODUCTION, SLPDESK_DATA_DIR=str(tmp_path))
    result = subprocess.run([sys.executable, "-m", "slpdesk.cli", "manage", "check",
                             "--deploy", "--fail-level", "WARNING"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "System check identified no issues (0 silenced)."
    assert "WARNING" not in result.stderr


def test_https_redirects_and_sends_hsts(cast, settings, client):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    response = client.get("/login/")
    assert response.status_code == 301
    assert response["Location"] == "https://testserver/login/"
    secure = client.get("/login/", secure=True)
    assert secure["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert client.get("/health/").status_code == 200  # the probe stays on HTTP


# ------------------------------------------------------------------ zone names
@pytest.mark.parametrize("zone", ["America", "Europe/" + "x" * 300, "../etc/passwd", "Mars/Base"])
def test_bad_zone_names_are_refused_everywhere(cast, client, settings, zone):
    settings.SLPDESK_API_RATE = "off"
    client.force_login(cast.alice)
    response = client.post("/preferences/", {"language": "en", "time_zone": zone})
    assert response.status_code == 200
    assert response.context["form"].errors["time_zone"]
    assert User.objects.get(pk=cast.alice.pk).time_zone == ""
    w = build_world(cast)
    api = Client().post("/api/v1/sla/due", json.dumps(
        {"priority": "P1", "received": "2026-07-03T16:30", "time_zone": zone}),
        content_type="application/json", **w.auth("customer"))
    assert api.status_code in (400, 422)
    assert api.json()["code"] in ("invalid_input", "validation_error")
    staff = Client()
    staff.force_login(cast.sam)
    page = staff.get("/console/calendars/", {"zone": zone})
    assert page.status_code == 200
    assert page.context["zone"] == "UTC"
    assert "is not a known time zone" in page.context["zone_error"]


# --------------------------------------------------------------- storage quota
def test_uploads_beyond_the_organisations_storage_are_refused(cast, settings, client):
    settings.SLPDESK_ORG_STORAGE_BYTES = 100
    now = timezone.now()
    case = new_case(cast.hartford, cast.alice, now)
    services.attach_file(case, SimpleUploadedFile("a.bin", b"x" * 60), actor=cast.alice,
                         now=now)
    with pytest.raises(services.DeskError) as refused:
        services.attach_file(case, SimpleUploadedFile("b.bin", b"x" * 41), actor=cast.bob,
                             now=now)
    assert refused.value.code == "quota"
    assert "Acme Tooling" in str(refused.value) and "100\xa0bytes" in str(refused.value)
    assert Attachment.objects.filter(case=case).count() == 1
    # Exactly up to the quota is fine; another organisation has its own.
    services.attach_file(case, SimpleUploadedFile("c.bin", b"x" * 40), actor=cast.bob, now=now)
    other = new_case(cast.other_site, cast.olga, now)
    services.attach_file(other, SimpleUploadedFile("d.bin", b"x" * 100), actor=cast.olga,
                         now=now)
    # The portal refuses with the message and shows the usage.
    client.force_login(cast.alice)
    response = client.post(f"/portal/cases/{case.number}/files/",
                            {"files": SimpleUploadedFile("e.bin", b"x")}, follow=True)
    assert "would take more than its storage" in response.content.decode()
    home = client.get("/portal/").content.decode()
    assert "Files of your organisation: 100\xa0bytes of 100\xa0bytes in use." in home


def test_mail_and_api_uploads_beyond_the_storage_are_refused_too(cast, settings):
    from desk.test_mail_in import deliver, mail
    from slpdesk.desk.models import InboundMessage

    settings.SLPDESK_API_RATE = "off"
    w = build_world(cast)  # its files take some of Acme's storage
    settings.SLPDESK_ORG_STORAGE_BYTES = services.storage_used(cast.acme.pk) + 10
    row = deliver(mail(files=[("trace.bin", b"x" * 11)]))
    assert (row.state, row.outcome) == (InboundMessage.State.HELD,
                                        InboundMessage.Outcome.REFUSED)
    assert "would take more than its storage" in row.last_error
    case = w.acme.case
    response = Client().post(
        f"/api/v1/cases/{case.number}/attachments",
        {"file": SimpleUploadedFile("t.bin", b"x" * 11)}, **w.auth("customer"))
    assert response.status_code == 400
    assert response.json()["code"] == "quota"


def test_a_bad_zone_stored_before_the_check_shows_pages_in_utc(cast, client):
    User.objects.filter(pk=cast.alice.pk).update(time_zone="America")
    client.force_login(cast.alice)
    response = client.get("/portal/")
    assert response.status_code == 200
    assert re.search(r'<span class="zone"[^>]*>UTC</span>', response.content.decode())
