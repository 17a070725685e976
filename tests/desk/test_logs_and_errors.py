"""Logs, request ids, error pages, health checks and answers that never hide a commit
(issue 12, items 1-3), in-process. Outages of a real database with a real server are
in ``test_outage_processes.py``."""

from __future__ import annotations

import json
import logging.config
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings as django_settings
from django.db import OperationalError
from django.db.migrations.recorder import MigrationRecorder
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from desk import test_portal
from desk.test_api_tokens import bearer
from desk.test_portal import form_data, receive
from slpdesk import logs
from slpdesk.api import api as api_module
from slpdesk.api.models import ApiToken
from slpdesk.desk.models import (
    Case,
    FormSubmission,
    InboundMessage,
    Outbox,
    User,
    WorkerHeartbeat,
)
from slpdesk.worker.steps import Context, handle_one_outbox

desk = test_portal.desk  # the fixture: the cast, with agreements running today

REQUEST_LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO slpdesk\.request \[([0-9a-f]{16})\] "
    r"GET /portal/ 200 \d+ ms user=(\d+)$", re.M)


@pytest.fixture
def log_format():
    """Switch the log to ``json`` (or back to ``text``) at level debug, the most
    talkative; the settings' configuration is put back afterwards."""

    def switch(fmt: str) -> None:
        logging.config.dictConfig(logs.config(level="DEBUG", fmt=fmt))

    yield switch
    logging.config.dictConfig(django_settings.LOGGING)


def test_each_request_is_one_line_with_its_id_which_the_answer_carries(desk, client, capsys):
    client.force_login(desk.alice)
    response = client.get("/portal/?page=1&token=abc")
    assert response.status_code == 200
    err = capsys.readouterr().err
    [(request_id, user_id)] = REQUEST_LINE.findall(err)
    assert response["X-Request-ID"] == request_id
    assert int(user_id) == desk.alice.pk
    assert "token=abc" not in err and "page=1" not in err  # never the query string


def test_a_request_id_from_the_proxy_is_kept_and_a_strange_one_replaced(db, client):
    given = client.get("/login/", HTTP_X_REQUEST_ID="nginx-0123456789abcdef")
    assert given["X-Request-ID"] == "nginx-0123456789abcdef"
    odd = client.get("/login/", HTTP_X_REQUEST_ID="<script>")
    assert re.fullmatch(r"[0-9a-f]{16}", odd["X-Request-ID"])


def test_json_lines_carry_the_request_fields(desk, client, capsys, log_format):
    log_format("json")
    client.force_login(desk.alice)
    response = client.get("/portal/cases/")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    [line] = [x for x in lines if x["logger"] == "slpdesk.request"]
    assert {k: line[k] for k in ("level", "method", "path", "status", "user_id",
                                 "request_id")} == {
        "level": "INFO", "method": "GET", "path": "/portal/cases/", "status": 200,
        "user_id": desk.alice.pk, "request_id": response["X-Request-ID"]}
    assert line["duration_ms"] >= 0
    assert datetime.fromisoformat(line["time"]).tzinfo is not None


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_no_password_token_query_or_message_body_is_ever_logged(
        desk, client, capsys, log_format, settings, tmp_path, fmt):
    log_format(fmt)
    settings.SLPDESK_EMAIL = None
    settings.SLPDESK_MAIL_DIR = tmp_path / "mail"
    password, body, title = "Pw-Secret-4711", "Body-Secret-0815 the licence key", "Title-9"
    desk.alice.set_password(password)
    desk.alice.save()
    client.post("/login/", {"username": "alice", "password": "Wrong-" + password})
    client.post("/login/", {"username": "alice", "password": password})
    client.post(reverse("portal:new_case"), form_data(desk, title=title, description=body))
    case = Case.objects.get()
    client.post(reverse("portal:reply", args=[case.number]), {"body": body + " again"})
    _row, raw = ApiToken.issue(desk.alice, "t", now=timezone.now())
    api = Client()
    api.get("/api/v1/cases?cursor=Query-Secret-42", **bearer(raw))
    api.post(f"/api/v1/cases/{case.number}/reply", {"body": body}, content_type=
             "application/json", **bearer(raw))
    while handle_one_outbox(timezone.now(), Context(name="w-log")):
        pass  # the mails (with the message in them) go out, and are logged
    err = capsys.readouterr().err
    assert ("POST /login/ 302" if fmt == "text" else '"path": "/login/"') in err
    assert "mail" in err and "kept in" in err
    # the token's secret is everything after "slp_<prefix>_" (it may contain "_" itself)
    for secret in (password, "Body-Secret", title, raw, raw.split("_", 2)[2],
                   "Query-Secret", desk.alice.password):
        assert secret not in err, secret


def test_an_unhandled_error_is_logged_with_its_traceback_and_request_id(
        desk, monkeypatch, capsys):
    def broken(user):
        raise KeyError("bug")

    monkeypatch.setattr("slpdesk.web.views.access.is_staff", broken)  # the front door's
    client = Client(raise_request_exception=False)
    client.force_login(desk.alice)
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="sv")
    rid = response["X-Request-ID"]
    assert response.status_code == 500
    page = response.content.decode()
    assert "Något gick fel hos oss" in page and rid in page  # Swedish, in the layout
    assert '<header class="topbar">' in page
    err = capsys.readouterr().err
    assert f"ERROR django.request [{rid}] Internal Server Error: /" in err
    assert "Traceback (most recent call last)" in err and "KeyError: 'bug'" in err
    assert f"[{rid}] GET / 500 " in err


@pytest.mark.parametrize(("language", "heading"), [("en", "This page does not exist"),
                                                   ("sv", "Sidan finns inte")])
def test_a_404_is_a_page_in_the_layout_with_the_request_id(desk, client, language, heading):
    client.force_login(desk.alice)
    response = client.get("/portal/cases/SLP-999999/", HTTP_ACCEPT_LANGUAGE=language,
                          HTTP_X_REQUEST_ID="quote-me-0042")
    assert response.status_code == 404
    page = response.content.decode()
    assert heading in page and "quote-me-0042" in page and 'class="topbar"' in page


def test_a_403_is_a_page_in_the_layout_with_the_request_id(db, client):
    nobody = User.objects.create_user("lost", "lost@example.com", "pw")  # no organisation
    client.force_login(nobody)
    response = client.get(reverse("portal:home"), HTTP_X_REQUEST_ID="quote-me-0403")
    assert response.status_code == 403
    page = response.content.decode()
    assert "You may not do this" in page and "quote-me-0403" in page
    assert 'class="topbar"' in page


# ------------------------------------------------------------- health
def test_health_answers_a_probe_whatever_its_host_header(db, client):
    assert client.get("/login/", HTTP_HOST="10.1.2.3:8000").status_code == 400
    response = client.get("/health/", HTTP_HOST="10.1.2.3:8000")
    assert (response.status_code, response.content) == (200, b"ok\n")


def test_ready_reports_the_newest_heartbeat_and_the_oldest_waiting_mail(
        desk, client, monkeypatch):
    now = datetime(2026, 7, 6, 14, 0, tzinfo=UTC)
    receive(desk)  # writes the 'case received' mail
    Outbox.objects.update(created_at=now - timedelta(seconds=125))
    WorkerHeartbeat.objects.create(name="old", started_at=now - timedelta(hours=1),
                                   seen_at=now - timedelta(seconds=300))
    WorkerHeartbeat.objects.create(name="new", started_at=now - timedelta(hours=1),
                                   seen_at=now - timedelta(seconds=12))
    monkeypatch.setattr("slpdesk.web.views.timezone.now", lambda: now)
    response = client.get("/health/ready", HTTP_HOST="10.1.2.3")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "worker_heartbeat_age_seconds": 12.0,
                               "oldest_waiting_mail_age_seconds": 125.0,
                               "oldest_waiting_inbound_age_seconds": None}
    assert not InboundMessage.objects.exists()


def test_ready_is_503_while_a_migration_is_pending(db, client):
    last = MigrationRecorder.Migration.objects.filter(app="desk").order_by("-name").first()
    last.delete()  # (rolled back after the test)
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "reason":
                               "the database is not migrated (1 migrations pending)"}
    assert client.get("/health/").status_code == 200  # alive all the same


# ---------------------------------------------- answers never hide a commit
def test_a_case_whose_answer_fails_is_not_stored_and_the_api_says_unavailable(
        desk, monkeypatch):
    _row, raw = ApiToken.issue(desk.alice, "t", now=timezone.now())

    def down(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(api_module, "_detail", down)
    client = Client(raise_request_exception=False)
    response = client.post("/api/v1/cases", {"site": desk.hartford.pk, "title": "Down",
                                             "proposed_priority": "P2"},
                           content_type="application/json", HTTP_ACCEPT_LANGUAGE="sv",
                           **bearer(raw))
    assert response.status_code == 503
    assert response["Retry-After"] == "10"
    assert response.json()["code"] == "unavailable"
    assert "Tjänsten" in response.json()["message"]  # in the request's language
    assert not Case.objects.exists() and not Outbox.objects.exists()


def test_the_portal_form_sent_twice_opens_one_case_and_shows_it(desk, client):
    client.force_login(desk.alice)
    page = client.get(reverse("portal:new_case")).content.decode()
    [token] = re.findall(r'name="form_token" value="([A-Za-z0-9_-]+)"', page)
    data = form_data(desk, form_token=token)
    first = client.post(reverse("portal:new_case"), data)
    case = Case.objects.get()
    assert first["Location"] == reverse("portal:case", args=[case.number])
    again = client.post(reverse("portal:new_case"), data, follow=True)
    assert Case.objects.count() == 1
    assert again.redirect_chain == [(reverse("portal:case", args=[case.number]), 302)]
    assert f"This form was sent already: it opened case {case.number}." in \
        again.content.decode()
    assert FormSubmission.objects.get().case == case
    # Another form (a new token) is another case.
    client.post(reverse("portal:new_case"), form_data(desk, form_token="x" * 24))
    assert Case.objects.count() == 2


def test_a_form_token_of_another_user_shows_nothing(desk, client):
    client.force_login(desk.alice)
    client.post(reverse("portal:new_case"), form_data(desk, form_token="t" * 24))
    client.force_login(desk.bob)
    client.post(reverse("portal:new_case"), form_data(desk, form_token="t" * 24))
    assert sorted(Case.objects.values_list("contact__username", flat=True)) == ["alice",
                                                                                "bob"]


def test_the_users_language_is_kept_in_a_cookie_for_pages_without_the_database(desk,
                                                                                client):
    desk.alice.language = "sv"
    desk.alice.save()
    client.force_login(desk.alice)
    response = client.get("/portal/")
    assert response.cookies["django_language"].value == "sv"
    assert "django_language" not in client.get("/portal/").cookies  # set once
