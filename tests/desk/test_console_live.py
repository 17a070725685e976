"""The queue's working tools and the case page's "someone else is on this case"
(issue 13 items 2 and 5): saved views (who sees and changes them, bad input), bulk
assign and bulk priority (the same checks as one by one, refusals per case), the
queue's poll for new or changed cases, presence, and a message written against an
older state of the case."""

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.test import Client
from django.urls import reverse

from desk.conftest import NOW, UTC, ny
from slpdesk.desk import services
from slpdesk.desk.models import Case, CaseEvent, CasePresence, Message, SavedView, User

Role = User.Role
MON_9 = ny(2026, 7, 6, 9, 0)


@pytest.fixture
def tom(team):
    """A second agent beside Sam."""
    return User.objects.create_user("tom", "tom@vendor.example", "pw", role=Role.AGENT,
                                    first_name="Tom")


def receive(cast, *, priority="P3", at=MON_9, title="Posts wrong") -> Case:
    return services.receive_case(cast.hartford, contact=cast.alice, channel=Case.Channel.PORTAL,
                                 proposed_priority=priority, title=title, release=cast.r2026,
                                 actor=cast.alice, now=at)


def as_user(client, user):
    client.force_login(user)
    return client


def shown(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def follow(client, response):
    assert response.status_code == 302, response.status_code
    return client.get(response["Location"])


# ---------------------------------------------------------------- saved views
def _save(client, **fields):
    data = {"name": "Urgent P1", "view": "all", "status": "open", "priority": "P1",
            "organisation": "", "region": "", "sort": "priority", "q": "",
            "col": ["title", "sla"], "next": "/console/"}
    data.update(fields)
    return client.post(reverse("console:save_view"), {k: v for k, v in data.items()
                                                      if v is not None})


def test_an_agent_saves_the_queue_with_its_filters_order_and_columns(client, cast, team):
    p1, p3 = receive(cast, priority="P1", title="Down"), receive(cast, title="Slow")
    response = _save(as_user(client, cast.sam), shared="1")
    saved = SavedView.objects.get()
    assert (saved.owner, saved.name, saved.shared) == (cast.sam, "Urgent P1", True)
    assert saved.filters == {"view": "all", "status": "open", "priority": "P1",
                             "organisation": "", "region": "", "sort": "priority", "q": ""}
    assert saved.columns == ["title", "sla"]
    page = follow(client, response)
    html = page.content.decode()
    assert [r["case"].number for r in page.context["rows"]] == [p1.number]
    assert p3.number not in html
    # Only the chosen columns (the case number always shows).
    head = html[html.index("<thead>"):html.index("</thead>")]
    assert ">Title<" in head and ">SLA<" in head
    assert ">Organisation<" not in head and "Next due (you)" not in head
    # Listed beside the tabs, as the current one.
    assert page.context["current_saved"] == saved
    assert 'aria-current="page">Urgent P1' in html


def test_a_personal_view_is_its_owners_alone(client, cast, team, tom):
    _save(as_user(client, cast.sam))
    saved = SavedView.objects.get()
    page = as_user(client, tom).get(reverse("console:queue"))
    assert page.context["saved_views"] == []
    for user in (tom, team.sue, team.ada):
        as_user(client, user)
        edit = client.post(reverse("console:edit_view", args=[saved.pk]),
                           {"name": "Mine now", "view": "all", "status": "open"})
        delete = client.post(reverse("console:delete_view", args=[saved.pk]))
        assert (edit.status_code, delete.status_code) == (404, 404)
    saved.refresh_from_db()
    assert saved.name == "Urgent P1"


def test_a_shared_view_is_for_all_staff_and_changed_by_its_owner_a_supervisor_or_admin(
        client, cast, team, tom):
    _save(as_user(client, cast.sam), shared="1")
    saved = SavedView.objects.get()
    for user in (tom, team.max, team.eve):
        page = as_user(client, user).get(reverse("console:queue"))
        assert [r["view"] for r in page.context["saved_views"]] == [saved]
        assert [r["editable"] for r in page.context["saved_views"]] == [False]
        edit = client.post(reverse("console:edit_view", args=[saved.pk]),
                           {"name": "Taken", "view": "all", "status": "open"})
        assert edit.status_code == 403
        assert client.post(reverse("console:delete_view", args=[saved.pk])).status_code == 403
    saved.refresh_from_db()
    assert (saved.name, saved.shared) == ("Urgent P1", True)
    # A supervisor renames it and keeps other filters in it.
    as_user(client, team.sue)
    response = client.post(reverse("console:edit_view", args=[saved.pk]), {
        "name": "Escalated", "shared": "1", "view": "escalated", "status": "any",
        "sort": "updated"})
    assert response.status_code == 302
    saved.refresh_from_db()
    assert (saved.name, saved.owner, saved.columns) == ("Escalated", cast.sam, [])
    assert saved.filters == {"view": "escalated", "status": "any", "priority": "",
                             "organisation": "", "region": "", "sort": "updated", "q": ""}
    # The owner unshares it; an administrator could delete it only while shared.
    as_user(client, cast.sam).post(reverse("console:edit_view", args=[saved.pk]), {
        "name": "Escalated", "view": "escalated", "status": "any"})
    assert as_user(client, team.ada).post(
        reverse("console:delete_view", args=[saved.pk])).status_code == 404
    assert as_user(client, cast.sam).post(
        reverse("console:delete_view", args=[saved.pk])).status_code == 302
    assert not SavedView.objects.exists()


@pytest.mark.parametrize("fields, error", [
    ({"name": "  "}, "Name of the view: This field is required."),
    ({"name": "x" * 61}, "Name of the view: Ensure this value has at most 60 characters "
                         "(it has 61)."),
    ({"view": "everything"}, "Queue: Select a valid choice. everything is not one of the "
                             "available choices."),
    ({"status": None}, "Status: This field is required."),
    ({"sort": "random"}, "Order: Select a valid choice. random is not one of the available "
                         "choices."),
    ({"priority": "P9"}, "Priority: Select a valid choice. P9 is not one of the available "
                         "choices."),
    ({"region": "mars"}, "Region: Select a valid choice. mars is not one of the available "
                         "choices."),
    ({"organisation": "999999"}, "Organisation: Select a valid choice. That choice is not "
                                 "one of the available choices."),
    ({"col": ["title", "secret"]}, "Columns: Select a valid choice. secret is not one of "
                                   "the available choices."),
])
def test_a_view_with_bad_input_is_refused_with_why_and_nothing_saved(client, cast, team,
                                                                    fields, error):
    response = _save(as_user(client, cast.sam), **fields)
    assert shown(follow(client, response)) == [error]
    assert not SavedView.objects.exists()


def test_a_second_view_of_the_same_name_is_refused_in_the_users_language(client, cast, team):
    follow(client, _save(as_user(client, cast.sam)))
    cast.sam.language = "sv"
    cast.sam.save()
    response = _save(client, name="Urgent  P1 ")
    assert shown(follow(client, response)) == [
        "Vyns namn: Det finns redan en vy som heter ”Urgent P1”."]
    assert SavedView.objects.count() == 1


def test_customers_cannot_reach_saved_views(client, cast, team):
    _save(as_user(client, cast.sam), shared="1")
    saved = SavedView.objects.get()
    as_user(client, cast.alice)
    assert _save(client, name="Mine").status_code == 404
    assert client.post(reverse("console:delete_view", args=[saved.pk])).status_code == 404
    assert SavedView.objects.count() == 1


# ----------------------------------------------------------------------- bulk
@pytest.fixture
def four(cast, team):
    """Unassigned P1, a P2 Sam already has, a resolved one, a closed (excluded) one."""
    cases = SimpleNamespace(new=receive(cast, priority="P1", title="Down"),
                            sams=receive(cast, priority="P2"), resolved=receive(cast),
                            closed=receive(cast, priority="P4"))
    at = MON_9 + timedelta(minutes=30)
    services.assign(cases.sams, cast.sam, actor=cast.sam, now=at)
    services.resolve(cases.resolved, "fixed", "Patched", actor=cast.sam, now=at)
    services.exclude(cases.closed, "services", actor=cast.sam, now=at)
    for case in vars(cases).values():
        case.refresh_from_db()
    return cases


def _bulk(client, cases, **data):
    return client.post(reverse("console:bulk"), {
        "case": [c.pk for c in cases], "next": "/console/?view=all", **data})


def _one_by_one(client, case, name, data) -> list[str]:
    return shown(client.post(reverse(f"console:{name}", args=[case.number]), data,
                             follow=True))


def test_bulk_assign_checks_each_case_as_one_by_one_and_reports_each(client, cast, team,
                                                                     four):
    c = four
    as_user(client, cast.sam)
    response = _bulk(client, [c.new, c.sams, c.resolved, c.closed], action="assign",
                     assignee="me")
    assert response["Location"] == "/console/?view=all"
    said = shown(client.get(response["Location"]))
    assert said == [
        f"Assigned to sam: {c.new.number}, {c.resolved.number}.",
        f"{c.sams.number} not changed: The case is already assigned so.",
        f"{c.closed.number} not changed: Case {c.closed.number} is closed.",
    ]
    events = CaseEvent.objects.filter(type="assigned", at=NOW).order_by("case_id")
    assert [(e.case_id, e.data) for e in events] == [
        (c.new.pk, {"assignee": cast.sam.pk, "previous": None}),
        (c.resolved.pk, {"assignee": cast.sam.pk, "previous": None})]
    # The case page refuses the same two cases with the same words.
    for case in (c.sams, c.closed):
        reason = said[1 if case == c.sams else 2].split(" not changed: ")[1]
        assert _one_by_one(client, case, "assign", {"assignee": cast.sam.pk}) == [reason]


def test_bulk_priority_checks_each_case_as_one_by_one(client, cast, team, four):
    c = four
    as_user(client, team.sue)
    said = shown(follow(client, _bulk(client, [c.new, c.sams, c.resolved], action="priority",
                                      priority="P2")))
    assert said == [
        f"Priority P2 set: {c.new.number}, {c.sams.number}.",
        f"{c.resolved.number} not changed: Case {c.resolved.number} is resolved; reopen it "
        "first.",
    ]
    c.new.refresh_from_db()
    assert (c.new.priority, c.new.status) == ("P2", Case.Status.OPEN)  # triaged
    assert _one_by_one(client, c.resolved, "triage", {"priority": "P2"}) == [
        f"Case {c.resolved.number} is resolved; reopen it first."]
    # Again: now "already", as the case page says it.
    said = shown(follow(client, _bulk(client, [c.new], action="priority", priority="P2")))
    assert said == [f"{c.new.number} not changed: The case already has priority P2."]


@pytest.mark.parametrize("data, error", [
    ({"action": "priority", "priority": "P9"}, "Choose a priority."),
    ({"action": "assign", "assignee": "999999"}, "Choose someone to assign the cases to."),
    ({"action": "delete"}, "Choose what to do with the cases."),
    ({"action": "assign", "assignee": "me", "case": []}, "Tick the cases to change first."),
    ({"action": "assign", "assignee": "me", "case": ["1", "x"]},
     "Choose at most 100 cases from the queue."),
])
def test_bulk_with_bad_input_changes_nothing(client, cast, team, four, data, error):
    before = CaseEvent.objects.count()
    as_user(client, cast.sam)
    response = client.post(reverse("console:bulk"), {"case": [four.new.pk], **data})
    assert shown(follow(client, response)) == [error]
    assert CaseEvent.objects.count() == before


def test_bulk_refuses_a_non_agent_assignee_and_unknown_cases_per_case(client, cast, team,
                                                                       four):
    as_user(client, cast.sam)
    said = shown(follow(client, client.post(reverse("console:bulk"), {
        "case": [four.new.pk, 999999], "action": "assign", "assignee": cast.alice.pk})))
    assert said == [
        f"{four.new.number} not changed: Cases can only be assigned to support staff.",
        "999999 not changed: No such case."]
    four.new.refresh_from_db()
    assert four.new.assignee is None


def test_bulk_is_for_staff_who_work_cases_and_needs_the_form_token(client, cast, team, four):
    before = CaseEvent.objects.count()
    data = {"case": [four.new.pk], "action": "assign", "assignee": "me"}
    assert as_user(client, team.eve).post(reverse("console:bulk"), data).status_code == 403
    assert as_user(client, cast.alice).post(reverse("console:bulk"), data).status_code == 404
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(cast.sam)
    assert strict.post(reverse("console:bulk"), data).status_code == 403
    assert CaseEvent.objects.count() == before


# ------------------------------------------------------------------ the poll
def test_the_poll_counts_the_queues_cases_new_or_changed_since_the_page(client, cast, team,
                                                                        tom, clock):
    old_p1, old_p3 = receive(cast, priority="P1"), receive(cast)
    page = as_user(client, cast.sam).get(reverse("console:queue"))
    since = page.context["since"]
    assert since == NOW.isoformat()
    later = NOW + timedelta(minutes=1)
    receive(cast, priority="P2", at=later, title="Licence")       # new, unassigned: counts
    services.assign(old_p1, tom, actor=tom, now=later)  # leaves "Needs me"
    services.add_note(old_p3, "Seen", actor=tom, now=later)  # changed: counts
    clock.now = later + timedelta(seconds=5)
    poll = client.get(reverse("console:queue_changes"), {"since": since})
    assert poll.json() == {"count": 2, "text": "2 cases are new or changed."}
    # With the queue's filters: only P1 cases of every agent.
    poll = client.get(reverse("console:queue_changes"),
                      {"since": since, "view": "all", "priority": "P1"})
    assert poll.json() == {"count": 1, "text": "1 case is new or changed."}
    # With words: the cases they find (the new case's title has none of them).
    poll = client.get(reverse("console:queue_changes"),
                      {"since": since, "view": "all", "q": "wrong"})
    assert poll.json() == {"count": 2, "text": "2 cases are new or changed."}
    assert client.get(reverse("console:queue_changes"),
                      {"since": "yesterday"}).json() == {
        "error": "The time to look from is not valid."}


def test_the_poll_is_for_staff_only(client, cast, team):
    args = {"since": NOW.isoformat()}
    assert client.get(reverse("console:queue_changes"), args).status_code == 302  # log in
    assert as_user(client, cast.alice).get(
        reverse("console:queue_changes"), args).status_code == 404


# --------------------------------------------------------------- presence
def test_an_agent_sees_who_else_has_the_case_open_and_who_is_writing(client, cast, team,
                                                                      clock):
    case = receive(cast)
    sam, sue = Client(), Client()
    sam.force_login(cast.sam)
    sue.force_login(team.sue)
    assert sam.get(reverse("console:case", args=[case.number])).context["others"] == []
    page = sue.get(reverse("console:case", args=[case.number]))
    assert page.context["presence_text"] == "sam has this case open."
    assert "sam has this case open." in page.content.decode()
    clock.now = NOW + timedelta(seconds=5)
    sam.post(reverse("console:presence", args=[case.number]), {"typing": "1"})
    got = sue.post(reverse("console:presence", args=[case.number])).json()
    assert (got["others"], got["text"]) == ([{"name": "sam", "typing": True}],
                                            "sam is writing on this case.")
    # Typing ends 15 s after the last key; the page counts 35 s after the last poll.
    clock.now = NOW + timedelta(seconds=25)
    assert sue.post(reverse("console:presence", args=[case.number])).json()["text"] == (
        "sam has this case open.")
    clock.now = NOW + timedelta(seconds=41)
    got = sue.post(reverse("console:presence", args=[case.number])).json()
    assert (got["others"], got["text"]) == ([], "")
    assert list(CasePresence.objects.values_list("user__username", flat=True)) == ["sue"]


def test_presence_is_for_staff_only(client, cast, team):
    case = receive(cast)
    as_user(client, cast.alice)
    assert client.post(reverse("console:presence", args=[case.number])).status_code == 404
    assert as_user(client, cast.sam).get(
        reverse("console:presence", args=[case.number])).status_code == 405


# ------------------------------------------------------------ stale messages
def test_a_reply_written_against_an_older_state_is_held_once_with_what_changed(
        client, cast, team, clock):
    case = receive(cast)
    cast.sam.time_zone = "America/New_York"
    cast.sam.save()
    as_user(client, cast.sam)
    stamp = client.get(reverse("console:case", args=[case.number])).context["stamp"]
    assert stamp == MON_9.astimezone(UTC).isoformat()  # the case's last change
    later = NOW + timedelta(minutes=3)
    services.add_note(case, "Customer called: it is fixed", actor=team.sue, now=later)
    clock.now = later + timedelta(minutes=1)
    poll = client.post(reverse("console:presence", args=[case.number]), {"stamp": stamp})
    assert poll.json()["changed"] == 1
    held = client.post(reverse("console:reply", args=[case.number]),
                       {"body": "Please send the logs", "stamp": stamp})
    assert held.status_code == 409
    assert shown(held) == [
        "The case changed after you opened it: Internal note by Sue (Wed 8 Jul 2026 10:03 "
        "EDT). Your text is kept below: read the changes, then send it again to send it "
        "anyway."]
    assert not Message.objects.filter(kind=Message.Kind.PUBLIC).exists()
    html = held.content.decode()
    assert "Please send the logs</textarea>" in html
    form = held.context["forms"]["message"]
    assert form["stamp"].value() == later.astimezone(UTC).isoformat()
    # Sending again sends it.
    sent = client.post(reverse("console:reply", args=[case.number]),
                       {"body": form["body"].value(), "stamp": form["stamp"].value()})
    assert sent.status_code == 302
    assert Message.objects.get(kind=Message.Kind.PUBLIC).body == "Please send the logs"


def test_ones_own_changes_and_forms_without_a_stamp_are_not_held(client, cast, team, clock):
    case = receive(cast)
    as_user(client, cast.sam)
    stamp = client.get(reverse("console:case", args=[case.number])).context["stamp"]
    services.add_note(case, "Mine", actor=cast.sam, now=NOW)
    clock.now = NOW + timedelta(minutes=1)
    assert client.post(reverse("console:note", args=[case.number]),
                       {"body": "Also mine", "stamp": stamp}).status_code == 302
    services.add_note(case, "Theirs", actor=team.sue, now=clock.now)
    clock.now += timedelta(minutes=1)
    assert client.post(reverse("console:request_info", args=[case.number]),
                       {"body": "Logs?"}).status_code == 302
    assert Message.objects.filter(case=case).count() == 4


# ------------------------------------------------------------------ shortcuts
@pytest.mark.parametrize("language, title, line", [
    ("en", "Keyboard shortcuts", "Assign the case to me"),
    ("sv", "Kortkommandon", "Tilldela mig ärendet"),
])
def test_the_queue_and_the_case_page_list_their_shortcuts(client, cast, team, language,
                                                           title, line):
    case = receive(cast)
    cast.sam.language = language
    cast.sam.save()
    as_user(client, cast.sam)
    for address in (reverse("console:queue"), reverse("console:case", args=[case.number])):
        html = client.get(address).content.decode()
        dialog = html[html.index('<dialog id="shortcuts-help"'):html.index("</dialog>")]
        assert f'<h2 id="shortcuts-title">{title}</h2>' in dialog
        assert line in dialog
        assert '<script src="/static/slpdesk/console.js" defer></script>' in html
