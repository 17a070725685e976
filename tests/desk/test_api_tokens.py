"""Personal API tokens (shown once, hashed at rest, revoked or deactivated: 401),
idempotent case creation, and the per-token rate limit."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from desk.api_world import build_world
from slpdesk.api.models import ApiToken, IdempotencyKey, RateLimitWindow
from slpdesk.config import Rate, parse_rate
from slpdesk.desk.models import Case, Organisation


@pytest.fixture
def w(cast, settings):
    settings.SLPDESK_API_RATE = "off"
    return build_world(cast)


def bearer(raw: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


# --------------------------------------------------------------------- tokens
def test_a_token_is_created_in_the_web_ui_shown_once_and_stored_hashed(client, cast):
    client.force_login(cast.alice)
    page = client.get(reverse("preferences"))
    assert reverse("api_tokens").encode() in page.content
    response = client.post(reverse("api_tokens"), {"name": "CRM"})
    assert response.status_code == 200
    html = response.content.decode()
    token = ApiToken.objects.get(user=cast.alice)
    raw = html.split(f'value="slp_{token.prefix}_', 1)[1].split('"', 1)[0]
    raw = f"slp_{token.prefix}_{raw}"
    assert len(raw) == 4 + 12 + 1 + 43
    assert response["Cache-Control"].startswith("max-age=0") or "no-cache" in \
        response["Cache-Control"]
    # At rest: only the SHA-256, nowhere the secret.
    assert token.digest == hashlib.sha256(raw.encode()).hexdigest()
    row = json.dumps(list(ApiToken.objects.filter(pk=token.pk).values()), default=str)
    assert raw.split("_", 2)[2] not in row
    # Shown once: the list afterwards has the prefix only.
    listing = client.get(reverse("api_tokens")).content.decode()
    assert f"slp_{token.prefix}_" in listing and raw not in listing
    assert client.get("/api/v1/cases", **bearer(raw)).status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_a_revoked_token_is_refused_at_once(client, cast):
    token, raw = ApiToken.issue(cast.alice, "t", now=timezone.now())
    assert client.get("/api/v1/cases", **bearer(raw)).status_code == 200
    client.force_login(cast.alice)
    response = client.post(reverse("api_token_revoke", args=[token.pk]))
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    client.logout()
    response = client.get("/api/v1/cases", **bearer(raw))
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_nobody_revokes_another_users_token(client, cast):
    token, raw = ApiToken.issue(cast.alice, "t", now=timezone.now())
    client.force_login(cast.olga)
    assert client.post(reverse("api_token_revoke", args=[token.pk])).status_code == 404
    assert reverse("api_token_revoke", args=[token.pk]).encode() not in client.get(
        reverse("api_tokens")).content
    token.refresh_from_db()
    assert token.revoked_at is None
    assert client.get(reverse("api_token_revoke", args=[token.pk])).status_code == 405


def test_a_deactivated_users_token_is_refused(client, cast):
    _, raw = ApiToken.issue(cast.alice, "t", now=timezone.now())
    cast.alice.is_active = False
    cast.alice.save()
    assert client.get("/api/v1/cases", **bearer(raw)).status_code == 401


def test_a_token_follows_its_users_role_and_organisation_as_they_are_now(client, w):
    raw = w.tokens["customer"]
    url = f"/api/v1/cases/{w.acme.case.number}"
    assert client.get(url, **bearer(raw)).status_code == 200
    alice = w.cast.alice
    alice.organisation = w.cast.other
    alice.save()
    assert client.get(url, **bearer(raw)).status_code == 404
    assert client.get(f"/api/v1/cases/{w.other.case.number}", **bearer(raw)).status_code == 200


@pytest.mark.parametrize("header", [
    "", "Bearer", "Bearer ", "Basic YWxpY2U6cHc=", "Token {raw}", "bearer {raw}x",
    "Bearer {wrong}", "Bearer slp_000000000000_" + "A" * 43, "Bearer {raw} {raw}",
])
def test_malformed_or_wrong_tokens_are_refused(client, cast, header):
    _, raw = ApiToken.issue(cast.alice, "t", now=timezone.now())
    wrong = raw[:-1] + ("A" if raw[-1] != "A" else "B")  # right prefix, wrong secret
    value = header.format(raw=raw, wrong=wrong)
    kwargs = {"HTTP_AUTHORIZATION": value} if value else {}
    response = client.get("/api/v1/cases", **kwargs)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"


def test_the_scheme_name_is_case_insensitive(client, cast):
    _, raw = ApiToken.issue(cast.alice, "t", now=timezone.now())
    assert client.get("/api/v1/cases", HTTP_AUTHORIZATION=f"bearer {raw}").status_code == 200


def test_a_user_has_a_bounded_number_of_live_tokens(client, cast):
    from slpdesk.api.views import MAX_TOKENS
    now = timezone.now()
    for n in range(MAX_TOKENS):
        ApiToken.issue(cast.alice, f"t{n}", now=now)
    client.force_login(cast.alice)
    response = client.post(reverse("api_tokens"), {"name": "one more"})
    assert ApiToken.objects.filter(user=cast.alice).count() == MAX_TOKENS
    assert b"revoke one first" in response.content


def test_the_token_pages_need_a_log_in(client, db):
    response = client.get(reverse("api_tokens"))
    assert response.status_code == 302 and "/login/" in response["Location"]


# ---------------------------------------------------------------- idempotency
def _open(client, raw, key=None, **fields):
    body = {"site": fields.pop("site"), "title": "Down", "proposed_priority": "P2", **fields}
    headers = bearer(raw)
    if key is not None:
        headers["HTTP_IDEMPOTENCY_KEY"] = key
    return client.post("/api/v1/cases", json.dumps(body), content_type="application/json",
                       **headers)


def test_a_retry_with_the_same_key_returns_the_same_case(client, w):
    site = w.cast.hartford.pk
    first = _open(client, w.tokens["customer"], "order-42", site=site)
    assert first.status_code == 201 and "Idempotent-Replayed" not in first
    again = _open(client, w.tokens["customer"], "order-42", site=site)
    assert again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["number"] == first.json()["number"]
    assert again["Location"] == first["Location"]
    assert Case.objects.filter(title="Down").count() == 1


def test_the_same_key_with_another_body_is_refused(client, w):
    site = w.cast.hartford.pk
    _open(client, w.tokens["customer"], "k", site=site)
    other = _open(client, w.tokens["customer"], "k", site=site, description="changed")
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    assert Case.objects.filter(title="Down").count() == 1


def test_keys_belong_to_their_user_and_no_key_means_a_new_case(client, w):
    site = w.cast.hartford.pk
    a = _open(client, w.tokens["customer"], "shared", site=site)
    b = _open(client, w.tokens["colleague"], "shared", site=site)
    assert a.status_code == b.status_code == 201
    assert a.json()["number"] != b.json()["number"]
    c = _open(client, w.tokens["customer"], site=site)
    d = _open(client, w.tokens["customer"], site=site)
    assert c.json()["number"] != d.json()["number"]
    assert Case.objects.filter(title="Down").count() == 4


def test_a_refused_request_does_not_use_up_its_key(client, w):
    bad = _open(client, w.tokens["customer"], "k1", site=w.cast.other_site.pk)
    assert bad.status_code == 400
    assert not IdempotencyKey.objects.exists()
    good = _open(client, w.tokens["customer"], "k1", site=w.cast.hartford.pk)
    assert good.status_code == 201


def test_a_key_is_remembered_for_a_day(client, w):
    site = w.cast.hartford.pk
    first = _open(client, w.tokens["customer"], "daily", site=site)
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=25))
    later = _open(client, w.tokens["customer"], "daily", site=site)
    assert later.status_code == 201
    assert later.json()["number"] != first.json()["number"]


def test_a_replay_of_a_case_no_longer_visible_is_a_404(client, w):
    first = _open(client, w.tokens["customer"], "moved", site=w.cast.hartford.pk)
    assert first.status_code == 201
    w.cast.alice.organisation = Organisation.objects.get(name="Brit Mill")
    w.cast.alice.save()
    again = _open(client, w.tokens["customer"], "moved", site=w.cast.hartford.pk)
    assert again.status_code == 404


def test_a_concurrent_request_with_the_same_key_gets_the_winners_case(client, w,
                                                                      monkeypatch):
    """The race: the first look-up misses, the insert of the key then collides with
    the request that won; the loser answers with the winner's case."""
    site = w.cast.hartford.pk
    winner = _open(client, w.tokens["customer"], "race", site=site)
    original = IdempotencyKey.objects.filter
    missed = []

    def filter_missing_once(*args, **kwargs):
        if "key" in kwargs and not missed:
            missed.append(True)
            return original(pk=-1)
        return original(*args, **kwargs)

    monkeypatch.setattr(IdempotencyKey.objects, "filter", filter_missing_once)
    loser = _open(client, w.tokens["customer"], "race", site=site)
    assert missed
    assert loser.status_code == 200 and loser["Idempotent-Replayed"] == "true"
    assert loser.json()["number"] == winner.json()["number"]
    assert Case.objects.filter(title="Down").count() == 1


@pytest.mark.parametrize("key", ["", "x" * 256, "with space", "ünicode"])
def test_bad_idempotency_keys_are_refused(client, w, key):
    response = client.post("/api/v1/cases", json.dumps({
        "site": w.cast.hartford.pk, "title": "x", "proposed_priority": "P2"}),
        content_type="application/json", HTTP_IDEMPOTENCY_KEY=key.encode().decode("latin-1"),
        **bearer(w.tokens["customer"]))
    assert response.status_code == 422
    assert not Case.objects.filter(title="x").exists()


# ----------------------------------------------------------------- rate limit
def test_the_rate_limit_answers_429_with_retry_after(client, w, settings, monkeypatch):
    settings.SLPDESK_API_RATE = "3/m"
    # Every request of this test falls in one window: 30 s into a minute (a run that
    # crossed a wall-clock minute used to start a new count and get 201).
    fixed = timezone.now().replace(second=30, microsecond=0) + timedelta(minutes=1)
    monkeypatch.setattr("slpdesk.api.auth.timezone.now", lambda: fixed)
    raw = w.tokens["customer"]
    for _ in range(3):
        assert client.get("/api/v1/releases", **bearer(raw)).status_code == 200
    response = client.get("/api/v1/releases", **bearer(raw))
    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"
    assert "3" in response.json()["message"]
    assert response["Retry-After"] == "30"  # the window ends at the next minute
    # Per token: another token (even of the same user) still has its own allowance.
    _, second = ApiToken.issue(w.cast.alice, "second", now=fixed)
    assert client.get("/api/v1/releases", **bearer(second)).status_code == 200
    assert client.get("/api/v1/releases", **bearer(w.tokens["agent"])).status_code == 200
    # Writes are counted and refused alike, and a refused write changes nothing.
    before = Case.objects.count()
    assert _open(client, raw, site=w.cast.hartford.pk).status_code == 429
    assert Case.objects.count() == before


def test_the_next_window_starts_a_new_count(client, w, settings, monkeypatch):
    settings.SLPDESK_API_RATE = "1/h"
    raw = w.tokens["customer"]
    assert client.get("/api/v1/releases", **bearer(raw)).status_code == 200
    assert client.get("/api/v1/releases", **bearer(raw)).status_code == 429
    later = timezone.now() + timedelta(hours=1)
    monkeypatch.setattr("slpdesk.api.auth.timezone.now", lambda: later)
    assert client.get("/api/v1/releases", **bearer(raw)).status_code == 200
    assert RateLimitWindow.objects.count() == 1  # one row per token, reused


def test_unauthenticated_requests_are_refused_before_counting(client, w, settings):
    settings.SLPDESK_API_RATE = "1/m"
    for _ in range(3):
        assert client.get("/api/v1/cases").status_code == 401
    assert not RateLimitWindow.objects.exists()


def test_rates_are_parsed_strictly():
    assert parse_rate("120/m") == Rate(120, 60)
    assert parse_rate("1/s") == Rate(1, 1)
    assert parse_rate("5000/h") == Rate(5000, 3600)
    assert parse_rate(" 10/d ") == Rate(10, 86400)
    assert parse_rate("off") is None
    for bad in ("", "0/m", "-1/m", "1.5/m", "120", "120/min", "120 /m", "120/ m", "/m",
                "120/w", "OFF", "1e3/m", "1234567890/m", "120/m/s"):
        with pytest.raises(ValueError):
            parse_rate(bad)


def test_a_bad_rate_stops_the_process_at_start_up(tmp_path):
    env = {**os.environ, "SLPDESK_API_RATE": "lots", "SLPDESK_DATA_DIR": str(tmp_path)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run([sys.executable, "-c", "import slpdesk.settings"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "SLPDESK_API_RATE" in result.stderr and "lots" in result.stderr


def test_an_administrator_sees_and_revokes_tokens_but_never_their_secret(client, cast):
    from slpdesk.desk.models import User
    token, raw = ApiToken.issue(cast.alice, "CRM", now=timezone.now())
    boss = User.objects.create_superuser("boss", "boss@example.com", "pw", role=User.Role.ADMIN)
    client.force_login(boss)
    page = client.get("/admin/api/apitoken/")
    assert page.status_code == 200 and token.prefix.encode() in page.content
    detail = client.get(f"/admin/api/apitoken/{token.pk}/change/")
    assert detail.status_code == 200
    assert token.digest.encode() not in detail.content and raw.encode() not in detail.content
    assert client.get("/admin/api/apitoken/add/").status_code == 403
    client.post("/admin/api/apitoken/", {"action": "revoke", "_selected_action": [token.pk]})
    token.refresh_from_db()
    assert token.revoked_at is not None
    client.logout()
    assert client.get("/api/v1/cases", **bearer(raw)).status_code == 401
