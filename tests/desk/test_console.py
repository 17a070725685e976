"""The agent console: its pages in both languages, every action through the services
(and refusals that change nothing), the queues and their query count, who may see
and do what, the SLA timeline's geometry, and the support calendars."""

import re
from collections import namedtuple
from datetime import date, datetime, timedelta
from types import SimpleNamespace

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from desk.conftest import NOW, NY, UTC, ny
from slpdesk.console import timeline as tl
from slpdesk.desk import services
from slpdesk.desk.models import (
    Attachment,
    CalendarClosure,
    Case,
    CaseEvent,
    Escalation,
    Message,
    User,
)
from slpdesk.sla import Event, calendar_for, load_policy, replay
from slpdesk.worker.steps import handle_one_recompute_batch

Role = User.Role
MON_9 = ny(2026, 7, 6, 9, 0)


# ------------------------------------------------------------------ fixtures
# ``clock`` and ``team``: desk/conftest.py.
def receive(cast, *, priority="P3", at=MON_9, site=None, contact=None, title="Posts wrong",
            **kw) -> Case:
    contact = contact or cast.alice
    return services.receive_case(site or cast.hartford, contact=contact,
                                 channel=Case.Channel.PORTAL, proposed_priority=priority,
                                 title=title, release=cast.r2026, actor=contact, now=at, **kw)


def logged_in(client, user):
    client.force_login(user)
    return client


def url(name, case=None, **kw):
    if case is not None:
        return reverse(f"console:{name}", args=[case.number])
    return reverse(f"console:{name}", kwargs=kw or None)


def shown(response) -> list[str]:
    """The messages (success, error) a response shows."""
    return [str(m) for m in response.context["messages"]]


def snapshot(case):
    return (Case.objects.filter(pk=case.pk).values().get(), CaseEvent.objects.count(),
            Message.objects.count(), Escalation.objects.count(), Attachment.objects.count())


def numbers(response) -> list[str]:
    return re.findall(r'<tr data-case="([^"]+)">', response.content.decode())


# ----------------------------------------------------------------- the pages
@pytest.mark.parametrize("language", ["en", "sv"])
def test_every_page_renders_for_an_agent(client, cast, team, language):
    cast.sam.language = language
    cast.sam.time_zone = "Europe/Stockholm"
    cast.sam.save()
    case = receive(cast)
    services.add_note(case, "Looked at the logs", actor=cast.sam, now=MON_9)
    services.escalate(case, "Slow", channel=Escalation.Channel.SUPPORT, actor=cast.sam,
                      now=MON_9)
    logged_in(client, cast.sam)
    for address in (url("queue"), url("queue") + "?view=all", url("case", case),
                    url("escalations"), url("calendars"), url("new_case")):
        response = client.get(address)
        assert response.status_code == 200, address
        html = response.content.decode()
        assert f'<html lang="{language}">' in html, address
    page = client.get(url("case", case)).content.decode()
    assert case.number in page and "<svg" in page and "Looked at the logs" in page
    # Policy texts in the agent's language.
    calendar = {"en": "Global (local time of the site)", "sv": "Global (platsens lokala tid)"}
    assert calendar[language] in page
    level = {"en": "Review by a support manager", "sv": "Granskning av supportchef"}
    assert level[language] in client.get(url("escalations")).content.decode()


def test_the_case_page_shows_everything_support_needs(client, cast, team, clock):
    case = receive(cast, priority="P2")
    services.assign_priority(case, "P2", information_complete=True, actor=cast.sam,
                             now=ny(2026, 7, 6, 9, 30))
    services.reply(case, "We are on it <b>now</b>", actor=cast.sam, now=ny(2026, 7, 6, 10, 0))
    services.add_note(case, "Customer runs an old post", actor=cast.sam,
                      now=ny(2026, 7, 6, 10, 5))
    services.log_call(case, "Called Alice", actor=cast.sam, now=ny(2026, 7, 6, 10, 10))
    services.attach_file(case, SimpleUploadedFile("trace.log", b"x" * 10), actor=cast.sam,
                         now=ny(2026, 7, 6, 10, 15), internal=True)
    page = logged_in(client, cast.sam).get(url("case", case)).content.decode()
    # Entitlement: organisation and kind, site with zone and calendar, agreement, release,
    # the case's policy version (K8).
    for text in ("Acme Tooling", "Customer", "Hartford", "America/New_York",
                 "Global (local time of the site)", "Active", "2026", "Supported",
                 "version 1"):
        assert text in page, text
    # The conversation: user text escaped, the internal note and the call marked.
    assert "We are on it &lt;b&gt;now&lt;/b&gt;" in page
    assert re.search(r'<li class="internal staff-only" data-kind="internal">', page)
    assert re.search(r'<li class="call" data-kind="call">', page)
    assert "trace.log" in page and "<strong>Internal</strong>" in page
    # Due times in the agent's zone (UTC here) and the customer's (EDT).
    assert "UTC" in page and "EDT" in page
    # The event log in time order.
    logged = re.findall(r'<tr data-event="([a-z_]+)">', page)
    assert logged == ["received", "priority_assigned", "info_complete", "responded", "note",
                      "status_update", "attached"]
    # Forms for an open case: triage yes, reopen no.
    assert 'id="triage"' in page and 'id="reopen"' not in page
    assert 'id="resolve"' in page and 'id="exclude"' in page and 'id="escalate"' in page


# ------------------------------------------------------------------ actions
def _triaged(cast, at=MON_9):
    case = receive(cast, at=at)
    services.assign_priority(case, "P3", information_complete=True, actor=cast.sam, now=at)
    return case


def _prioritised(cast):
    case = receive(cast)
    services.assign_priority(case, "P3", actor=cast.sam, now=MON_9)
    return case


def _resolved(cast):
    case = _triaged(cast)
    services.resolve(case, "fixed", "Patched", actor=cast.sam, now=ny(2026, 7, 7, 9, 0))
    return case


ACTIONS = {
    # action: (make the case, POST data, what must hold afterwards, event type)
    "triage": (receive, {"priority": "P2", "information_complete": "on"},
               lambda c: (c.priority, c.status, c.information_complete) == ("P2", "open", True),
               "priority_assigned"),
    "info_complete": (_prioritised, {},
                      lambda c: c.information_complete and c.resolution_state == "running",
                      "info_complete"),
    "request_info": (_triaged, {"body": "Which machine?"},
                     lambda c: c.status == "waiting" and c.resolution_state == "paused",
                     "info_requested"),
    "reply": (_triaged, {"body": "Looking into it."},
              lambda c: c.response_state == "met"
              and c.messages.get().kind == Message.Kind.PUBLIC, "responded"),
    "note": (_triaged, {"body": "Internal only."},
             lambda c: c.messages.get().kind == Message.Kind.INTERNAL
             and c.response_state == "running", "note"),
    "call": (_triaged, {"body": "Phoned Alice."},
             lambda c: c.messages.get().kind == Message.Kind.CALL and c.response_state == "met",
             "responded"),
    "assign": (_triaged, {"assignee": "SAM"}, lambda c: c.assignee.username == "sam",
               "assigned"),
    "classify": (_triaged, {"kind": "bug", "defect_reference": "BUG-7"},
                 lambda c: (c.kind, c.defect_reference, c.resolution_state)
                 == ("bug", "BUG-7", "not_applicable"), "classified"),
    "resolve": (_triaged, {"resolution": "timeline", "summary": "Fixed in 2026.1"},
                lambda c: (c.status, c.resolution, c.resolution_summary)
                == ("resolved", "timeline", "Fixed in 2026.1"), "resolved"),
    "exclude": (_triaged, {"reason": "altered", "note": "Edited DLLs"},
                lambda c: (c.status, c.entitlement, c.exclusion_reason)
                == ("closed", "excluded", "altered"), "excluded"),
    "reopen": (_resolved, {"reason": "It came back."},
               lambda c: c.status == "open" and c.resolution == "", "reopened"),
    "escalate": (_triaged, {"reason": "Nothing happens."},
                 lambda c: c.escalation_level == 1
                 and c.escalations.get().channel == Escalation.Channel.SUPPORT, "escalated"),
    "upload": (_triaged, {"file": "FILE", "internal": "on"},
               lambda c: c.attachments.get().internal and c.attachments.get().name == "a.txt",
               "attached"),
}


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_every_action_changes_the_case_through_its_service(client, cast, team, action):
    make, data, holds, event = ACTIONS[action]
    case = make(cast)
    data = dict(data)
    if data.get("assignee") == "SAM":
        data["assignee"] = cast.sam.pk
    if data.get("file") == "FILE":
        data["file"] = SimpleUploadedFile("a.txt", b"hello")
    known = set(case.events.values_list("pk", flat=True))
    response = logged_in(client, cast.sam).post(url(action, case), data)
    assert response.status_code == 302 and response["Location"] == url("case", case)
    page = client.get(response["Location"])
    assert len(shown(page)) == 1
    case.refresh_from_db()
    assert holds(case)
    new = case.events.exclude(pk__in=known)
    assert event in {e.type for e in new}
    assert {(e.actor, e.at) for e in new} == {(cast.sam, NOW)}


@pytest.mark.parametrize("action, make, data, error", [
    ("resolve", _triaged, {"resolution": "fixed", "summary": "  "},
     "Please write a summary of the resolution."),
    ("exclude", _triaged, {"reason": "bored"}, "Select a valid choice."),
    ("triage", "closed", {"priority": "P1"}, "is closed."),
    ("reply", _triaged, {"body": ""}, "Please write a message."),
    ("reopen", _triaged, {"reason": "Again"}, "Only a resolved case can be reopened."),
    ("classify", _triaged, {"kind": "defect"}, "Give the reference of the bug or defect."),
    ("assign", _triaged, {"assignee": "ALICE"}, "Select a valid choice."),
    ("upload", _triaged, {"internal": "on"}, "Choose a file to upload."),
    ("request_info", "waiting", {"body": "More?"}, "already waiting on the customer"),
    ("triage", _triaged, {"priority": "P3"}, "already has priority P3"),
])
def test_a_refused_action_shows_why_and_changes_nothing(client, cast, team, action, make,
                                                        data, error):
    if make == "closed":
        case = _triaged(cast)
        services.exclude(case, "services", actor=cast.sam, now=MON_9)
    elif make == "waiting":
        case = _triaged(cast)
        services.request_information(case, "Logs?", actor=cast.sam, now=MON_9)
    else:
        case = make(cast)
    data = {k: (cast.alice.pk if v == "ALICE" else v) for k, v in data.items()}
    before = snapshot(case)
    response = logged_in(client, cast.sam).post(url(action, case), data)
    assert response.status_code == 200
    assert any(error in m for m in shown(response)), shown(response)
    assert snapshot(case) == before


def test_a_refused_action_keeps_what_was_written(client, cast, team):
    case = _triaged(cast)
    services.request_information(case, "Logs?", actor=cast.sam, now=MON_9)
    response = logged_in(client, cast.sam).post(url("request_info", case),
                                                {"body": "And the <post>?"})
    html = response.content.decode()
    assert re.search(r"<textarea[^>]*>\s*And the &lt;post&gt;\?</textarea>", html)
    response = client.post(url("resolve", case), {"resolution": "fixed", "summary": ""})
    assert re.search(r'value="fixed"[^>]*checked', response.content.decode())


def test_a_supervisor_acknowledges_a_level_1_escalation(client, cast, team):
    case = _triaged(cast)
    esc = services.escalate(case, "Slow", channel=Escalation.Channel.SUPPORT, actor=cast.sam,
                            now=MON_9)
    board = logged_in(client, team.sue).get(url("escalations")).content.decode()
    assert url("acknowledge", pk=esc.pk) in board
    response = client.post(url("acknowledge", pk=esc.pk), {"next": url("escalations")})
    assert response["Location"] == url("escalations")
    esc.refresh_from_db()
    assert (esc.acknowledged_by, esc.acknowledged_at) == (team.sue, NOW)
    assert case.events.filter(type="escalation_ack", actor=team.sue).exists()
    # Not an owner: an agent is told so and nothing changes.
    other = services.escalate(_triaged(cast), "Slow", channel=Escalation.Channel.SUPPORT,
                              actor=cast.sam, now=MON_9)
    response = logged_in(client, cast.sam).post(url("acknowledge", pk=other.pk), follow=True)
    assert any("Only an owner of escalation level 1" in m for m in shown(response))
    other.refresh_from_db()
    assert other.acknowledged_at is None


def test_the_board_lists_open_escalations_by_level_unacknowledged_first(client, cast, team):
    a, b, c = (_triaged(cast) for _ in range(3))
    ea = services.escalate(a, "first", channel="support", actor=cast.sam, now=MON_9)
    eb = services.escalate(b, "second", channel="support", actor=cast.sam,
                           now=ny(2026, 7, 6, 10, 0))
    services.acknowledge_escalation(ea, actor=team.sue, now=ny(2026, 7, 6, 11, 0))
    ec = services.escalate(c, "urgent", channel="email", actor=cast.alice,
                           now=ny(2026, 7, 6, 12, 0))  # P3 by e-mail: next level, 1
    services.escalate(c, "more", channel="support", actor=cast.sam, now=ny(2026, 7, 6, 13, 0))
    done = _resolved(cast)
    services.reopen(done, "again", actor=cast.sam, now=ny(2026, 7, 7, 10, 0))
    services.escalate(done, "gone", channel="support", actor=cast.sam,
                      now=ny(2026, 7, 7, 11, 0))
    services.resolve(done, "fixed", "ok", actor=cast.sam, now=ny(2026, 7, 7, 12, 0))
    page = logged_in(client, team.max).get(url("escalations")).content.decode()
    level1 = page[page.index('id="level-1"'):page.index('id="level-2"')]
    order = re.findall(r'data-escalation="(\d+)"', level1)
    assert order == [str(eb.pk), str(ec.pk), str(ea.pk)]  # unacknowledged first, oldest first
    level2 = page[page.index('id="level-2"'):page.index('id="level-3"')]
    assert len(re.findall(r"data-escalation=", level2)) == 1
    assert done.number not in page  # resolved: not open


# --------------------------------------------------------------- executives
def test_an_executive_reads_writes_notes_and_acknowledges_level_3(client, cast, team):
    case = receive(cast, priority="P2")
    services.assign_priority(case, "P2", information_complete=True, actor=cast.sam, now=MON_9)
    esc = services.escalate(case, "Production is down", channel=Escalation.Channel.EMAIL,
                            actor=cast.alice, now=MON_9)
    assert esc.level == 3  # X3: P2 by e-mail goes to the top
    logged_in(client, team.eve)
    page = client.get(url("case", case)).content.decode()
    assert 'id="resolve"' not in page and 'id="triage"' not in page
    assert url("note", case) in page and url("acknowledge", pk=esc.pk) in page

    before = snapshot(case)
    response = client.post(url("resolve", case), {"resolution": "fixed", "summary": "Done"})
    assert response.status_code == 403
    assert snapshot(case) == before
    for action in ("triage", "reply", "assign", "exclude", "escalate"):
        assert client.post(url(action, case), {"priority": "P1", "body": "x",
                                               "reason": "x"}).status_code == 403
    assert snapshot(case) == before

    response = client.post(url("note", case), {"body": "Called their CEO."})
    assert response.status_code == 302
    note = case.messages.get()
    assert (note.kind, note.author, note.body) == (Message.Kind.INTERNAL, team.eve,
                                                   "Called their CEO.")
    client.post(url("acknowledge", pk=esc.pk), {"next": url("case", case)})
    esc.refresh_from_db()
    assert esc.acknowledged_by == team.eve
    # Nor do executives log cases or change calendars.
    assert "Only support staff who work cases can log one." in client.get(
        url("new_case")).content.decode()
    assert client.post(url("new_case"), {"site": cast.hartford.pk}).status_code == 403
    assert Case.objects.count() == 1


# ------------------------------------------------------------------- access
def test_customers_get_404_everywhere_in_the_console(client, cast, team):
    case = _triaged(cast)
    esc = services.escalate(case, "Slow", channel="support", actor=cast.sam, now=MON_9)
    logged_in(client, cast.alice)
    gets = [url("queue"), url("escalations"), url("calendars"), url("new_case"),
            url("case", case)]
    for address in gets:
        assert client.get(address).status_code == 404, address
    for action in ACTIONS:
        assert client.post(url(action, case), {"body": "x"}).status_code == 404, action
    assert client.post(url("acknowledge", pk=esc.pk)).status_code == 404
    assert client.post(url("calendars"), {"action": "add"}).status_code == 404
    assert client.post(url("new_case"), {}).status_code == 404


def test_strangers_are_sent_to_log_in_and_staff_get_404_for_unknown_cases(client, cast, team):
    response = client.get(url("queue"))
    assert response.status_code == 302 and reverse("login") in response["Location"]
    logged_in(client, cast.sam)
    assert client.get(reverse("console:case", args=["SLP-999999"])).status_code == 404
    assert client.get(url("triage", _triaged(cast))).status_code == 405


# -------------------------------------------------------------------- queue
@pytest.fixture
def queue_cases(cast, team):
    """Cases with known due times (P1 soonest), some assigned, one escalated."""
    made = SimpleNamespace()
    made.p4 = receive(cast, priority="P4", title="Cosmetic")
    made.p1 = receive(cast, priority="P1", title="Down")
    made.p2 = receive(cast, priority="P2", title="Licence")
    made.uk = receive(cast, priority="P3", title="Sheffield", site=cast.sheffield,
                      contact=cast.bea, at=datetime(2026, 7, 6, 13, 0, tzinfo=UTC))
    made.done = receive(cast, priority="P1", title="Done")
    made.waiting = receive(cast, priority="P3", title="Waiting")
    at = ny(2026, 7, 6, 9, 30)
    services.assign(made.p4, cast.sam, actor=cast.sam, now=at)
    services.assign_priority(made.p4, "P4", actor=cast.sam, now=at)  # triaged: "open"
    services.assign(made.p2, cast.sam, actor=cast.sam, now=at)
    services.assign(made.uk, team.sue, actor=cast.sam, now=at)
    services.escalate(made.p2, "Slow", channel="support", actor=cast.sam, now=at)
    services.resolve(made.done, "fixed", "ok", actor=cast.sam, now=at)
    services.request_information(made.waiting, "Logs?", actor=cast.sam, now=at)
    services.assign(made.waiting, cast.sam, actor=cast.sam, now=at)
    for case in vars(made).values():
        case.refresh_from_db()
    return made


def test_the_queue_views_list_the_right_cases_due_soonest_first(client, cast, team,
                                                                 queue_cases):
    q = queue_cases
    # Due: P1 11:00 Mon, P2 Mon 17:00, P3 (UK, 24 h from Mon 13:00 UTC), P4 in 48 h;
    # the waiting case has no running clock (due last).
    assert q.p1.earliest_due < q.p2.earliest_due < q.uk.earliest_due < q.p4.earliest_due
    assert q.waiting.earliest_due is None
    logged_in(client, cast.sam)
    # "Needs me" (an agent's default, issue 13): mine and unassigned, the breached
    # first (P1 unassigned and P2 mine are past due at Wednesday 10:00), then by due.
    assert numbers(client.get(url("queue"))) == [
        q.p1.number, q.p2.number, q.p4.number, q.waiting.number]
    assert numbers(client.get(url("queue") + "?view=mine")) == [
        q.p2.number, q.p4.number, q.waiting.number]
    assert numbers(client.get(url("queue") + "?view=unassigned")) == [q.p1.number]
    assert numbers(client.get(url("queue") + "?view=all")) == [
        q.p1.number, q.p2.number, q.uk.number, q.p4.number, q.waiting.number]
    assert numbers(client.get(url("queue") + "?view=escalated")) == [q.p2.number]
    # Supervisors, managers, executives and administrators see everything by default.
    for lead in (team.sue, team.max, team.eve, team.ada):
        logged_in(client, lead)
        assert len(numbers(client.get(url("queue")))) == 5


@pytest.mark.parametrize("query, expected", [
    ("priority=P1", ["p1"]),
    ("priority=P3", ["uk", "waiting"]),
    ("status=waiting", ["waiting"]),
    ("status=triaged", ["p4"]),
    ("status=new", ["p1", "p2", "uk"]),
    ("status=resolved", ["done"]),
    ("status=any", ["p1", "p2", "uk", "p4", "done", "waiting"]),  # no due: by receipt
    ("region=uk", ["uk"]),
    ("region=global&priority=P4", ["p4"]),
    ("organisation=BRIT", ["uk"]),
    ("status=any&organisation=ACME&priority=P1", ["p1", "done"]),
])
def test_the_queue_filters(client, cast, team, queue_cases, query, expected):
    query = query.replace("BRIT", str(cast.brit.pk)).replace("ACME", str(cast.acme.pk))
    response = logged_in(client, team.sue).get(f"{url('queue')}?view=all&{query}")
    got = numbers(response)
    want = [getattr(queue_cases, name).number for name in expected]
    assert got == want


def test_the_tabs_count_the_cases_not_yet_resolved(client, cast, team, queue_cases):
    response = logged_in(client, cast.sam).get(url("queue"))
    # Sam: p2, p4, waiting; unassigned: p1; all open: p1 p2 uk p4 waiting; escalated: p2.
    assert [(code, count) for code, _label, count in response.context["views"]] == [
        ("focus", 4), ("mine", 3), ("unassigned", 1), ("all", 5), ("escalated", 1)]


@pytest.mark.parametrize("sort, expected", [
    ("", ["p1", "p2", "uk", "p4", "waiting"]),
    ("due", ["p1", "p2", "uk", "p4", "waiting"]),
    ("priority", ["p1", "p2", "uk", "waiting", "p4"]),
    ("received", ["waiting", "uk", "p2", "p1", "p4"]),
    ("bogus", ["p1", "p2", "uk", "p4", "waiting"]),
])
def test_the_queue_sorts(client, cast, team, queue_cases, sort, expected):
    response = logged_in(client, team.sue).get(f"{url('queue')}?view=all&sort={sort}")
    assert numbers(response) == [getattr(queue_cases, name).number for name in expected]


def test_the_queue_shows_badges_priorities_and_both_zones(client, cast, team, queue_cases):
    cast.sam.time_zone = "Europe/Stockholm"
    cast.sam.save()
    html = logged_in(client, cast.sam).get(url("queue") + "?view=all").content.decode()
    row = html[html.index(f'data-case="{queue_cases.p1.number}"'):]
    row = row[:row.index("</tr>")]
    assert "prio-P1" in row and 'class="badge badge-' in row and "proposed" in row
    assert "CEST" in row and "EDT" in row  # the agent's zone and the customer's


def _queue_queries(client) -> int:
    client.get(url("queue") + "?view=all")  # warm: session, policy
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url("queue") + "?view=all")
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_a_queue_page_takes_the_same_number_of_queries_for_5_and_60_cases(client, cast,
                                                                           team):
    def make(n):
        for k in range(n):
            case = receive(cast, priority=f"P{1 + k % 4}", at=MON_9 + timedelta(minutes=k))
            if k % 2:
                services.assign(case, cast.sam, actor=cast.sam, now=NOW - timedelta(hours=1))
            if k % 5 == 0:
                services.escalate(case, "x", channel="support", actor=cast.sam,
                                  now=NOW - timedelta(hours=1))
    make(5)
    logged_in(client, team.sue)
    few = _queue_queries(client)
    make(55)
    many = _queue_queries(client)
    assert len(numbers(client.get(url("queue") + "?view=all"))) == 50
    assert few == many
    assert few <= 11  # with the saved views and the bulk assign's staff list (issue 13)
    # The second page too.
    with CaptureQueriesContext(connection) as ctx:
        page2 = client.get(url("queue") + "?view=all&page=2")
    assert len(numbers(page2)) == 10 and len(ctx.captured_queries) == many


# ----------------------------------------------------------------- new case
def test_an_agent_logs_a_phone_case_for_a_contact(client, cast, team):
    logged_in(client, cast.sam)
    page = client.get(url("new_case") + f"?organisation={cast.acme.pk}").content.decode()
    assert "Hartford" in page and "Sheffield" not in page and "alice@example.com" in page
    response = client.post(url("new_case") + f"?organisation={cast.acme.pk}", {
        "site": cast.hartford.pk, "contact": cast.alice.pk, "channel": "phone",
        "proposed_priority": "P2", "title": "Cannot post", "description": "Since the update",
        "release": cast.r2026.pk, "request_type": ""})
    case = Case.objects.get()
    assert response["Location"] == url("case", case)
    assert (case.channel, case.contact, case.proposed_priority, case.status,
            case.received_at) == ("phone", cast.alice, "P2", "new", NOW)
    received = case.events.get()
    assert (received.type, received.actor) == ("received", cast.sam)


def test_logging_a_case_for_someone_elses_contact_is_refused(client, cast, team):
    logged_in(client, cast.sam)
    response = client.post(url("new_case"), {
        "site": cast.hartford.pk, "contact": cast.olga.pk, "channel": "email",
        "proposed_priority": "P3", "title": "Hm"})
    assert response.status_code == 200
    assert any("does not belong to Acme Tooling" in m for m in shown(response))
    assert not Case.objects.exists()
    response = client.post(url("new_case"), {
        "site": cast.hartford.pk, "contact": cast.alice.pk, "channel": "portal",
        "proposed_priority": "P3", "title": "Hm"})
    assert any("Select a valid choice" in m for m in shown(response))
    assert not Case.objects.exists()


def test_an_out_of_scope_phone_case_is_recorded_and_said_so(client, cast, team):
    logged_in(client, cast.sam)
    response = client.post(url("new_case"), {
        "site": cast.hartford.pk, "contact": cast.alice.pk, "channel": "phone",
        "proposed_priority": "P3", "title": "SDK", "request_type": "sdk"}, follow=True)
    case = Case.objects.get()
    assert (case.status, case.entitlement) == ("closed", "out_of_scope")
    assert any("without an SLA clock" in m for m in shown(response))


# ---------------------------------------------------------------- calendars
def _section(html: str, name: str) -> str:
    start = html.index(f'id="calendar-{name}"')
    end = html.find("<section", start)
    return html[start:end if end > 0 else None]


def test_the_calendars_page_shows_thanksgiving_for_the_global_calendar(client, cast, team):
    html = logged_in(client, cast.sam).get(
        url("calendars") + "?year=2026&zone=America/New_York").content.decode()
    glob = _section(html, "global")
    assert '<time datetime="2026-11-26">Thu 26 Nov 2026</time> · Thanksgiving' in glob
    assert "08:00–17:00" in glob and "local time of the case" in glob
    assert '<time datetime="2026-07-03">' in glob  # Independence Day observed
    uk = _section(html, "uk")
    assert "2026-11-26" not in uk and '<time datetime="2026-08-31">' in uk  # Summer bank hol.
    assert "Time zone: UTC for every site." in uk
    assert "Open now in America/New_York" in glob  # Wednesday 10:00 there


def test_adding_and_removing_a_closure_recomputes_open_cases(client, cast, team, clock):
    clock.now = ny(2026, 7, 6, 10, 0)
    case = receive(cast, priority="P3")  # Mon 09:00: 8 h + 9 h + 7 h → Wed 15:00
    assert case.response_due == ny(2026, 7, 8, 15, 0)
    logged_in(client, cast.sam)
    response = client.post(url("calendars"), {"action": "add", "calendar": "global",
                                              "date": "2026-07-07", "reason": "Move"})
    assert response.status_code == 302
    closure = CalendarClosure.objects.get()
    assert (closure.calendar, closure.date, closure.reason) == ("global", date(2026, 7, 7),
                                                                "Move")
    case.refresh_from_db()
    assert (case.response_due, case.sla_computed_at) == (ny(2026, 7, 8, 15, 0), None)
    page = client.get(response["Location"]).content.decode()
    assert "Move" in _section(page, "global")
    assert "The recompute is waiting for a worker: none is running." in page
    assert handle_one_recompute_batch(clock.now) is True  # C4: the worker recomputes
    case.refresh_from_db()
    assert case.response_due == ny(2026, 7, 9, 15, 0)
    # Twice: the service refuses and nothing changes.
    response = client.post(url("calendars"), {"action": "add", "calendar": "global",
                                              "date": "2026-07-07", "reason": "Again"})
    assert any("already closed" in m for m in shown(response))
    assert CalendarClosure.objects.count() == 1
    # Removing needs a reason; the removal is recorded, the closure kept (C4).
    response = client.post(url("calendars"), {"action": "remove", "closure": closure.pk},
                           follow=True)
    assert any("Please write why the calendar opens again" in m for m in shown(response))
    client.post(url("calendars"), {"action": "remove", "closure": closure.pk,
                                   "reason": "Not needed"})
    closure.refresh_from_db()
    assert (closure.removed_by, closure.removal_reason) == (cast.sam, "Not needed")
    assert handle_one_recompute_batch(clock.now) is True
    case.refresh_from_db()
    assert case.response_due == ny(2026, 7, 8, 15, 0)
    page = client.get(url("calendars") + "?year=2026").content.decode()
    assert "removed by sam" in _section(page, "global")
    # A date that has begun: refused with the reason, nothing changes.
    response = client.post(url("calendars"), {"action": "add", "calendar": "global",
                                              "date": "2026-07-06", "reason": "Storm"})
    assert any("2026-07-06 has already begun in America/Chicago" in m
               for m in shown(response))
    assert CalendarClosure.dates("global") == []


def test_only_staff_who_work_cases_change_calendars(client, cast, team):
    logged_in(client, team.eve)
    assert "Add closed date" not in client.get(url("calendars")).content.decode()
    response = client.post(url("calendars"), {"action": "add", "calendar": "global",
                                              "date": "2026-07-07"})
    assert response.status_code == 403 and not CalendarClosure.objects.exists()


# ----------------------------------------------------------------- timeline
TE = namedtuple("TE", "at type priority resolution", defaults=("", ""))
POLICY = load_policy()
GLOBAL_NY = calendar_for(POLICY, "global", "America/New_York")


def _timeline(events, now, tz=NY):
    state = replay([Event(e.at, e.type, e.priority or None, None, e.resolution or None)
                    for e in events
                    if e.type in CaseEvent.SLA_TYPES], POLICY, GLOBAL_NY, now)
    return tl.build_timeline(
        events, state, GLOBAL_NY, now, tz=tz,
        update_target=lambda p: POLICY.target_seconds(p, "update_interval", "global"))


def _lane(timeline, clock):
    lane = next(x for x in timeline.lanes if x.clock == clock)
    return ([(s.kind, s.start, s.end) for s in lane.segments],
            [(m.kind, m.at, m.verdict, m.beyond) for m in lane.markers])


def test_the_timeline_of_a_p2_waiting_over_the_weekend():
    """Received Friday 10 July 2026 16:00 in New York as P2; triaged complete at 16:10;
    support asks for information at 16:30 (first contact); the customer answers on
    Saturday 10:00; support sends an update on Monday 10:00; now is Monday 12:00."""
    events = [
        TE(ny(2026, 7, 10, 16, 0), "received", "P2"),
        TE(ny(2026, 7, 10, 16, 10), "priority_assigned", "P2"),
        TE(ny(2026, 7, 10, 16, 10), "info_complete"),
        TE(ny(2026, 7, 10, 16, 20), "note"),  # the desk's own event: ignored
        TE(ny(2026, 7, 10, 16, 30), "info_requested"),
        TE(ny(2026, 7, 11, 10, 0), "customer_replied"),
        TE(ny(2026, 7, 13, 10, 0), "status_update"),
    ]
    now = ny(2026, 7, 13, 12, 0)
    t = _timeline(events, now)
    fri_16, fri_1610, fri_1630 = ny(2026, 7, 10, 16, 0), ny(2026, 7, 10, 16, 10), \
        ny(2026, 7, 10, 16, 30)
    sat_10, mon_8, mon_10 = ny(2026, 7, 11, 10, 0), ny(2026, 7, 13, 8, 0), ny(2026, 7, 13, 10)

    # Response: counts 30 minutes, stops at the request for information (met). Its due
    # was 8 business hours on: 1 h on Friday, 7 h on Monday → Monday 15:00, past the axis.
    assert _lane(t, "response") == (
        [("running", fri_16, fri_1630)],
        [("due", ny(2026, 7, 13, 15, 0), "", True), ("stop", fri_1630, "met", False)])
    # Resolution: from triage; 20 minutes counted, paused while waiting, the weekend
    # closed, counting again from Monday 08:00. Due: 24 h - 20 min from Monday 08:00 =
    # Monday 9 h, Tuesday 9 h, Wednesday 5 h 40 → Wednesday 13:40.
    assert _lane(t, "resolution") == (
        [("running", fri_1610, fri_1630), ("paused", fri_1630, sat_10),
         ("closed", sat_10, mon_8), ("running", mon_8, now)],
        [("due", ny(2026, 7, 15, 13, 40), "", True)])
    # Status updates: none owed while waiting; the interval from the customer's answer
    # was due Monday 16:00 (8 business hours from Monday 08:00): the update at 10:00 met
    # it; the next one is due Tuesday 09:00 (7 h on Monday, 1 h on Tuesday).
    assert _lane(t, "next_update") == (
        [("paused", fri_1630, sat_10), ("closed", sat_10, mon_8), ("running", mon_8, mon_10),
         ("running", mon_10, now)],
        [("update", mon_10, "met", False), ("due", ny(2026, 7, 14, 9, 0), "", True)])

    # Geometry: the axis is the 68 hours from receipt to now, drawn from x = PLOT_LEFT
    # to PLOT_RIGHT; a due time past the axis sits at its right edge.
    left, width = tl.PLOT_LEFT, tl.PLOT_RIGHT - tl.PLOT_LEFT

    def x(at):
        return round(left + (at - fri_16).total_seconds() / (68 * 3600) * width, 2)

    assert (t.start, t.end, t.now_x) == (fri_16, now, tl.PLOT_RIGHT)
    closed = t.lanes[1].segments[2]
    assert (closed.x, closed.width) == (x(sat_10), round(x(mon_8) - x(sat_10), 2))
    assert closed.x == pytest.approx(left + 18 / 68 * width, abs=0.01)  # 18 h after receipt
    assert closed.width == pytest.approx(46 / 68 * width, abs=0.02)  # 46 h closed
    assert [m.x for m in t.lanes[0].markers] == [tl.PLOT_RIGHT, x(fri_1630)]
    step = tl.LANE_HEIGHT + tl.LANE_GAP
    assert [lane.y for lane in t.lanes] == [tl.AXIS_TOP, tl.AXIS_TOP + step,
                                            tl.AXIS_TOP + 2 * step]
    assert t.height == tl.AXIS_TOP + 2 * step + tl.LANE_HEIGHT + tl.BOTTOM
    # Ticks at the New York midnights of Saturday, Sunday and Monday.
    assert [(k.at, k.x, k.daily) for k in t.ticks] == [
        (ny(2026, 7, d, 0, 0), x(ny(2026, 7, d, 0, 0)), True) for d in (11, 12, 13)]


def test_the_timeline_of_a_case_just_received():
    received = ny(2026, 7, 10, 16, 0)
    now = ny(2026, 7, 10, 16, 45)
    t = _timeline([TE(received, "received", "P1")], now)
    assert _lane(t, "response") == ([("running", received, now)],
                                    [("due", ny(2026, 7, 13, 9, 0), "", True)])
    assert _lane(t, "resolution") == ([], []) and _lane(t, "next_update") == ([], [])
    assert t.lanes[1].state == "pending" and not t.is_empty
    # Under 36 hours: ticks on whole hours of the agent's zone.
    assert [k.at for k in tl.build_timeline([TE(received, "received", "P1")],
                                            replay([Event(received, "received", "P1")],
                                                   POLICY, GLOBAL_NY, now),
                                            GLOBAL_NY, now, tz=UTC).ticks] == [
        datetime(2026, 7, 10, 20, 0, tzinfo=UTC)]


def test_the_timeline_marks_overdue_time_resolved_spans_and_missed_updates():
    """P1 received Monday 08:00: the response is breached at 10:30 (due 10:00); an
    update is owed every 2 h and the next one comes late; resolved, then reopened."""
    mon = ny(2026, 7, 6, 8, 0)
    events = [
        TE(mon, "received", "P1"),
        TE(mon, "priority_assigned", "P1"),
        TE(mon, "info_complete"),
        TE(ny(2026, 7, 6, 10, 30), "responded"),
        TE(ny(2026, 7, 6, 13, 0), "status_update"),   # due 12:30: missed
        TE(ny(2026, 7, 6, 14, 0), "resolved", "", "fixed"),  # due 15:00: met
        TE(ny(2026, 7, 6, 15, 0), "reopened"),
    ]
    now = ny(2026, 7, 6, 16, 0)
    t = _timeline(events, now)
    segs, marks = _lane(t, "response")
    assert segs == [("running", mon, ny(2026, 7, 6, 10, 0)),
                    ("overdue", ny(2026, 7, 6, 10, 0), ny(2026, 7, 6, 10, 30))]
    assert marks == [("due", ny(2026, 7, 6, 10, 0), "", False),
                     ("stop", ny(2026, 7, 6, 10, 30), "breached", False)]
    segs, marks = _lane(t, "resolution")
    # 6 h counted to 14:00, not counted while resolved, running again from 15:00;
    # due = 8 h + the hour resolved → 17:00.
    assert segs == [("running", mon, ny(2026, 7, 6, 14, 0)),
                    ("resolved", ny(2026, 7, 6, 14, 0), ny(2026, 7, 6, 15, 0)),
                    ("running", ny(2026, 7, 6, 15, 0), now)]
    assert marks == [("due", ny(2026, 7, 6, 17, 0), "", True)]
    segs, marks = _lane(t, "next_update")
    assert segs == [("running", ny(2026, 7, 6, 10, 30), ny(2026, 7, 6, 12, 30)),
                    ("overdue", ny(2026, 7, 6, 12, 30), ny(2026, 7, 6, 13, 0)),
                    ("running", ny(2026, 7, 6, 13, 0), ny(2026, 7, 6, 14, 0)),
                    ("resolved", ny(2026, 7, 6, 14, 0), ny(2026, 7, 6, 15, 0)),
                    ("running", ny(2026, 7, 6, 15, 0), now)]
    assert marks == [("update", ny(2026, 7, 6, 13, 0), "breached", False),
                     ("update", ny(2026, 7, 6, 14, 0), "met", False),
                     ("due", ny(2026, 7, 6, 17, 0), "", True)]


def test_the_timeline_of_a_case_without_cover_is_empty(cast, team):
    case = services.receive_case(cast.noagree_site, contact=cast.nora, channel="email",
                                 proposed_priority="P1", title="Help", actor=cast.nora,
                                 now=MON_9)
    state = services.sla_state(case, NOW)
    t = tl.build_timeline(case.events.all(), state, case.business_calendar(), NOW)
    assert t.is_empty and t.excluded_at == MON_9.astimezone(UTC)
    with pytest.raises(ValueError):
        tl.build_timeline([], state, case.business_calendar(), NOW)


def test_the_case_page_draws_the_timeline(client, cast, team):
    case = _triaged(cast)
    services.request_information(case, "Logs?", actor=cast.sam, now=ny(2026, 7, 7, 11, 0))
    html = logged_in(client, cast.sam).get(url("case", case)).content.decode()
    svg = html[html.index("<svg viewBox"):html.index("</svg>")]
    assert 'data-kind="running"' in svg and 'data-kind="paused"' in svg
    assert 'data-kind="closed"' in svg and 'data-marker="now"' in svg
    assert "url(#tl-closed)" in svg and "<title>" in svg
    text = html[html.index("<summary>The timeline as text"):]
    assert "Paused: waiting on the customer: Tue 7 Jul 2026 15:00 UTC" in text


def _random_history(rng, start):
    """A random but valid history, as the desk's services would write it."""
    at = start
    events = [TE(at, "received", f"P{rng.randint(1, 4)}")]
    waiting = resolved = contact = False
    for _ in range(rng.randint(0, 12)):
        at += timedelta(minutes=rng.choice((0, 5, 45, 200, 900, 2000, 4000)))
        if resolved:
            kind = rng.choice(("reopened", "priority_assigned", "customer_replied"))
        else:
            kind = rng.choice(("priority_assigned", "info_complete", "info_requested",
                               "customer_replied", "reply", "reply", "resolved", "note"))
        if kind == "priority_assigned":
            events.append(TE(at, kind, f"P{rng.randint(1, 4)}"))
        elif kind == "info_requested" and not waiting:
            events.append(TE(at, kind))
            waiting = contact = True
        elif kind in ("customer_replied", "info_complete"):
            events.append(TE(at, kind))
            waiting = waiting and resolved
        elif kind == "reply":
            events.append(TE(at, "status_update" if contact else "responded"))
            contact = True
        elif kind == "resolved":
            events.append(TE(at, kind, "", rng.choice(("fixed", "timeline", "no-defect"))))
            resolved, waiting, contact = True, False, True
        elif kind == "reopened":
            events.append(TE(at, kind))
            resolved = False
        elif kind == "note":
            events.append(TE(at, kind))
    return events, at + timedelta(minutes=rng.choice((0, 30, 600, 3000)))


@pytest.mark.parametrize("seed", range(60))
def test_the_timeline_counts_what_the_clocks_count(seed):
    """Whatever the history: the counting segments of each lane add up to the
    business time its clock counted, the lanes are contiguous, and every missed
    status update is marked."""
    import random

    rng = random.Random(seed)
    events, now = _random_history(rng, ny(2026, 11, 20, rng.randint(0, 23), 0))
    t = _timeline(events, now)
    state = replay([Event(e.at, e.type, e.priority or None, None, e.resolution or None)
                    for e in events if e.type in CaseEvent.SLA_TYPES],
                   POLICY, GLOBAL_NY, now)

    def counted(lane, since=None):
        return sum(GLOBAL_NY.between(max(s.start, since or s.start), s.end)
                   for s in lane.segments if s.kind in ("running", "overdue")
                   and s.end > (since or s.start))

    for lane in t.lanes:
        for a, b in zip(lane.segments, lane.segments[1:], strict=False):
            assert a.end == b.start and a.start < a.end
        assert all(GLOBAL_NY.between(s.start, s.end) == 0
                   for s in lane.segments if s.kind == "closed")
        assert all(t.start <= s.start and s.end <= t.end for s in lane.segments)
    response, resolution, update = t.lanes
    assert counted(response) == state.response.business_seconds
    if state.resolution.started is not None:
        assert counted(resolution) == state.resolution.business_seconds
    if state.next_update.state in ("running", "at_risk", "breached"):
        assert counted(update, state.next_update.started) == \
            state.next_update.business_seconds
    late = sum(m.verdict == "breached" for m in update.markers if m.kind == "update")
    assert late + (state.next_update.state == "breached") == (state.next_update.missed or 0)
