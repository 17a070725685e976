"""The access matrix: every route × every role × own / other organisation, as one table.

Every URL pattern of the site (the admin apart, which Django guards itself)
must appear in ROUTES, so a new route cannot be added without deciding who
may use it. Each principal's request runs in a savepoint that is rolled
back, so every principal meets the same data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from slpdesk.desk import services
from slpdesk.desk.models import (
    Agreement,
    Attachment,
    Case,
    CaseEvent,
    Escalation,
    Organisation,
    Release,
    User,
)

OK, NOT_FOUND, FORBIDDEN, LOGIN, TO_CONSOLE, TO_PORTAL, TO_BOARD = (
    "ok", "404", "403", "login", "to-console", "to-portal", "to-board")
Role = User.Role


@dataclass
class World:
    case: Case
    public_file: Attachment
    internal_file: Attachment
    escalation: Escalation
    users: dict[str, User | None]


@pytest.fixture
def world(cast) -> World:
    now = timezone.now()
    today = now.date()
    for site in (cast.hartford, cast.other_site):  # agreements that cover today
        Agreement.objects.create(site=site, starts=today - timedelta(days=30),
                                 ends=today + timedelta(days=30))
    Release.objects.create(name="current", released=today - timedelta(days=1))
    partner = Organisation.objects.get(name="Partnerco")
    users = {
        "anonymous": None,
        "own customer": cast.alice,
        "other customer": cast.olga,
        "other partner": User.objects.create_user("paul", password="pw",
                                                  organisation=partner),
        "agent": cast.sam,
        "supervisor": User.objects.create_user("sue", password="pw", role=Role.SUPERVISOR),
        "manager": User.objects.create_user("max", password="pw", role=Role.MANAGER),
        "executive": User.objects.create_user("eve", password="pw", role=Role.EXECUTIVE),
        "admin": User.objects.create_user("ada", password="pw", role=Role.ADMIN,
                                          is_staff=True, is_superuser=True),
    }
    received = now - timedelta(hours=2)
    case = services.receive_case(cast.hartford, contact=cast.alice, channel="portal",
                                 proposed_priority="P3", title="Acme's own case",
                                 actor=cast.alice, now=received)
    services.assign_priority(case, "P3", information_complete=True, actor=cast.sam,
                             now=received)
    services.reply(case, "Looking at it", actor=cast.sam, now=received)
    services.add_note(case, "Internal only", actor=cast.sam, now=received)
    public = services.attach_file(case, SimpleUploadedFile("log.txt", b"log"),
                                  actor=cast.alice, now=received)
    internal = services.attach_file(case, SimpleUploadedFile("notes.txt", b"n"),
                                    actor=cast.sam, now=received, internal=True)
    escalation = services.escalate(case, "Too slow", channel="portal", actor=cast.alice,
                                   now=received)
    return World(case, public, internal, escalation, users)


def _file(name="x.txt"):
    return SimpleUploadedFile(name, b"data")


# ---------------------------------------------------------------- the table
CUSTOMERS = ("own customer", "other customer", "other partner")
WORKERS = ("agent", "supervisor", "manager", "admin")


def portal_page(case_specific: bool):
    def expect(who: str) -> str:
        if who == "anonymous":
            return LOGIN
        if who == "executive":  # executives land on the live board (issue 13)
            return TO_BOARD
        if who in WORKERS:
            return TO_CONSOLE
        if case_specific and who != "own customer":
            return NOT_FOUND
        return OK
    return expect


def console(work: bool = True, executive: str | None = None):
    """Staff only (customers 404); ``work``: only roles that work cases, the
    executive gets ``executive`` (403 by default)."""
    def expect(who: str) -> str:
        if who == "anonymous":
            return LOGIN
        if who in CUSTOMERS:
            return NOT_FOUND
        if who == "executive" and work:
            return executive or FORBIDDEN
        return OK
    return expect


def download(which: str):
    def expect(who: str) -> str:
        if who == "anonymous":
            return LOGIN
        if who in WORKERS or who == "executive":
            return OK
        if who == "own customer" and which == "public":
            return OK
        return NOT_FOUND
    return expect


def everyone_ok(who: str) -> str:
    return OK


def logged_in(who: str) -> str:
    return LOGIN if who == "anonymous" else OK


def front_door(who: str) -> str:
    if who == "anonymous":
        return LOGIN
    if who == "executive":  # executives land on the live board (issue 13)
        return TO_BOARD
    return TO_CONSOLE if who in WORKERS else TO_PORTAL


def number(w: World) -> dict:
    return {"number": w.case.number}


def publisher(who: str) -> str:
    """Managers and administrators publish updates and policy versions."""
    if who == "anonymous":
        return LOGIN
    if who in CUSTOMERS:
        return NOT_FOUND
    return OK if who in ("manager", "admin") else FORBIDDEN


def statement_manager(who: str) -> str:
    """Managers and administrators preview, send and switch off statements."""
    if who == "anonymous":
        return LOGIN
    return OK if who in ("manager", "admin") else NOT_FOUND


def _statement(w: World) -> dict:
    """Acme's (the own customer's) statement of July 2026."""
    from slpdesk.reports import statements

    statements.stored_or_new(w.case.organisation, "2026-07", timezone.now())
    return {"month": "2026-07"}


def _update(w: World):
    from slpdesk.desk.models import ProgramUpdate

    update = ProgramUpdate.objects.create(name="SP1", released=timezone.now().date())
    update.applies_to.set(Release.objects.filter(name="current"))
    return update


def _canned(w: World):
    """A shared canned reply of the agent's (issue 13)."""
    from slpdesk.desk.models import CannedReply

    now = timezone.now()
    return CannedReply.objects.get_or_create(
        title="Logs", defaults={"owner": w.users["agent"], "shared": True, "created_at": now,
                                "updated_at": now, "body_en": "Hi {contact_name}",
                                "body_sv": "Hej {contact_name}"})[0]


def _shared_view(w: World):
    """A view the supervisor shares with all staff."""
    from slpdesk.desk.models import SavedView

    now = timezone.now()
    return SavedView.objects.create(owner=w.users["supervisor"], name="Team P1",
                                    shared=True, filters={"view": "all"}, created_at=now,
                                    updated_at=now)


def view_keeper(who: str) -> str:
    """A shared saved view: every staff member sees it; its owner (the supervisor) and
    an administrator change it, other staff get 403, customers 404."""
    if who == "anonymous":
        return LOGIN
    if who in CUSTOMERS:
        return NOT_FOUND
    return OK if who in ("supervisor", "admin") else FORBIDDEN


def _inbound(w: World):
    from slpdesk.mail import inbound

    raw = (b"From: stranger@elsewhere.example\r\nSubject: Hello\r\n"
           b"Message-ID: <matrix@elsewhere.example>\r\n\r\nHi\r\n")
    row, _ = inbound.store(raw, now=timezone.now())
    inbound.handle_one_inbound(timezone.now(), pk=row.pk)  # held: unknown sender
    return row


def administrator(who: str) -> str:
    """Administrators only (a person's data: issue 16); everybody else 404."""
    return {"anonymous": LOGIN, "admin": OK}.get(who, NOT_FOUND)


def contact(w: World) -> dict:
    return {"pk": w.case.contact_id}


def admin_only(who: str) -> str:
    """Administrators only (webhooks, issue 15): other staff 403, customers 404."""
    if who == "anonymous":
        return LOGIN
    if who in CUSTOMERS:
        return NOT_FOUND
    return OK if who == "admin" else FORBIDDEN


def _webhook(w: World):
    from slpdesk.webhooks import manage

    return manage.create(url="https://hooks.example.com/in", events=["case.created"],
                         actor=w.users["admin"], now=timezone.now())[0]


def _delivery(w: World):
    import uuid

    from slpdesk.webhooks.models import Delivery

    now = timezone.now()
    return Delivery.objects.create(uuid=uuid.uuid4(), webhook=_webhook(w), event="case.created",
                                   case=w.case, body="{}", state="done", next_attempt_at=now,
                                   created_at=now)


# route name -> (method, url kwargs, POST data, expectation per principal)
ROUTES = {
    "home": ("get", None, None, front_door),
    "login": ("get", None, None, everyone_ok),
    "logout": ("post", None, {}, lambda who: LOGIN),  # back to the log-in page
    "preferences": ("get", None, None, logged_in),
    # Issue 11: password reset (anyone) and change, two-factor enrolment and the code step.
    "password_reset": ("get", None, None, everyone_ok),
    "password_reset_done": ("get", None, None, everyone_ok),
    "password_reset_confirm": ("get", lambda w: {"uidb64": "MQ", "token": "c0ffee-bad"}, None,
                               everyone_ok),  # "this link has expired"
    "password_reset_complete": ("get", None, None, everyone_ok),
    "password_change": ("get", None, None, logged_in),
    "password_change_done": ("get", None, None, logged_in),
    "two_factor_setup": ("get", None, None, logged_in),
    "two_factor_verify": ("get", None, None, logged_in),  # no device: on to the front door
    "set_language": ("post", None, {"language": "sv"}, everyone_ok),
    # Issue 15: single sign-on answers 404 for everyone while no provider is configured
    # (the test settings configure none; tests/desk/test_sso.py covers it switched on).
    "sso_start": ("get", None, None, lambda who: NOT_FOUND),
    "sso_callback": ("get", None, None, lambda who: NOT_FOUND),
    "health": ("get", None, None, everyone_ok),
    "ready": ("get", None, None, everyone_ok),
    "download": ("get", lambda w: {"pk": w.public_file.pk}, None, download("public")),
    "download#internal": ("get", lambda w: {"pk": w.internal_file.pk}, None,
                          download("internal")),
    "portal:home": ("get", None, None, portal_page(False)),
    "portal:cases": ("get", None, None, portal_page(False)),
    "portal:new_case": ("get", None, None, portal_page(False)),
    "portal:case": ("get", number, None, portal_page(True)),
    "portal:reply": ("post", number, {"body": "Hello"}, portal_page(True)),
    "portal:upload": ("post", number, lambda: {"files": _file()}, portal_page(True)),
    "portal:escalate": ("post", number, {"escalate-reason": "Slow"}, portal_page(True)),
    "portal:reopen": ("post", number, {"reopen-reason": "Back"}, portal_page(True)),
    # A link that is not a valid confirmation: back to the case page, for its own people.
    "portal:confirm_escalation": ("post", lambda w: {"number": w.case.number, "token": "x"},
                                  {}, portal_page(True)),
    "portal:updates": ("get", None, None, portal_page(False)),
    # Issue 15: monthly SLA statements (own organisation only) and the public feeds.
    "portal:statements": ("get", None, None, portal_page(False)),
    "portal:statement": ("get", _statement, None, portal_page(True)),
    "portal:statement_csv": ("get", _statement, None, portal_page(True)),
    "console:statements": ("get", None, None, statement_manager),
    "console:statement_send": ("post", None, lambda: {
        "organisation": Organisation.objects.get(name="Acme Tooling").pk,
        "month": "2026-07"}, statement_manager),
    "console:statement_opt_out": ("post", None, lambda: {
        "organisation": Organisation.objects.get(name="Acme Tooling").pk,
        "opt_out": "1"}, statement_manager),
    "calendar_feed": ("get", lambda w: {"calendar": "uk"}, None, everyone_ok),
    "console:queue": ("get", None, None, console(work=False)),
    "console:escalations": ("get", None, None, console(work=False)),
    "console:calendars": ("get", None, None, console(work=False)),
    "console:new_case": ("get", None, None, console(work=False)),
    "console:case": ("get", number, None, console(work=False)),
    "console:triage": ("post", number, {"priority": "P2"}, console()),
    "console:info_complete": ("post", number, {}, console()),
    "console:request_info": ("post", number, {"body": "Logs please"}, console()),
    "console:reply": ("post", number, {"body": "Hello"}, console()),
    "console:note": ("post", number, {"body": "Note"}, console(work=False)),
    "console:call": ("post", number, {"body": "Called"}, console()),
    "console:assign": ("post", number, {}, console()),
    "console:classify": ("post", number, {"kind": "bug", "defect_reference": "B-1"},
                         console()),
    "console:resolve": ("post", number, {"resolution": "fixed", "summary": "Done"},
                        console()),
    "console:exclude": ("post", number, {"reason": "altered"}, console()),
    "console:reopen": ("post", number, {"reason": "Back"}, console()),
    "console:escalate": ("post", number, {"reason": "Slow"}, console()),
    "console:upload": ("post", number, lambda: {"file": _file()}, console()),
    "console:acknowledge": ("post", lambda w: {"pk": w.escalation.pk}, {},
                            console(work=False)),
    # Program updates, policy versions (managers and admins publish), held e-mail.
    "console:updates": ("get", None, None, console(work=False)),
    "console:publish_update": ("post", lambda w: {"pk": _update(w).pk}, {}, publisher),
    "console:policy": ("get", None, None, console(work=False)),
    "console:inbound": ("get", None, None, console(work=False)),
    "console:inbound_detail": ("get", lambda w: {"pk": _inbound(w).pk}, None,
                               console(work=False)),
    "console:inbound_act": ("post", lambda w: {"pk": _inbound(w).pk, "action": "dismiss"},
                            {}, console()),
    "console:outbox": ("get", None, None, console(work=False)),
    # Issue 13: the queue's poll, bulk actions, saved views; the case page's presence.
    "console:queue_changes": ("get", None, lambda: {"since": timezone.now().isoformat()},
                              console(work=False)),
    "console:bulk": ("post", None, {"case": [], "action": "assign", "next": "/console/?a=1"},
                     console()),
    "console:save_view": ("post", None, {"name": "Mine", "view": "all", "status": "open"},
                          console(work=False)),
    "console:edit_view": ("post", lambda w: {"pk": _shared_view(w).pk},
                          {"name": "Renamed", "view": "all", "status": "open", "shared": "1"},
                          view_keeper),
    "console:delete_view": ("post", lambda w: {"pk": _shared_view(w).pk},
                            {"next": "/console/?a=1"}, view_keeper),
    "console:presence": ("post", number, {}, console(work=False)),
    "console:outbox_retry": ("post", lambda w: {"pk": w.case.outbox.first().pk}, {},
                             console()),
    # Canned replies (issue 13): staff only; a shared one is changed by its owner (the
    # agent) or a supervisor, manager or admin, not by an executive.
    "console:canned": ("get", None, None, console(work=False)),
    "console:canned_edit": ("get", lambda w: {"pk": _canned(w).pk}, None, console()),
    "console:canned_delete": ("post", lambda w: {"pk": _canned(w).pk}, {}, console()),
    "console:canned_render": ("get", lambda w: {"number": w.case.number,
                                                "pk": _canned(w).pk}, None,
                              console(work=False)),
    # Webhooks (issue 15): administrators only.
    "console:webhooks": ("get", None, None, admin_only),
    "console:webhook": ("get", lambda w: {"pk": _webhook(w).pk}, None, admin_only),
    "console:webhook_enable": ("post", lambda w: {"pk": _webhook(w).pk}, {"enabled": "0"},
                               admin_only),
    "console:webhook_rotate": ("post", lambda w: {"pk": _webhook(w).pk}, {}, admin_only),
    "console:webhook_delete": ("post", lambda w: {"pk": _webhook(w).pk}, {}, admin_only),
    "console:webhook_resend": ("post", lambda w: (lambda d: {"pk": d.webhook_id,
                                                             "delivery": d.pk})(_delivery(w)),
                               {}, admin_only),
    # The API's token pages (the API itself: API_ROUTES below).
    "api_tokens": ("get", None, None, logged_in),
    "api_token_revoke": ("post", lambda w: {"pk": _api_token(w, "own customer")[0].pk}, {},
                         lambda who: {"anonymous": LOGIN, "own customer": OK}.get(
                             who, NOT_FOUND)),
    # A person's data (issue 16): everyone their own; administrators anyone's. The
    # erasure's first POST only asks for the confirmation (nothing changes).
    "my_data": ("get", None, None, logged_in),
    "privacy:people": ("get", None, None, administrator),
    "privacy:person": ("get", contact, None, administrator),
    "privacy:export": ("get", contact, None, administrator),
    "privacy:erase": ("post", contact, {"reason": "asked", "mode": "redact"}, administrator),
    "api:openapi-json": ("get", None, None, everyone_ok),
    "api:openapi-view": ("get", None, None, everyone_ok),
    "api:api-root": ("get", None, None, lambda who: NOT_FOUND),  # django-ninja's: /api/v1/
    # Reports: every staff role reads them; the simulator is for the leads (LEAD_ROLES).
    "reports:report": ("get", None, None, console(work=False)),
    "reports:cases": ("get", None, None, console(work=False)),
    "reports:board": ("get", None, None, console(work=False)),
    "reports:export": ("get", lambda w: {"what": "report", "fmt": "csv"}, None,
                       console(work=False)),
    "reports:export#cases": ("get", lambda w: {"what": "cases", "fmt": "xlsx"}, None,
                             console(work=False)),
    "reports:simulate": ("get", None, None, lambda who: {"anonymous": LOGIN}.get(
        who, NOT_FOUND if who in CUSTOMERS or who == "agent" else OK)),
}


def all_route_names() -> set[str]:
    names = set()

    def walk(patterns, namespace=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                if p.namespace == "admin":
                    continue
                walk(p.url_patterns, f"{namespace}{p.namespace}:" if p.namespace else namespace)
            elif isinstance(p, URLPattern) and p.name:
                names.add(namespace + p.name)
    walk(get_resolver().url_patterns)
    return names


def test_every_route_is_in_the_matrix():
    listed = {name.split("#")[0] for name in ROUTES}
    # The API's operations are named after their operation ids (API_ROUTES).
    operations = {f"api:{name.split('#')[0]}" for name in API_ROUTES}
    assert {name for name in all_route_names() if name not in operations} == listed


def _outcome(response) -> str:
    if response.status_code == 404:
        return NOT_FOUND
    if response.status_code == 403:
        return FORBIDDEN
    if response.status_code == 302:
        target = response["Location"]
        if "/login/" in target:
            return LOGIN
        if target.rstrip("/").endswith("/console"):
            return TO_CONSOLE
        if target.rstrip("/").endswith("/portal"):
            return TO_PORTAL
        if target.rstrip("/").endswith("/reports/board"):
            return TO_BOARD
        return OK
    if response.status_code == 200:
        return OK
    return str(response.status_code)


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_access_matrix(route, world, client):
    method, kwargs, data, expect = ROUTES[route]
    url = reverse(route.split("#")[0], kwargs=kwargs(world) if kwargs else None)
    before = _fingerprint(world)
    got, wanted = {}, {}
    for who, user in world.users.items():
        with transaction.atomic():
            client.logout()
            if user is not None:
                client.force_login(user)
            payload = data() if callable(data) else data
            response = getattr(client, method)(url, payload or {})
            got[who] = _outcome(response)
            wanted[who] = expect(who)
            if wanted[who] in (NOT_FOUND, FORBIDDEN, LOGIN):
                # A refused request changes nothing.
                assert _fingerprint(world) == before, (route, who)
            transaction.set_rollback(True)
    assert got == wanted


def _fingerprint(w: World):
    case = Case.objects.filter(pk=w.case.pk).values().get()
    return (case, CaseEvent.objects.count(), Attachment.objects.count(),
            Escalation.objects.filter(acknowledged_at__isnull=False).count())


def test_a_refused_customer_learns_nothing_from_the_404(world, client):
    """The 404 for another organisation's case is the 404 of a number that does not exist."""
    client.force_login(world.users["other customer"])
    # (The same request id for both: each page shows its own.)
    theirs = client.get(reverse("portal:case", kwargs=number(world)),
                        HTTP_X_REQUEST_ID="matrix-404")
    missing = client.get(reverse("portal:case", kwargs={"number": "SLP-999999"}),
                         HTTP_X_REQUEST_ID="matrix-404")
    assert theirs.status_code == missing.status_code == 404
    masked = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]+"')  # new mask per page
    assert masked.sub(b"", theirs.content) == masked.sub(b"", missing.content)
    assert b"matrix-404" in theirs.content



# ------------------------------------------------------------------ the API
# Every operation of the OpenAPI document × every principal, with a personal API
# token each; the expected HTTP status (2xx: OK). Another organisation's case or
# file is a 404, like a missing one; a role that may not act on a case it sees
# gets a 403; no token, a 401.
def _api_token(w: World, who: str):
    from slpdesk.api.models import ApiToken

    return ApiToken.issue(w.users[who], f"{who} token", now=timezone.now())


def api_expect(contact: str, other: str = NOT_FOUND, workers: str = OK,
               executive: str | None = None):
    """``contact``: what the case's own customer gets; ``other``: the other
    organisations' people; ``workers``: agent, supervisor, manager, admin;
    ``executive`` (default: as workers)."""
    def expect(who: str) -> str:
        if who == "anonymous":
            return "401"
        if who == "own customer":
            return contact
        if who in CUSTOMERS:
            return other
        if who == "executive":
            return executive or workers
        return workers
    return expect


API_READ = api_expect(OK)
API_ANY = api_expect(OK, other=OK)
API_PARTY = api_expect(OK, executive=FORBIDDEN)  # the customer's side and case workers
API_WORK = api_expect(FORBIDDEN, executive=FORBIDDEN)
API_STAFF = api_expect(FORBIDDEN, other=FORBIDDEN)
API_CANNED_EDIT = api_expect(FORBIDDEN, other=FORBIDDEN, executive=FORBIDDEN)


def API_ADMIN(who: str) -> str:
    """Webhooks: administrators only."""
    return "401" if who == "anonymous" else OK if who == "admin" else FORBIDDEN


def _webhook_url(tail: str = ""):
    return lambda w: f"/api/v1/webhooks/{_webhook(w).pk}{tail}"


def _case_url(tail: str = ""):
    return lambda w: f"/api/v1/cases/{w.case.number}{tail}"


def _open_body(w: World, who: str) -> dict:
    body = {"site": w.case.site_id, "title": "Down", "proposed_priority": "P2"}
    if w.users[who] is not None and w.users[who].role != Role.CUSTOMER:
        body["contact"] = w.case.contact.username
    return body


# operation id -> (method, url, JSON body or None (a callable gets the world and the
# principal), expectation per principal)
API_ROUTES = {
    "list_cases": ("get", lambda w: "/api/v1/cases", None, API_ANY),
    "open_case": ("post", lambda w: "/api/v1/cases", _open_body,
                  api_expect(OK, other="400", executive=FORBIDDEN)),  # 400: not their site
    "get_case": ("get", _case_url(), None, API_READ),
    "list_messages": ("get", _case_url("/messages"), None, API_READ),
    "list_attachments": ("get", _case_url("/attachments"), None, API_READ),
    "download_attachment": ("get", lambda w: f"/api/v1/cases/{w.case.number}/attachments/"
                            f"{w.public_file.pk}", None, API_READ),
    "download_attachment#internal": ("get", lambda w: f"/api/v1/cases/{w.case.number}/"
                                     f"attachments/{w.internal_file.pk}", None,
                                     api_expect(NOT_FOUND)),
    "reply": ("post", _case_url("/reply"), {"body": "Hello"}, API_PARTY),
    "upload_attachment": ("post", _case_url("/attachments"), "file", API_PARTY),
    "escalate": ("post", _case_url("/escalate"), {"reason": "Slow"}, API_PARTY),
    "reopen": ("post", _case_url("/reopen"), {"reason": "Back"},  # the case is not resolved
               api_expect("409", workers="409", executive=FORBIDDEN)),
    "add_note": ("post", _case_url("/notes"), {"body": "Note"}, api_expect(FORBIDDEN)),
    "triage": ("post", _case_url("/triage"), {"priority": "P2"}, API_WORK),
    "mark_information_complete": ("post", _case_url("/information-complete"), None,
                                  api_expect(FORBIDDEN, workers="409",  # already complete
                                             executive=FORBIDDEN)),
    "request_information": ("post", _case_url("/request-information"), {"body": "Logs?"},
                            API_WORK),
    "assign": ("post", _case_url("/assign"), {"assignee": "sam"}, API_WORK),
    "classify": ("post", _case_url("/classify"), {"kind": "bug", "defect_reference": "B-1"},
                 API_WORK),
    "resolve": ("post", _case_url("/resolve"), {"resolution": "fixed", "summary": "Done"},
                API_WORK),
    "exclude": ("post", _case_url("/exclude"), {"reason": "altered"}, API_WORK),
    # Canned replies (issue 13): staff only, customers and partners 403.
    "list_canned_replies": ("get", lambda w: "/api/v1/canned-replies", None, API_STAFF),
    "create_canned_reply": ("post", lambda w: "/api/v1/canned-replies", {
        "title": "T", "body_en": "Hello {contact_name}", "body_sv": "Hej {contact_name}"},
        API_STAFF),
    "get_canned_reply": ("get", lambda w: f"/api/v1/canned-replies/{_canned(w).pk}", None,
                         API_STAFF),
    "update_canned_reply": ("patch", lambda w: f"/api/v1/canned-replies/{_canned(w).pk}",
                            {"title": "Logs, please"}, API_CANNED_EDIT),
    "delete_canned_reply": ("delete", lambda w: f"/api/v1/canned-replies/{_canned(w).pk}",
                            None, API_CANNED_EDIT),
    "render_canned_reply": ("get", lambda w: f"/api/v1/cases/{w.case.number}/canned-replies/"
                            f"{_canned(w).pk}/render", None, API_STAFF),
    "list_organisations": ("get", lambda w: "/api/v1/organisations", None, API_ANY),
    "get_organisation": ("get", lambda w: f"/api/v1/organisations/{w.case.organisation_id}",
                         None, API_READ),
    "list_sites": ("get", lambda w: "/api/v1/sites", None, API_ANY),
    "list_releases": ("get", lambda w: "/api/v1/releases", None, API_ANY),
    "list_updates": ("get", lambda w: "/api/v1/updates", None, API_ANY),
    "sla_due": ("post", lambda w: "/api/v1/sla/due", {
        "priority": "P1", "received": "2026-07-03T16:30", "time_zone": "America/New_York"},
        API_ANY),
    "sla_replay": ("post", lambda w: "/api/v1/sla/replay", {
        "time_zone": "UTC", "now": "2026-07-06T12:00:00+00:00",
        "events": [{"at": "2026-07-06T09:00:00+00:00", "type": "received", "priority": "P2"}]},
        API_ANY),
    "list_webhooks": ("get", lambda w: "/api/v1/webhooks", None, API_ADMIN),
    "create_webhook": ("post", lambda w: "/api/v1/webhooks", {
        "url": "https://hooks.example.com/in", "events": ["case.created"]}, API_ADMIN),
    "get_webhook": ("get", _webhook_url(), None, API_ADMIN),
    "update_webhook": ("patch", _webhook_url(), {"enabled": False}, API_ADMIN),
    "delete_webhook": ("delete", _webhook_url(), None, API_ADMIN),
    "list_webhook_deliveries": ("get", _webhook_url("/deliveries"), None, API_ADMIN),
}


def test_every_api_operation_is_in_the_matrix(client, db):
    doc = client.get("/api/v1/openapi.json").json()
    operations = {op["operationId"] for item in doc["paths"].values() for op in item.values()}
    assert operations == {name.split("#")[0] for name in API_ROUTES}


def _api_outcome(response) -> str:
    code = response.status_code
    if 200 <= code < 300:
        return OK
    return {404: NOT_FOUND, 403: FORBIDDEN}.get(code, str(code))


@pytest.mark.parametrize("operation", sorted(API_ROUTES))
def test_api_access_matrix(operation, world, client, settings):
    settings.SLPDESK_API_RATE = "off"
    method, url, body, expect = API_ROUTES[operation]
    tokens = {who: _api_token(w=world, who=who)[1] for who, user in world.users.items()
              if user is not None}
    before = _fingerprint(world)
    got, wanted = {}, {}
    for who in world.users:
        with transaction.atomic():
            headers = {"HTTP_AUTHORIZATION": f"Bearer {tokens[who]}"} if who in tokens else {}
            payload = body(world, who) if callable(body) else body
            if payload == "file":
                response = client.post(url(world), {"file": _file()}, **headers)
            elif method in ("post", "patch"):
                response = getattr(client, method)(url(world), payload or {},
                                                   content_type="application/json", **headers)
            elif method == "delete":
                response = client.delete(url(world), **headers)
            else:
                response = client.get(url(world), **headers)
            got[who] = _api_outcome(response)
            wanted[who] = expect(who)
            download = operation.startswith("download_attachment") and got[who] == OK
            if response.status_code == 204:  # no content
                assert not response.content, who
            else:
                assert response["Content-Type"].startswith(
                    "application/octet-stream" if download else "application/json"), who
            if wanted[who] not in (OK, "409"):
                # A refused request changes nothing.
                assert _fingerprint(world) == before, (operation, who)
            transaction.set_rollback(True)
    assert got == wanted
