"""The access matrix: every route × every role × own / other organisation, as one table.

Every URL pattern of the site (the admin apart, which Django guards itself)
must appear in ROUTES, so a new route cannot be added without deciding who
may use it. Each principal's request runs in a savepoint that is rolled
back, so every principal meets the same data.
"""

from __future__ import annotations

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

OK, NOT_FOUND, FORBIDDEN, LOGIN, TO_CONSOLE, TO_PORTAL = (
    "ok", "404", "403", "login", "to-console", "to-portal")
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
        if who in WORKERS or who == "executive":
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
    return TO_CONSOLE if who in WORKERS or who == "executive" else TO_PORTAL


def number(w: World) -> dict:
    return {"number": w.case.number}


# route name -> (method, url kwargs, POST data, expectation per principal)
ROUTES = {
    "home": ("get", None, None, front_door),
    "login": ("get", None, None, everyone_ok),
    "logout": ("post", None, {}, lambda who: LOGIN),  # back to the log-in page
    "preferences": ("get", None, None, logged_in),
    "set_language": ("post", None, {"language": "sv"}, everyone_ok),
    "health": ("get", None, None, everyone_ok),
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
    assert all_route_names() == listed


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
    theirs = client.get(reverse("portal:case", kwargs=number(world)))
    missing = client.get(reverse("portal:case", kwargs={"number": "SLP-999999"}))
    assert theirs.status_code == missing.status_code == 404
    assert theirs.content == missing.content

