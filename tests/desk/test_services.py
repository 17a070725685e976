"""Every service: transitions, refusals that change nothing, events, and SLA columns."""

from datetime import date, datetime

import pytest

from desk.conftest import NY, UTC, ny
from slpdesk.desk import services
from slpdesk.desk.models import (
    CalendarClosure,
    Case,
    CaseEvent,
    ImmutableError,
    Message,
    RecomputeWaiting,
)
from slpdesk.desk.services import DeskError
from slpdesk.sla import Event, calendar_for, load_policy, replay

MON_9 = ny(2026, 7, 6, 9, 0)


def receive(cast, site=None, contact=None, *, priority="P3", now=MON_9, **kw) -> Case:
    contact = contact or cast.alice
    return services.receive_case(site or cast.hartford, contact=contact,
                                 channel=Case.Channel.PORTAL, proposed_priority=priority,
                                 title="Post-processor output wrong", release=cast.r2026,
                                 actor=contact, now=now, **kw)


def triaged(cast, priority="P3", now=MON_9) -> Case:
    case = receive(cast, priority=priority, now=now)
    services.assign_priority(case, priority, information_complete=True, actor=cast.sam, now=now)
    return case


def types(case: Case) -> list[str]:
    return list(case.events.values_list("type", flat=True))


def snapshot(case: Case):
    return (Case.objects.filter(pk=case.pk).values().get(), CaseEvent.objects.count(),
            Message.objects.count())


def refused(case: Case, code: str, verb, *args, **kwargs) -> None:
    """``verb`` raises DeskError ``code`` and leaves the database as it was."""
    before = snapshot(case)
    with pytest.raises(DeskError) as err:
        verb(case, *args, **kwargs)
    assert err.value.code == code, str(err.value)
    assert str(err.value)  # a message for the user
    assert snapshot(case) == before


def assert_matches_engine(case: Case, now: datetime) -> None:
    """The stored columns agree with a replay of the stored events: a consistency
    check (the desk stored what it computed), not a proof of the values. It is only
    used beside hand-worked values of the same columns, which are the proof."""
    case.refresh_from_db()
    events = [Event(e.at, e.type, e.priority or None, e.kind or None, e.resolution or None)
              for e in case.events.all() if e.type in CaseEvent.SLA_TYPES]
    state = replay(events, load_policy(), calendar_for(load_policy(), case.calendar,
                                                       case.time_zone), now,
                   calendar_name=case.calendar)
    assert case.response_due == state.response.due
    assert case.resolution_due == state.resolution.due
    assert case.next_update_due == state.next_update.due
    assert case.earliest_due == state.earliest_due()
    assert (case.response_state, case.resolution_state, case.next_update_state) == (
        state.response.state, state.resolution.state, state.next_update.state)


# ------------------------------------------------------------------ intake
def test_it_receives_the_worked_example(cast):
    received = ny(2026, 7, 3, 16, 30)  # Independence Day observed
    case = receive(cast, priority="P1", now=received)
    assert case.number == f"SLP-{case.pk:06d}"
    assert (case.status, case.entitlement) == (Case.Status.NEW, Case.Entitlement.ENTITLED)
    assert (case.calendar, case.time_zone) == ("global", "America/New_York")
    assert str(case.policy_version) == "connect 1"
    assert case.response_due == ny(2026, 7, 6, 10, 0)
    assert case.earliest_due == case.response_due
    assert (case.response_state, case.resolution_state) == ("running", "pending")
    assert types(case) == ["received"]
    assert case.events.get().actor == cast.alice
    assert_matches_engine(case, received)


def test_it_starts_resolution_at_triage_of_a_complete_case(cast):
    received = ny(2026, 7, 3, 16, 30)
    case = receive(cast, priority="P1", now=received)
    services.assign_priority(case, "P1", information_complete=True, actor=cast.sam,
                             now=received)
    case.refresh_from_db()
    assert case.status == Case.Status.OPEN
    assert case.resolution_due == ny(2026, 7, 6, 16, 0)
    assert types(case) == ["received", "priority_assigned", "info_complete"]
    assert_matches_engine(case, received)


def test_it_uses_the_uk_calendar_for_uk_sites(cast):
    case = receive(cast, cast.sheffield, cast.bea, priority="P1",
                   now=datetime(2026, 7, 6, 16, 0, tzinfo=UTC))
    assert case.calendar == "uk"
    assert case.response_due == datetime(2026, 7, 7, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize("who, entitlement, extra", [
    ("nora", Case.Entitlement.NOT_ENTITLED, {}),                  # E2
    ("edgar", Case.Entitlement.VIA_PARTNER, {}),                  # E3
    ("alice", Case.Entitlement.UNSUPPORTED_VERSION, {"old": 1}),  # E4
    ("alice", Case.Entitlement.OUT_OF_SCOPE, {"request_type": "sdk"}),  # E5
])
def test_it_records_cases_it_does_not_cover_without_a_clock(cast, who, entitlement, extra):
    contact = getattr(cast, who)
    site = {"nora": cast.noagree_site, "edgar": cast.endco_site}.get(who, cast.hartford)
    kw = {"request_type": extra["request_type"]} if "request_type" in extra else {}
    case = services.receive_case(
        site, contact=contact, channel=Case.Channel.EMAIL, proposed_priority="P1",
        title="Help", release=cast.r2024 if "old" in extra else cast.r2026,
        actor=contact, now=MON_9, **kw)
    assert (case.status, case.entitlement) == (Case.Status.CLOSED, entitlement)
    assert types(case) == ["received", "excluded"]
    assert case.events.get(type="excluded").data == {"entitlement": entitlement}
    assert (case.response_due, case.resolution_due, case.earliest_due) == (None, None, None)
    assert {case.response_state, case.resolution_state, case.next_update_state} == {
        "not_applicable"}


def test_it_covers_a_case_without_a_release(cast):
    case = services.receive_case(cast.hartford, contact=cast.alice, channel="phone",
                                 proposed_priority="P2", title="Licence", actor=cast.sam,
                                 now=MON_9)
    assert case.entitlement == Case.Entitlement.ENTITLED
    assert case.events.get().actor == cast.sam


@pytest.mark.parametrize("change, code", [
    ({"contact": "olga"}, "contact"),
    ({"actor": "olga"}, "forbidden"),
    ({"proposed_priority": "P9"}, "priority"),
    ({"title": "  "}, "empty"),
    ({"channel": "fax"}, "channel"),
])
def test_it_refuses_bad_intake_and_records_nothing(cast, change, code):
    kw = {"contact": cast.alice, "channel": "portal", "proposed_priority": "P3",
          "title": "Crash", "actor": cast.alice, "now": MON_9}
    kw.update({k: getattr(cast, v) if k in ("contact", "actor") else v
               for k, v in change.items()})
    with pytest.raises(DeskError) as err:
        services.receive_case(cast.hartford, **kw)
    assert err.value.code == code
    assert not Case.objects.exists() and not CaseEvent.objects.exists()


def test_it_keeps_the_policy_version_a_case_was_received_under(cast):
    from slpdesk.desk.models import PolicyVersion, shipped_policy_text

    case = receive(cast)
    newer = PolicyVersion.from_toml(
        shipped_policy_text().replace('version = "1"', 'version = "2"', 1),
        published_at=MON_9, effective_at=ny(2026, 8, 10, 0, 0))
    newer.save()
    later = receive(cast, now=ny(2026, 8, 10, 9, 0))
    case.refresh_from_db()
    assert (case.policy_version.version, later.policy_version.version) == ("1", "2")


# ------------------------------------------------------------------ triage
def test_it_recomputes_running_clocks_when_the_priority_changes(cast):
    case = receive(cast, priority="P4")
    # P4 48 h from Mon 09:00: Mon 8 + Tue-Fri 4 x 9 = 44 h, + 4 h: Mon 07-13 12:00.
    assert case.response_due == ny(2026, 7, 13, 12, 0)
    services.assign_priority(case, "P1", actor=cast.sam, now=ny(2026, 7, 6, 9, 30))
    case.refresh_from_db()
    assert (case.priority, case.status) == ("P1", Case.Status.OPEN)
    assert case.response_due == ny(2026, 7, 6, 11, 0)  # from the original start (P2)
    assert case.resolution_state == "pending"  # information not yet complete
    ev = case.events.get(type="priority_assigned")
    assert (ev.priority, ev.actor, ev.data) == ("P1", cast.sam, {"previous": ""})
    assert_matches_engine(case, ny(2026, 7, 6, 9, 30))


def test_it_keeps_a_stopped_clocks_verdict_when_the_priority_changes(cast):
    case = receive(cast, priority="P4")
    services.reply(case, "Looking at it.", actor=cast.sam, now=ny(2026, 7, 6, 12, 0))
    services.assign_priority(case, "P1", actor=cast.sam, now=ny(2026, 7, 6, 13, 0))
    case.refresh_from_db()
    assert case.response_state == "met"  # P1's 11:00 would have been missed
    assert case.response_due == ny(2026, 7, 13, 12, 0)  # P4's, in force when it stopped
    assert_matches_engine(case, ny(2026, 7, 6, 13, 0))


def test_it_refuses_bad_priority_changes(cast):
    case = triaged(cast, "P3")
    at = ny(2026, 7, 6, 10, 0)
    refused(case, "unchanged", services.assign_priority, "P3", actor=cast.sam, now=at)
    refused(case, "priority", services.assign_priority, "P0", actor=cast.sam, now=at)
    refused(case, "forbidden", services.assign_priority, "P1", actor=cast.alice, now=at)
    refused(case, "clock", services.assign_priority, "P1", actor=cast.sam,
            now=ny(2026, 7, 6, 8, 0))


def test_it_marks_the_information_complete(cast):
    case = receive(cast)
    services.assign_priority(case, "P3", actor=cast.sam, now=MON_9)
    at = ny(2026, 7, 6, 11, 0)
    services.mark_information_complete(case, actor=cast.sam, now=at)
    case.refresh_from_db()
    assert case.information_complete
    # 48 h from Mon 11:00: Mon 6 + Tue-Fri 4 x 9 = 42 h, + 6 h: Mon 07-13 14:00.
    assert case.resolution_due == ny(2026, 7, 13, 14, 0)
    refused(case, "unchanged", services.mark_information_complete, actor=cast.sam, now=at)
    assert_matches_engine(case, at)


def test_it_pauses_resolution_while_waiting_on_the_customer(cast):
    case = triaged(cast, "P3")
    services.request_information(case, "Which machine?", actor=cast.sam,
                                 now=ny(2026, 7, 6, 10, 0))
    case.refresh_from_db()
    assert case.status == Case.Status.WAITING
    assert (case.response_state, case.resolution_state) == ("met", "paused")
    assert case.resolution_due is None
    assert case.messages.get().kind == Message.Kind.PUBLIC
    refused(case, "waiting", services.request_information, "Again?", actor=cast.sam,
            now=ny(2026, 7, 6, 11, 0))

    services.record_customer_reply(case, "The Haas VF-2.", actor=cast.bob,
                                   now=ny(2026, 7, 7, 10, 0))
    case.refresh_from_db()
    assert case.status == Case.Status.OPEN
    # 48 h from Monday 09:00 plus the 9 business hours spent waiting.
    assert case.resolution_due == ny(2026, 7, 14, 12, 0)
    # The next status update is owed 24 business hours after the answer.
    assert case.next_update_due == ny(2026, 7, 9, 16, 0)
    assert types(case)[-2:] == ["info_requested", "customer_replied"]
    assert_matches_engine(case, ny(2026, 7, 7, 10, 0))


def test_it_ends_a_wait_when_support_marks_the_information_complete(cast):
    case = triaged(cast)
    services.request_information(case, "Logs?", actor=cast.sam, now=ny(2026, 7, 6, 10, 0))
    services.mark_information_complete(case, actor=cast.sam, now=ny(2026, 7, 6, 12, 0))
    case.refresh_from_db()
    assert (case.status, case.resolution_state) == (Case.Status.OPEN, "running")


def test_it_lets_only_the_customers_people_reply_as_the_customer(cast):
    case = triaged(cast)
    at = ny(2026, 7, 6, 10, 0)
    refused(case, "forbidden", services.record_customer_reply, "Hi", actor=cast.olga, now=at)
    refused(case, "forbidden", services.record_customer_reply, "Hi", actor=cast.sam, now=at)
    refused(case, "empty", services.record_customer_reply, " ", actor=cast.alice, now=at)
    services.record_customer_reply(case, "More detail", actor=cast.alice, now=at)
    assert types(case)[-1] == "customer_replied"


# ------------------------------------------------------------ conversation
def test_it_stops_the_response_clock_at_the_first_reply(cast):
    case = triaged(cast, "P1")
    services.reply(case, "We are on it.", actor=cast.sam, now=ny(2026, 7, 6, 9, 45))
    services.reply(case, "Still on it.", actor=cast.sam, now=ny(2026, 7, 6, 11, 0))
    case.refresh_from_db()
    assert types(case)[-2:] == ["responded", "status_update"]
    assert case.response_state == "met"
    assert case.next_update_due == ny(2026, 7, 6, 13, 0)
    assert case.earliest_due == ny(2026, 7, 6, 13, 0)
    assert case.messages.count() == 2
    refused(case, "forbidden", services.reply, "Hi", actor=cast.alice,
            now=ny(2026, 7, 6, 12, 0))
    assert_matches_engine(case, ny(2026, 7, 6, 11, 0))


def test_it_counts_a_logged_call_as_contact(cast):
    case = triaged(cast, "P1")
    services.log_call(case, "Called Alice, restarted licence server.", actor=cast.sam,
                      now=ny(2026, 7, 6, 11, 30))
    case.refresh_from_db()
    assert case.messages.get().kind == Message.Kind.CALL
    assert case.response_state == "breached"  # due 11:00
    assert types(case)[-1] == "responded"


def test_it_keeps_internal_notes_off_the_clocks(cast):
    case = triaged(cast, "P1")
    due_before = (case.response_due, case.earliest_due)
    services.add_note(case, "Probably the dongle.", actor=cast.sam, now=ny(2026, 7, 6, 9, 30))
    case.refresh_from_db()
    assert (case.response_due, case.earliest_due) == due_before
    assert case.response_state == "running"
    message = case.messages.get()
    assert message.kind == Message.Kind.INTERNAL and not message.is_visible_to_customer()
    assert types(case)[-1] == "note"
    refused(case, "forbidden", services.add_note, "x", actor=cast.alice,
            now=ny(2026, 7, 6, 9, 40))


def test_it_assigns_cases_to_staff_only(cast):
    case = triaged(cast)
    services.assign(case, cast.sam, actor=cast.sam, now=ny(2026, 7, 6, 9, 5))
    case.refresh_from_db()
    assert case.assignee == cast.sam
    refused(case, "unchanged", services.assign, cast.sam, actor=cast.sam,
            now=ny(2026, 7, 6, 9, 6))
    refused(case, "assignee", services.assign, cast.bob, actor=cast.sam,
            now=ny(2026, 7, 6, 9, 6))
    # Deleting an agent never deletes their cases.
    cast.sam.delete()
    case.refresh_from_db()
    assert case.assignee is None


# ---------------------------------------------------------- classification
def test_it_takes_bugs_out_of_the_resolution_guarantee(cast):
    case = triaged(cast, "P2")
    at = ny(2026, 7, 6, 10, 0)
    refused(case, "reference", services.classify, "bug", actor=cast.sam, now=at)
    refused(case, "kind", services.classify, "feature", "X", actor=cast.sam, now=at)
    services.classify(case, "bug", "BUG-123", actor=cast.sam, now=at)
    case.refresh_from_db()
    assert (case.kind, case.defect_reference) == ("bug", "BUG-123")
    assert (case.resolution_state, case.resolution_due) == ("not_applicable", None)
    assert case.response_state == "running"
    assert case.response_due == case.earliest_due == ny(2026, 7, 6, 17, 0)  # 09:00 + 8 h
    refused(case, "unchanged", services.classify, "bug", "BUG-123", actor=cast.sam, now=at)
    assert_matches_engine(case, at)


# ------------------------------------------------------------- resolution
def test_it_resolves_and_reopens_without_counting_the_resolved_time(cast):
    case = triaged(cast, "P1")
    at = ny(2026, 7, 6, 10, 0)
    refused(case, "resolution", services.resolve, "done", "x", actor=cast.sam, now=at)
    refused(case, "empty", services.resolve, "fixed", " ", actor=cast.sam, now=at)
    refused(case, "not_resolved", services.reopen, "again", actor=cast.alice, now=at)
    services.resolve(case, "fixed", "Replaced the licence file.", actor=cast.sam, now=at)
    case.refresh_from_db()
    assert (case.status, case.resolution) == (Case.Status.RESOLVED, "fixed")
    assert (case.response_state, case.resolution_state) == ("met", "met")
    assert case.earliest_due is None
    refused(case, "resolved", services.reply, "More", actor=cast.sam, now=at)
    refused(case, "forbidden", services.reopen, "Mine now", actor=cast.olga,
            now=ny(2026, 7, 7, 9, 0))

    services.reopen(case, "It crashed again.", actor=cast.alice, now=ny(2026, 7, 7, 9, 0))
    case.refresh_from_db()
    assert (case.status, case.resolution, case.resolution_summary) == (
        Case.Status.OPEN, "", "")
    # 1 h used on Monday; the 7 h left run from the reopening on Tuesday 09:00.
    assert case.resolution_due == ny(2026, 7, 7, 16, 0)
    assert types(case)[-2:] == ["resolved", "reopened"]
    assert_matches_engine(case, ny(2026, 7, 7, 9, 0))


def test_it_excludes_a_case_keeping_verdicts_already_reached(cast):
    case = triaged(cast, "P1")
    services.reply(case, "Looking.", actor=cast.sam, now=ny(2026, 7, 6, 9, 30))
    at = ny(2026, 7, 6, 10, 0)
    refused(case, "reason", services.exclude, "bored", actor=cast.sam, now=at)
    refused(case, "forbidden", services.exclude, "altered", actor=cast.alice, now=at)
    services.exclude(case, "altered", "Patched DLLs found.", actor=cast.sam, now=at)
    case.refresh_from_db()
    assert (case.status, case.entitlement, case.exclusion_reason) == (
        Case.Status.CLOSED, Case.Entitlement.EXCLUDED, "altered")
    assert (case.response_state, case.resolution_state, case.next_update_state) == (
        "met", "not_applicable", "not_applicable")
    assert (case.resolution_due, case.next_update_due, case.earliest_due) == (None, None, None)
    later = ny(2026, 7, 6, 11, 0)
    refused(case, "closed", services.reply, "x", actor=cast.sam, now=later)
    refused(case, "closed", services.record_customer_reply, "x", actor=cast.alice, now=later)
    refused(case, "closed", services.exclude, "altered", actor=cast.sam, now=later)
    # The SLA stays closed whenever it is recomputed.
    services.refresh_sla(case, ny(2026, 8, 1, 9, 0))
    case.refresh_from_db()
    assert (case.response_state, case.resolution_state) == ("met", "not_applicable")


# ---------------------------------------------------------------- calendars
def test_it_recomputes_open_cases_when_a_calendar_closes_a_day(cast):
    monday_4pm = ny(2026, 7, 6, 16, 0)
    case = receive(cast, priority="P1", now=monday_4pm)
    assert case.response_due == ny(2026, 7, 7, 9, 0)
    uk = receive(cast, cast.sheffield, cast.bea, priority="P1", now=monday_4pm)
    uk_due = uk.response_due
    done = triaged(cast, "P1", now=monday_4pm)
    services.resolve(done, "fixed", "Done", actor=cast.sam, now=monday_4pm)
    done.refresh_from_db()
    done_computed = done.sla_computed_at

    now = ny(2026, 7, 6, 16, 30)
    before = case.next_sla_event_at
    closure = services.add_closure("global", date(2026, 7, 7), "Summer shutdown",
                                   actor=cast.sam, now=now)
    case.refresh_from_db()
    # C4: handed to the worker (listed, marked not current), never recomputed in the
    # request.
    assert (case.response_due, case.sla_computed_at, case.next_sla_event_at) == (
        ny(2026, 7, 7, 9, 0), None, before)
    assert set(RecomputeWaiting.objects.values_list("case_id", flat=True)) == {
        case.pk, done.pk}
    assert services.recompute_calendar("global", now) == 1
    case.refresh_from_db()
    uk.refresh_from_db()
    done.refresh_from_db()
    assert case.response_due == ny(2026, 7, 8, 9, 0)
    assert case.sla_computed_at == now
    assert uk.response_due == uk_due and uk.sla_computed_at == monday_4pm
    # The resolved case's response clock stopped, but its due time (Tuesday 9:00) is
    # replay's and moves with the calendar too (K7): it waits for the worker.
    assert (done.response_due, done.sla_computed_at) == (ny(2026, 7, 7, 9, 0), None)
    services.recompute_cases([done.pk], now)
    done.refresh_from_db()
    assert (done.response_due, done.sla_computed_at) == (ny(2026, 7, 8, 9, 0), now)
    assert not RecomputeWaiting.objects.exists()  # each taken off the worker's list
    assert done_computed == monday_4pm

    with pytest.raises(DeskError) as err:
        services.add_closure("global", date(2026, 7, 7), "Again", actor=cast.sam, now=now)
    assert err.value.code == "exists"
    with pytest.raises(DeskError) as err:
        services.add_closure("mars", date(2026, 7, 7), "Why", actor=cast.sam, now=now)
    assert err.value.code == "calendar"
    with pytest.raises(DeskError) as err:
        services.add_closure("global", date(2026, 7, 8), "Why", actor=cast.alice, now=now)
    assert err.value.code == "forbidden"
    with pytest.raises(DeskError) as err:
        services.add_closure("global", date(2026, 7, 8), " ", actor=cast.sam, now=now)
    assert err.value.code == "empty"

    later = ny(2026, 7, 6, 16, 45)
    with pytest.raises(DeskError) as err:
        services.remove_closure(closure, "", actor=cast.sam, now=later)
    assert err.value.code == "empty"
    services.remove_closure(closure, "Shutdown moved", actor=cast.sam, now=later)
    services.recompute_calendar("global", later)
    case.refresh_from_db()
    assert case.response_due == ny(2026, 7, 7, 9, 0)
    # The removal is recorded; the closure stays in the record (C4).
    closure = CalendarClosure.objects.get()
    assert (closure.reason, closure.added_by, closure.added_at) == ("Summer shutdown",
                                                                   cast.sam, now)
    assert (closure.removal_reason, closure.removed_by, closure.removed_at) == (
        "Shutdown moved", cast.sam, later)
    assert CalendarClosure.dates("global") == []
    with pytest.raises(DeskError) as err:
        services.remove_closure(closure, "Again", actor=cast.sam, now=later)
    assert err.value.code == "removed"
    # Closed again after the removal: a second row, the first one kept.
    services.add_closure("global", date(2026, 7, 7), "Back on", actor=cast.sam, now=later)
    assert CalendarClosure.dates("global") == [date(2026, 7, 7)]
    assert CalendarClosure.objects.count() == 2


def test_a_closure_for_a_date_that_has_begun_is_refused(cast):
    """C4: elapsed business time never changes. Same-day closures are refused."""
    receive(cast, priority="P1", now=ny(2026, 7, 6, 9, 0))
    with pytest.raises(DeskError) as err:
        services.add_closure("global", date(2026, 7, 6), "Storm", actor=cast.sam,
                             now=ny(2026, 7, 6, 10, 0))
    assert err.value.code == "begun"
    assert str(err.value) == (
        "2026-07-06 has already begun in America/Chicago, where calendar global counts "
        "business time: only a date still to come can be closed or opened again, so that "
        "no time already counted changes.")
    # 18:30 in New York is 00:30 on 7 July in Göteborg (a site on the global calendar).
    with pytest.raises(DeskError) as err:
        services.add_closure("global", date(2026, 7, 7), "Storm", actor=cast.sam,
                             now=ny(2026, 7, 6, 18, 30))
    assert (err.value.code, err.value.params["zone"]) == ("begun", "Europe/Stockholm")
    services.add_closure("global", date(2026, 7, 7), "Storm", actor=cast.sam,
                         now=ny(2026, 7, 6, 17, 59))
    # The uk calendar counts in UTC: 7 July begins at 20:00 in New York.
    services.add_closure("uk", date(2026, 7, 7), "Storm", actor=cast.sam,
                         now=ny(2026, 7, 6, 19, 59))
    with pytest.raises(DeskError) as err:
        services.add_closure("uk", date(2026, 7, 8), "Storm", actor=cast.sam,
                             now=ny(2026, 7, 7, 20, 0))
    assert (err.value.code, err.value.params["zone"]) == ("begun", "UTC")
    closure = CalendarClosure.objects.get(calendar="uk")
    with pytest.raises(DeskError) as err:
        services.remove_closure(closure, "Oops", actor=cast.sam, now=ny(2026, 7, 6, 20, 0))
    assert err.value.code == "begun"
    assert CalendarClosure.objects.get(calendar="uk").removed_at is None


def test_the_closure_record_is_never_rewritten(cast):
    closure = services.add_closure("global", date(2026, 7, 7), "Summer", actor=cast.sam,
                                   now=ny(2026, 7, 1, 9, 0))
    closure.date = date(2026, 7, 8)
    with pytest.raises(ImmutableError):
        closure.save()
    with pytest.raises(ImmutableError):
        CalendarClosure.objects.filter(pk=closure.pk).update(date=date(2026, 7, 8))
    with pytest.raises(ImmutableError):
        CalendarClosure.objects.get().delete()
    with pytest.raises(ImmutableError):
        CalendarClosure.objects.all().delete()
    assert CalendarClosure.dates("global") == [date(2026, 7, 7)]


def test_it_counts_what_it_recomputed(cast):
    receive(cast, priority="P1")
    receive(cast, cast.sheffield, cast.bea, priority="P1")
    assert services.recompute_calendar("global", ny(2026, 7, 6, 10, 0)) == 1
    assert services.recompute_calendar("uk", ny(2026, 7, 6, 10, 0)) == 1


def test_it_wants_aware_times(cast):
    with pytest.raises(ValueError):
        receive(cast, now=datetime(2026, 7, 6, 9, 0))
    assert NY.key == "America/New_York"
