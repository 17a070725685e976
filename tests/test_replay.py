"""Replay rules of the SLA clocks (spec sections 2, 3, 5: P1-P2, T1-T3, K1-K7).

Every expected value is worked out by hand in the test. Unless said otherwise
the case is on the ``global`` calendar for a site in America/New_York
(Mon-Fri 08:00-17:00 local, US federal holidays) in the week of Monday
2026-06-01 .. Friday 2026-06-05, which has no holiday (Memorial Day is
05-25, Juneteenth 06-19). Targets: P1 2h/8h/2h, P2 8h/24h/8h, P3 24h/48h/24h,
P4 48h/10 business days/48h; at risk with less than 25 % left.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oracle import Oracle
from slpdesk.sla import Event, ReplayError, calendar_for, load_policy, replay

NY = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
H = 3600
MIN = 60

POLICY = load_policy()
GLOBAL = calendar_for(POLICY, "global", "America/New_York")
UK = calendar_for(POLICY, "uk", "Europe/London")


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """An instant in June 2026, New York time (1 = Monday, 5 = Friday, 8 = next Monday)."""
    return datetime(2026, 6, day, hour, minute, second, tzinfo=NY)


MON, TUE, WED, THU, FRI, SAT, NEXT_MON = 1, 2, 3, 4, 5, 6, 8


def ev(when: datetime, type_: str, **kw) -> Event:
    return Event(at=when, type=type_, **kw)


def run(events, now, cal=GLOBAL, calendar_name=None):
    return replay(events, POLICY, cal, now, calendar_name)


def check(clock, state, started, due, stopped, business, remaining, missed=None):
    """Assert every field of a clock (datetimes compared as instants)."""
    assert clock.state == state
    assert clock.started == started
    assert clock.due == due
    assert clock.stopped == stopped
    assert clock.business_seconds == business
    assert clock.remaining_seconds == remaining
    if missed is not None:
        assert clock.missed == missed


def triaged(priority: str, when: datetime) -> list[Event]:
    """Received with ``priority`` proposed, assigned and information complete at once."""
    return [
        ev(when, "received", priority=priority),
        ev(when, "priority_assigned", priority=priority),
        ev(when, "info_complete"),
    ]


# --------------------------------------------------------------------- K1 response
def test_it_starts_the_response_clock_at_receipt():
    """K1: the response clock starts when the case is received."""
    s = run([ev(at(MON, 9), "received", priority="P2")], at(MON, 11))
    assert s.priority == "P2"
    # 09:00 + 8h = 17:00 the same day (T3: a deadline at closing is 17:00);
    # counted 09:00-11:00 = 2h, left 8h - 2h = 6h (75 %, not at risk).
    check(s.response, "running", at(MON, 9), at(MON, 17), None, 2 * H, 6 * H)
    check(s.resolution, "pending", None, None, None, 0, None)
    check(s.next_update, "pending", None, None, None, 0, None, missed=0)


def test_it_counts_the_response_from_the_next_opening_when_received_on_a_weekend():
    """K1, T3: a clock started outside business hours counts from the next opening;
    ``started`` is still the instant of receipt."""
    s = run([ev(at(SAT, 10), "received", priority="P1")], at(NEXT_MON, 9))
    # Counting starts Mon 06-08 08:00; 08:00 + 2h = 10:00; at 09:00 1h counted, 1h left.
    check(s.response, "running", at(SAT, 10), at(NEXT_MON, 10), None, 1 * H, 1 * H)


@pytest.mark.parametrize("contact", ["responded", "info_requested"])
def test_it_stops_the_response_clock_at_the_first_contact(contact):
    """K1: the first public reply / logged call, or a request for information,
    stops the response clock; a later reply does not move the stop."""
    events = [
        ev(at(MON, 9), "received", priority="P2"),
        ev(at(MON, 10, 30), contact),
        ev(at(MON, 11), "responded"),
    ]
    s = run(events, at(TUE, 12))
    # Stopped at 10:30: counted 09:00-10:30 = 1.5h; due 17:00 Mon (09:00 + 8h).
    check(s.response, "met", at(MON, 9), at(MON, 17), at(MON, 10, 30), 90 * MIN, None)


# ------------------------------------------------------------------ K6 verdicts
@pytest.mark.parametrize(
    ("now", "state", "business"),
    [
        (at(MON, 9), "running", 1 * H),  # 1h of 2h left (50 %)
        (at(MON, 9, 30), "running", 90 * MIN),  # 30 min left = exactly 25 %: not less
        (at(MON, 9, 30, 1), "at_risk", 90 * MIN + 1),  # 1799 s left < 1800 s
        (at(MON, 10), "at_risk", 2 * H),  # 0 s left, due not yet passed
        (at(MON, 10, 0, 1), "breached", 2 * H + 1),  # running past the due
        (at(MON, 18), "breached", 9 * H),  # 08:00-17:00 counted, due long past
    ],
)
def test_it_judges_a_running_response_clock(now, state, business):
    """K6: running; at risk with less than 25 % left; breached while running past due."""
    s = run([ev(at(MON, 8), "received", priority="P1")], now)
    # P1 response: 08:00 + 2h = 10:00.
    check(s.response, state, at(MON, 8), at(MON, 10), None, business, 2 * H - business)


def test_it_meets_a_target_stopped_exactly_at_the_due_instant():
    """K6: stopped at (not only before) the deadline is met."""
    events = [ev(at(MON, 8), "received", priority="P1"), ev(at(MON, 10), "responded")]
    s = run(events, at(MON, 12))
    check(s.response, "met", at(MON, 8), at(MON, 10), at(MON, 10), 2 * H, None)


def test_it_breaches_a_target_stopped_one_second_late():
    """K6: stopped after the deadline is breached; the stopped clock keeps its due."""
    events = [ev(at(MON, 8), "received", priority="P1"), ev(at(MON, 10, 0, 1), "responded")]
    s = run(events, at(TUE, 12))
    check(s.response, "breached", at(MON, 8), at(MON, 10), at(MON, 10, 0, 1), 2 * H + 1, None)


@pytest.mark.parametrize(
    ("reply", "state"),
    [
        (at(MON, 17), "met"),  # exactly at the 17:00 deadline
        # Tue 08:00 is the same business position (2h counted) but a later instant.
        (at(TUE, 8), "breached"),
    ],
)
def test_it_puts_a_deadline_that_uses_up_the_day_at_17_00(reply, state):
    """T3, K6: 15:00 + 2h is 17:00 the same day, not the next opening."""
    events = [ev(at(MON, 15), "received", priority="P1"), ev(reply, "responded")]
    s = run(events, at(TUE, 12))
    check(s.response, state, at(MON, 15), at(MON, 17), reply, 2 * H, None)


def test_it_breaches_a_running_clock_after_a_17_00_deadline_while_closed():
    """T3, K6: due 17:00; at 17:30 (closed) the clock is past due, with 0 s left."""
    s = run([ev(at(MON, 15), "received", priority="P1")], at(MON, 17, 30))
    check(s.response, "breached", at(MON, 15), at(MON, 17), None, 2 * H, 0)


# --------------------------------------------------------------- P1, P2 priority
def test_it_uses_the_proposed_priority_until_one_is_assigned():
    """P1: until support assigns a priority, the proposed one drives the response."""
    s = run([ev(at(MON, 8), "received", priority="P1")], at(MON, 9))
    assert s.priority == "P1"
    check(s.response, "running", at(MON, 8), at(MON, 10), None, 1 * H, 1 * H)


def test_it_recomputes_the_response_from_receipt_when_the_priority_is_assigned():
    """P1, P2: the assigned priority replaces the proposed one, from the original start."""
    events = [
        ev(at(MON, 8), "received", priority="P1"),
        ev(at(MON, 9), "priority_assigned", priority="P3"),
    ]
    s = run(events, at(MON, 11))
    assert s.priority == "P3"
    # P3 response 24h from Mon 08:00: Mon 9h + Tue 9h + Wed 6h -> Wed 14:00.
    # Counted 08:00-11:00 = 3h; left 21h. (As P1 it would be breached at 10:00.)
    check(s.response, "running", at(MON, 8), at(WED, 14), None, 3 * H, 21 * H)


def test_it_breaches_a_running_clock_at_once_when_the_priority_is_raised():
    """P2, K6: raising P3 -> P1 at 12:00 recomputes the running response clock from
    08:00 with 2h: due 10:00, already past."""
    events = [
        ev(at(MON, 8), "received", priority="P3"),
        ev(at(MON, 12), "priority_assigned", priority="P1"),
    ]
    s = run(events, at(MON, 12))
    check(s.response, "breached", at(MON, 8), at(MON, 10), None, 4 * H, -2 * H)


@pytest.mark.parametrize(
    ("first", "then", "verdict", "due"),
    [
        # Proposed P1 (due 10:00), answered 11:00 -> breached; lowering to P3 keeps it.
        ("P1", "P3", "breached", at(MON, 10)),
        # Proposed P3 (due Wed 14:00), answered 11:00 -> met; raising to P1 keeps it.
        ("P3", "P1", "met", at(WED, 14)),
    ],
)
def test_it_keeps_a_stopped_verdict_when_the_priority_changes(first, then, verdict, due):
    """P2: a clock that already stopped keeps its verdict and its due."""
    events = [
        ev(at(MON, 8), "received", priority=first),
        ev(at(MON, 11), "responded"),
        ev(at(MON, 12), "priority_assigned", priority=then),
    ]
    s = run(events, at(MON, 13))
    assert s.priority == then
    check(s.response, verdict, at(MON, 8), due, at(MON, 11), 3 * H, None)


def test_it_recomputes_running_resolution_and_update_clocks_from_their_start():
    """P2: every running clock, the current status-update interval included, is
    recomputed from its original start with the new priority's durations."""
    events = [
        *triaged("P3", at(MON, 8)),
        ev(at(MON, 9), "responded"),
        ev(at(MON, 10), "priority_assigned", priority="P1"),
    ]
    s = run(events, at(MON, 10, 30))
    assert s.priority == "P1"
    # Response stopped at 09:00 under P3 (due Wed 14:00): stays met.
    check(s.response, "met", at(MON, 8), at(WED, 14), at(MON, 9), 1 * H, None)
    # Resolution: 08:00 + 8h = 16:00; counted 2.5h, left 5.5h.
    check(s.resolution, "running", at(MON, 8), at(MON, 16), None, 150 * MIN, 330 * MIN)
    # Update interval from the reply at 09:00: 09:00 + 2h = 11:00; counted 1.5h,
    # left 30 min = exactly 25 % -> still running.
    check(s.next_update, "running", at(MON, 9), at(MON, 11), None, 90 * MIN, 30 * MIN,
          missed=0)


def test_it_recomputes_a_paused_resolution_clock_with_the_new_target():
    """P2, K2: a paused clock takes the new target; remaining = new target - counted."""
    events = [
        *triaged("P2", at(MON, 8)),
        ev(at(MON, 10), "info_requested"),  # 2h counted, then paused
        ev(at(MON, 12), "priority_assigned", priority="P1"),
    ]
    s = run(events, at(MON, 13))
    # P1 resolution 8h - 2h counted = 6h left; due null while paused.
    check(s.resolution, "paused", at(MON, 8), None, None, 2 * H, 6 * H)


# --------------------------------------------------------------- K2 resolution
def test_it_leaves_resolution_pending_until_the_information_is_complete():
    """K2: assigning the priority alone does not start the resolution clock."""
    events = [
        ev(at(MON, 8), "received", priority="P2"),
        ev(at(MON, 9), "priority_assigned", priority="P2"),
    ]
    s = run(events, at(MON, 12))
    check(s.resolution, "pending", None, None, None, 0, None)


@pytest.mark.parametrize(
    ("events", "started", "due", "business"),
    [
        # Assigned 09:00, information complete 11:00 -> starts 11:00.
        # 11:00 + 24h: Mon 6h, Tue 9h, Wed 9h -> Wed 17:00 (T3).
        # Counted to Tue 12:00: Mon 6h + Tue 4h = 10h.
        (
            [
                ev(at(MON, 8), "received", priority="P2"),
                ev(at(MON, 9), "priority_assigned", priority="P2"),
                ev(at(MON, 11), "info_complete"),
            ],
            at(MON, 11), at(WED, 17), 10 * H,
        ),
        # Intake complete at receipt, assigned at 10:00 -> starts at triage 10:00.
        # 10:00 + 24h: Mon 7h, Tue 9h, Wed 8h -> Wed 16:00. Counted Mon 7h + Tue 4h.
        (
            [
                ev(at(MON, 8), "received", priority="P2"),
                ev(at(MON, 8), "info_complete"),
                ev(at(MON, 10), "priority_assigned", priority="P2"),
            ],
            at(MON, 10), at(WED, 16), 11 * H,
        ),
    ],
    ids=["info-after-assignment", "assignment-after-info"],
)
def test_it_starts_resolution_at_the_later_of_assignment_and_information(
        events, started, due, business):
    """K2: the resolution clock starts when both the priority is assigned and the
    information is complete."""
    s = run(events, at(TUE, 12))
    check(s.resolution, "running", started, due, None, business, 24 * H - business)


def test_it_pauses_resolution_while_waiting_on_the_customer():
    """K2: paused while support waits; due null; remaining = target - counted."""
    events = [*triaged("P2", at(MON, 8)), ev(at(MON, 12), "info_requested")]
    s = run(events, at(TUE, 10))
    # Counted 08:00-12:00 = 4h; the wait (Mon 12-17, Tue 08-10) is not counted.
    check(s.resolution, "paused", at(MON, 8), None, None, 4 * H, 20 * H)


@pytest.mark.parametrize("answer", ["customer_replied", "info_complete"])
def test_it_resumes_resolution_when_the_wait_ends(answer):
    """K2 and the CLI contract: the customer's answer (or support marking the
    information complete) resumes the resolution clock."""
    events = [
        *triaged("P2", at(MON, 8)),
        ev(at(MON, 12), "info_requested"),
        ev(at(TUE, 10), answer),
    ]
    s = run(events, at(TUE, 12))
    # 4h before the wait + Tue 10:00-12:00 = 6h counted, 18h left.
    # Due: 20h left at Tue 10:00: Tue 7h, Wed 9h, Thu 08:00 + 4h -> Thu 12:00.
    check(s.resolution, "running", at(MON, 8), at(THU, 12), None, 6 * H, 18 * H)


def test_it_ignores_a_customer_reply_when_support_is_not_waiting():
    """K2, K5 and the CLI contract: customer_replied without a pending request for
    information changes no clock."""
    base = [*triaged("P2", at(MON, 8)), ev(at(MON, 9), "responded")]
    with_reply = [*base, ev(at(MON, 11), "customer_replied")]
    now = at(MON, 15)
    assert run(with_reply, now) == run(base, now)
    s = run(with_reply, now)
    # The update interval still counts from the reply at 09:00 (09:00 + 8h = 17:00).
    check(s.next_update, "running", at(MON, 9), at(MON, 17), None, 6 * H, 2 * H, missed=0)
    check(s.resolution, "running", at(MON, 8), at(WED, 14), None, 7 * H, 17 * H)


@pytest.mark.parametrize("resolution", ["fixed", "timeline", "no-defect"])
@pytest.mark.parametrize(
    ("resolved_at", "verdict", "business"),
    [
        (at(MON, 15), "met", 7 * H),  # due 08:00 + 8h = 16:00
        (at(TUE, 9), "breached", 10 * H),  # Mon 9h + Tue 1h
    ],
)
def test_it_stops_resolution_when_resolved(resolution, resolved_at, verdict, business):
    """K3, K6: each of fixed / timeline / no-defect stops the resolution clock."""
    events = [
        *triaged("P1", at(MON, 8)),
        ev(at(MON, 8, 30), "responded"),
        ev(resolved_at, "resolved", resolution=resolution),
    ]
    s = run(events, at(WED, 12))
    check(s.resolution, verdict, at(MON, 8), at(MON, 16), resolved_at, business, None)


def test_it_rejects_an_unknown_resolution():
    """K3: a resolution is one of fixed, timeline, no-defect."""
    events = [*triaged("P1", at(MON, 8)), ev(at(MON, 9), "resolved", resolution="solved")]
    with pytest.raises(ReplayError, match="resolution"):
        run(events, at(MON, 10))


def test_it_does_not_count_the_time_a_reopened_case_spent_resolved():
    """K2: a reopened case resumes its resolution clock from the reopening."""
    events = [
        *triaged("P1", at(MON, 8)),
        ev(at(MON, 8, 30), "responded"),
        ev(at(MON, 10), "resolved", resolution="fixed"),
    ]
    s = run(events, at(MON, 15))
    check(s.resolution, "met", at(MON, 8), at(MON, 16), at(MON, 10), 2 * H, None)

    s = run([*events, ev(at(TUE, 8), "reopened")], at(TUE, 11))
    # 2h before the resolution; Mon 10:00-17:00 resolved (not counted); Tue 08-11 = 3h.
    # 5h counted, 3h left (37.5 %, running): due Tue 11:00 + 3h = Tue 14:00.
    check(s.resolution, "running", at(MON, 8), at(TUE, 14), None, 5 * H, 3 * H)


# ------------------------------------------------------------- K4 bugs/defects
@pytest.mark.parametrize("kind", ["bug", "defect"])
def test_it_never_breaches_the_resolution_of_a_bug_or_defect(kind):
    """K4: resolution becomes not applicable; response and updates still apply."""
    events = [
        *triaged("P1", at(MON, 8)),
        ev(at(MON, 8, 30), "responded"),
        ev(at(MON, 9), "classified", kind=kind),
    ]
    s = run(events, at(TUE, 12))  # the 8h resolution target (Mon 16:00) is long past
    assert s.resolution.state == "not_applicable"
    assert s.resolution.due is None and s.resolution.remaining_seconds is None
    # Implementation choice: keeps its start and the time counted (Mon 9h + Tue 4h).
    assert s.resolution.started == at(MON, 8)
    assert s.resolution.business_seconds == 13 * H
    check(s.response, "met", at(MON, 8), at(MON, 10), at(MON, 8, 30), 30 * MIN, None)
    # Update owed from 08:30: due 10:30; counted Mon 8.5h + Tue 4h = 12.5h.
    check(s.next_update, "breached", at(MON, 8, 30), at(MON, 10, 30), None,
          750 * MIN, 2 * H - 750 * MIN, missed=1)


def test_it_still_needs_a_response_for_a_defect():
    """K4: response targets apply to every incident, bugs and defects included."""
    events = [
        ev(at(MON, 8), "received", priority="P1"),
        ev(at(MON, 8, 10), "classified", kind="defect"),
    ]
    s = run(events, at(MON, 11))
    check(s.response, "breached", at(MON, 8), at(MON, 10), None, 3 * H, -1 * H)
    check(s.resolution, "not_applicable", None, None, None, 0, None)


def test_it_shows_a_late_resolved_bug_as_not_applicable_not_breached():
    """K4: never shown as breached, even when resolved after the old deadline."""
    events = [
        *triaged("P1", at(MON, 8)),
        ev(at(MON, 8, 30), "responded"),
        ev(at(MON, 9), "classified", kind="bug"),
        ev(at(TUE, 12), "resolved", resolution="timeline"),
    ]
    s = run(events, at(TUE, 13))
    assert s.resolution.state == "not_applicable"
    assert s.resolution.stopped == at(TUE, 12)
    assert s.resolution.due is None and s.resolution.remaining_seconds is None


# ------------------------------------------------------------ K5 status updates
def test_it_owes_no_update_before_the_first_contact():
    """K5: next_update is pending before the first response."""
    s = run(triaged("P1", at(MON, 8)), at(MON, 12))
    check(s.next_update, "pending", None, None, None, 0, None, missed=0)


def test_it_owes_an_update_an_interval_after_the_latest_public_message():
    """K5: the interval counts from support's latest public message."""
    events = [
        *triaged("P1", at(MON, 8)),
        ev(at(MON, 8, 30), "responded"),
        ev(at(MON, 9, 30), "status_update"),
    ]
    s = run(events, at(MON, 10))
    # 09:30 + 2h = 11:30; counted 30 min, 90 min left.
    check(s.next_update, "running", at(MON, 9, 30), at(MON, 11, 30), None,
          30 * MIN, 90 * MIN, missed=0)


def test_it_marks_the_owed_update_at_risk():
    """K5, K6: the update interval is tracked like a target."""
    events = [*triaged("P1", at(MON, 8)), ev(at(MON, 8), "responded")]
    s = run(events, at(MON, 9, 45))
    # 08:00 + 2h = 10:00; 105 min counted, 15 min left < 30 min.
    check(s.next_update, "at_risk", at(MON, 8), at(MON, 10), None, 105 * MIN, 15 * MIN,
          missed=0)


def test_it_pauses_the_update_while_waiting_on_the_customer():
    """K5: no update is owed while the case waits on the customer."""
    events = [
        *triaged("P1", at(MON, 8)),
        ev(at(MON, 8, 30), "responded"),
        ev(at(MON, 9), "info_requested"),
    ]
    s = run(events, at(TUE, 12))  # a day later: still nothing owed, nothing missed
    check(s.next_update, "paused", at(MON, 9), None, None, 0, 2 * H, missed=0)


def test_it_counts_the_update_interval_from_the_customer_answer():
    """K5: once the customer answers, the interval counts from that answer, and the
    waiting time is not an overdue update."""
    events = [
        *triaged("P1", at(MON, 8)),
        ev(at(MON, 8, 30), "responded"),
        ev(at(MON, 9), "info_requested"),
        ev(at(TUE, 8), "customer_replied"),
    ]
    s = run(events, at(TUE, 9))
    check(s.next_update, "running", at(TUE, 8), at(TUE, 10), None, 1 * H, 1 * H, missed=0)


def test_it_counts_late_and_absent_updates_each_interval_on_its_own():
    """K5: a late update is missed and the next one is owed an interval after it."""
    events = [
        *triaged("P1", at(MON, 8)),
        ev(at(MON, 8), "responded"),  # owed by 10:00
        ev(at(MON, 10, 30), "status_update"),  # late: missed 1; next owed by 12:30
        ev(at(MON, 12), "status_update"),  # on time; next owed by 14:00
        ev(at(MON, 14), "status_update"),  # exactly at the due: on time; next by 16:00
    ]
    s = run(events, at(MON, 16, 30))  # none since 14:00: overdue -> missed 2
    check(s.next_update, "breached", at(MON, 14), at(MON, 16), None,
          150 * MIN, -30 * MIN, missed=2)
    # Before 16:00 the open interval is not (yet) missed.
    assert run(events, at(MON, 16)).next_update.missed == 1


@pytest.mark.parametrize(("resolved_at", "missed"), [(at(MON, 9), 0), (at(MON, 11), 1)])
def test_it_stops_owing_updates_once_resolved(resolved_at, missed):
    """K5: updates are owed until resolution; an interval that ran out before the
    resolution without an update is missed."""
    events = [
        *triaged("P1", at(MON, 8)),
        ev(at(MON, 8), "responded"),  # update owed by 10:00
        ev(resolved_at, "resolved", resolution="fixed"),
    ]
    s = run(events, at(TUE, 12))
    u = s.next_update
    assert u.state == "not_applicable"
    assert u.due is None and u.remaining_seconds is None
    assert u.started == at(MON, 8) and u.stopped == resolved_at
    assert u.missed == missed


def test_it_owes_an_update_again_after_a_reopening():
    """K5, K2: not applicable while resolved; owed again from the reopening."""
    events = [
        *triaged("P1", at(MON, 8)),
        ev(at(MON, 8, 30), "responded"),
        ev(at(MON, 10), "resolved", resolution="no-defect"),
        ev(at(TUE, 8), "reopened"),
    ]
    s = run(events, at(TUE, 9))
    check(s.next_update, "running", at(TUE, 8), at(TUE, 10), None, 1 * H, 1 * H, missed=0)


# ------------------------------------------------------------------ calendars
def test_it_counts_p4_resolution_as_90_hours_on_the_global_calendar():
    """T2, T3: 10 business days of 9h = 90h; from Mon 06-01 08:00 exactly ten whole
    days, Mon 06-01 .. Fri 06-12, so due Fri 06-12 17:00 (not Mon 08:00)."""
    s = run(triaged("P4", at(MON, 8)), at(MON, 9))
    assert s.resolution.due == at(12, 17)
    assert s.resolution.remaining_seconds == 89 * H


def test_it_counts_p4_in_uk_business_days_over_easter():
    """T2, C2: uk is Mon-Fri 09:00-17:00 UTC without England bank holidays; P4
    resolution = 10 days x 8h = 80h."""
    start = datetime(2026, 4, 2, 10, tzinfo=UTC)  # Thu, 11:00 BST in London
    s = run(triaged("P4", start), datetime(2026, 4, 7, 10, tzinfo=UTC), cal=UK)
    # Response 48h: Thu 7h; Fri 04-03 Good Friday, Mon 04-06 Easter Monday closed;
    # Tue 7, Wed 8, Thu 9, Fri 10 (4 x 8h = 32h, 39h), Mon 13 (47h), Tue 14 09:00+1h.
    assert s.response.due == datetime(2026, 4, 14, 10, tzinfo=UTC)
    # Resolution 80h: 7h + Tue 7 .. Fri 10 (32h) + Mon 13 .. Fri 17 (40h) = 79h,
    # Mon 04-20 09:00 + 1h = 10:00 UTC.
    assert s.resolution.due == datetime(2026, 4, 20, 10, tzinfo=UTC)
    # Counted to Tue 04-07 10:00 UTC: Thu 7h + Tue 1h = 8h.
    assert s.resolution.business_seconds == 8 * H
    assert s.resolution.remaining_seconds == 72 * H


def test_it_closes_the_uk_calendar_at_17_00_utc_in_british_summer_time():
    """C2, T3: P1 received Fri 2026-08-28 16:00 BST (15:00 UTC)."""
    received = datetime(2026, 8, 28, 16, tzinfo=LONDON)
    s = run(triaged("P1", received), datetime(2026, 8, 28, 17, tzinfo=LONDON), cal=UK)
    # Response: 15:00 + 2h = 17:00 UTC Friday (18:00 BST), the closing time.
    check(s.response, "running", received, datetime(2026, 8, 28, 17, tzinfo=UTC), None,
          1 * H, 1 * H)
    # Resolution: Fri 2h; Mon 08-31 late summer bank holiday; Tue 09-01 09:00 + 6h.
    assert s.resolution.due == datetime(2026, 9, 1, 15, tzinfo=UTC)
    assert s.response.as_dict(LONDON)["due"] == "2026-08-28T18:00:00+01:00"


def test_it_counts_across_the_autumn_daylight_saving_change():
    """C5, T1: DST ends Sun 2026-11-01; P1 received Fri 10-30 16:00 EDT."""
    received = datetime(2026, 10, 30, 16, tzinfo=NY)
    now = datetime(2026, 11, 2, 8, 45, tzinfo=NY)  # Mon, EST
    s = run([ev(received, "received", priority="P1")], now)
    # Fri 16:00-17:00 = 1h; Mon 08:00 EST + 1h = 09:00 EST (14:00 UTC).
    # Counted 1h + 45 min; 15 min left < 30 min -> at risk.
    check(s.response, "at_risk", received, datetime(2026, 11, 2, 9, tzinfo=NY), None,
          105 * MIN, 15 * MIN)
    assert s.response.due == datetime(2026, 11, 2, 14, tzinfo=UTC)
    assert s.response.as_dict(NY)["due"] == "2026-11-02T09:00:00-05:00"


def test_it_counts_across_the_spring_daylight_saving_change():
    """C5, K6: DST begins Sun 2026-03-08; P2 received Fri 03-06 15:00 EST."""
    received = datetime(2026, 3, 6, 15, tzinfo=NY)  # 20:00 UTC
    reply = datetime(2026, 3, 9, 14, tzinfo=NY)  # 18:00 UTC
    events = [ev(received, "received", priority="P2"), ev(reply, "responded")]
    s = run(events, reply + timedelta(hours=1))
    # Fri 2h; Mon 08:00 EDT + 6h = 14:00 EDT: answered exactly at the due -> met.
    check(s.response, "met", received, reply, reply, 8 * H, None)
    assert s.response.as_dict(NY)["due"] == "2026-03-09T14:00:00-04:00"


# ----------------------------------------------------------- K7 determinism
def _story():
    return [
        *triaged("P2", at(MON, 8)),
        ev(at(MON, 9), "responded"),
        ev(at(MON, 11), "info_requested"),
        ev(at(TUE, 9), "customer_replied"),
        ev(at(TUE, 10), "priority_assigned", priority="P1"),
        ev(at(WED, 9), "resolved", resolution="fixed"),
        ev(at(WED, 10), "reopened"),
    ]


def test_it_gives_the_same_state_for_the_same_events():
    """K7: replaying the same events gives the same state, however the instants are
    written and however often it is replayed; the input is not modified."""
    events = _story()
    copy = list(events)
    first = run(events, at(THU, 12))
    assert run(events, at(THU, 12)) == first
    assert run(tuple(events), at(THU, 12)) == first
    in_utc = [Event(e.at.astimezone(UTC), e.type, e.priority, e.kind, e.resolution)
              for e in events]
    assert run(in_utc, at(THU, 12).astimezone(UTC)) == first
    assert events == copy
    assert run(events, at(THU, 12)).as_dict(NY) == first.as_dict(NY)


OPEN_STEPS = [
    ("priority_assigned", {"priority": "P1"}),
    ("priority_assigned", {"priority": "P3"}),
    ("info_complete", {}),
    ("info_requested", {}),
    ("customer_replied", {}),
    ("responded", {}),
    ("status_update", {}),
    ("classified", {"kind": "bug"}),
    ("classified", {"kind": "incident"}),
    ("resolved", {"resolution": "fixed"}),
]
#: What may happen to a resolved case (README: everything else is refused).
RESOLVED_STEPS = [
    ("reopened", {}),
    ("classified", {"kind": "defect"}),
    ("customer_replied", {}),
    ("priority_assigned", {"priority": "P2"}),
]
CONTACT = ("responded", "info_requested", "status_update", "resolved")
#: Response targets by hand (section 3), and the calendar walked minute by minute.
RESPONSE = {"P1": 2 * H, "P2": 8 * H, "P3": 24 * H, "P4": 48 * H}
ORACLE = Oracle.for_spec(POLICY.calendar("global"), NY)


@st.composite
def histories(draw):
    """A history the desk could record (every step allowed where it happens), and a
    ``now`` at or after its last event. Whole minutes, up to about six weeks."""
    t = at(MON, 7, 30)
    events = [ev(t, "received", priority=draw(st.sampled_from(sorted(RESPONSE))))]
    resolved = False
    for _ in range(draw(st.integers(0, 12))):
        t += timedelta(minutes=draw(st.integers(0, 3 * 24 * 60)))
        type_, kw = draw(st.sampled_from(RESOLVED_STEPS if resolved else OPEN_STEPS))
        resolved = {"resolved": True, "reopened": False}.get(type_, resolved)
        events.append(ev(t, type_, **kw))
    return events, t + timedelta(minutes=draw(st.integers(0, 5 * 24 * 60)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories())
def test_it_judges_the_response_of_any_history_as_a_minute_walk_does(history):
    """K1, K6, P2, T3 on random histories the desk could record, against the
    brute-force calendar (tests/oracle.py): the response clock stops at the first
    contact, its target is the priority in force then (or now), and it is met at or
    before the due instant, breached after it; while it runs it is at risk with less
    than a quarter of its target left."""
    events, now = history
    received = int(events[0].at.timestamp())
    priority, contact = events[0].priority, None
    for e in events[1:]:
        if e.type in CONTACT:
            contact = e
            break
        if e.type == "priority_assigned":
            priority = e.priority
    target = RESPONSE[priority]
    due = ORACLE.add(received, target)
    end = int((contact.at if contact else now).timestamp())
    used = ORACLE.between(received, end)
    if contact is not None:
        state = "met" if end <= due else "breached"
        remaining, stopped = None, contact.at
    else:
        remaining, stopped = target - used, None
        if now.timestamp() > due:
            state = "breached"
        else:
            state = "at_risk" if 4 * remaining < target else "running"
    response = run(events, now).response
    assert (response.state, response.stopped, response.business_seconds,
            response.remaining_seconds) == (state, stopped, used, remaining)
    assert int(response.due.timestamp()) == due


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories())
def test_a_verdict_once_reached_stays_reached(history):
    """K6, P2: replaying longer histories never changes a verdict once a clock has
    stopped: the response's for good (with its due), the resolution's until the case
    is reopened or classified again (a bug or defect has no resolution target, K4)."""
    events, now = history
    final = run(events, now)
    for n in range(1, len(events) + 1):
        early = run(events[:n], events[n - 1].at)
        if early.response.stopped is not None:
            assert (final.response.state, final.response.due, final.response.stopped) == (
                early.response.state, early.response.due, early.response.stopped)
        changed = any(e.type in ("reopened", "classified") for e in events[n:])
        if early.resolution.stopped is not None and not changed:
            assert (final.resolution.state, final.resolution.stopped) == (
                early.resolution.state, early.resolution.stopped)


# --------------------------------------------------- input the replay refuses
@pytest.mark.parametrize(
    ("events", "now", "match"),
    [
        ([ev(at(MON, 9), "received", priority="P1"), ev(at(MON, 8), "responded")],
         at(MON, 10), "out of order"),
        ([ev(at(MON, 9), "received", priority="P1"), ev(at(MON, 11), "responded")],
         at(MON, 10), "after 'now'"),
        ([ev(at(MON, 9), "received", priority="P9")], at(MON, 10), "P9"),
        ([ev(at(MON, 9), "received", priority="P1"),
          ev(at(MON, 9), "priority_assigned", priority="P0")], at(MON, 10), "P0"),
        ([ev(at(MON, 9), "received", priority="P1"), ev(at(MON, 9), "teleported")],
         at(MON, 10), "unknown event type"),
        ([ev(at(MON, 9), "responded")], at(MON, 10), "received"),
        ([ev(at(MON, 9), "received", priority="P1"), ev(at(MON, 9, 5), "reopened")],
         at(MON, 10), "reopen"),
        ([ev(at(MON, 9), "received", priority="P1")], datetime(2026, 6, 1, 10), "now"),
    ],
    ids=["out-of-order", "after-now", "unknown-priority", "unknown-assigned-priority",
         "unknown-type", "not-received-first", "reopen-unresolved", "naive-now"],
)
def test_it_refuses_events_that_cannot_describe_a_case(events, now, match):
    """K7 (an event history in order, up to now) and the CLI contract's bad input."""
    with pytest.raises(ReplayError, match=match):
        run(events, now)


# ----------------------------------- choices where the spec is silent (tested as is)
def test_it_takes_a_status_update_before_any_reply_as_the_first_contact():
    """K1 (silent on status_update first): any public message is a first contact."""
    events = [ev(at(MON, 8), "received", priority="P1"), ev(at(MON, 9), "status_update")]
    s = run(events, at(MON, 12))
    check(s.response, "met", at(MON, 8), at(MON, 10), at(MON, 9), 1 * H, None)
    check(s.next_update, "breached", at(MON, 9), at(MON, 11), None, 3 * H, -1 * H, missed=1)


def test_it_stops_the_response_at_a_resolution_without_contact():
    """K1, K3 (silent): resolving a case nobody answered stops its response clock;
    the resolution clock, which never started, reads 'met' without a start or due."""
    events = [ev(at(MON, 8), "received", priority="P1"),
              ev(at(MON, 11), "resolved", resolution="no-defect")]
    s = run(events, at(MON, 12))
    check(s.response, "breached", at(MON, 8), at(MON, 10), at(MON, 11), 3 * H, None)
    check(s.resolution, "met", None, None, at(MON, 11), 0, None)
    assert s.next_update.state == "not_applicable"


def test_it_refuses_a_reply_on_a_resolved_case_until_it_is_reopened():
    """K5 (silent): after 'resolved' only reopened, classified and customer_replied
    are accepted; a reply on a resolved case is bad input."""
    events = [*triaged("P1", at(MON, 8)), ev(at(MON, 9), "responded"),
              ev(at(MON, 10), "resolved", resolution="fixed")]
    assert run([*events, ev(at(MON, 11), "customer_replied")], at(MON, 12)) == run(
        events, at(MON, 12))
    with pytest.raises(ReplayError, match="resolved"):
        run([*events, ev(at(MON, 11), "responded")], at(MON, 12))


def test_it_keeps_waiting_when_support_writes_during_a_wait():
    """K2, K5 (silent): a reply or status update sent while waiting on the customer
    does not end the wait; only the customer's answer or info_complete does."""
    events = [
        *triaged("P1", at(MON, 8)),
        ev(at(MON, 9), "info_requested"),
        ev(at(MON, 11), "status_update"),
    ]
    s = run(events, at(MON, 15))
    check(s.resolution, "paused", at(MON, 8), None, None, 1 * H, 7 * H)
    check(s.next_update, "paused", at(MON, 11), None, None, 0, 2 * H, missed=0)


def test_it_counts_the_update_from_info_complete_when_it_ends_a_wait():
    """K5 (silent on info_complete): marking the information complete ends the wait
    like a customer answer; the update interval counts from it."""
    events = [
        *triaged("P1", at(MON, 8)),
        ev(at(MON, 9), "info_requested"),
        ev(at(MON, 13), "info_complete"),
    ]
    s = run(events, at(MON, 14))
    check(s.next_update, "running", at(MON, 13), at(MON, 15), None, 1 * H, 1 * H, missed=0)


def test_it_counts_an_update_absent_for_several_intervals_as_one_miss():
    """K5 (silent on how many intervals an absent update spans): one open interval,
    however long overdue, is one miss."""
    events = [*triaged("P1", at(MON, 8)), ev(at(MON, 8), "responded")]
    s = run(events, at(TUE, 12))  # 13 business hours without an update
    assert s.next_update.state == "breached"
    assert s.next_update.missed == 1


def test_it_restores_the_resolution_target_when_reclassified_as_an_incident():
    """K4 (silent on undoing a classification): kind 'incident' brings the target back."""
    events = [
        *triaged("P1", at(MON, 8)),
        ev(at(MON, 9), "classified", kind="bug"),
        ev(at(MON, 10), "classified", kind="incident"),
    ]
    s = run(events, at(MON, 12))
    check(s.resolution, "running", at(MON, 8), at(MON, 16), None, 4 * H, 4 * H)


# ------------------------------------------- regressions found while writing these tests
def test_it_does_not_count_resolution_time_while_waiting_when_assigned_during_the_wait():
    """K2: while the case waits on the customer the resolution clock is paused, even
    if the priority is assigned during the wait."""
    events = [
        ev(at(MON, 8), "received", priority="P2"),
        ev(at(MON, 8), "info_complete"),  # intake form complete
        ev(at(MON, 9), "info_requested"),  # support asks for more: waiting
        ev(at(MON, 10), "priority_assigned", priority="P2"),
    ]
    s = run(events, at(MON, 13))
    assert s.resolution.state == "paused"  # started at the assignment, paused by the wait
    assert s.resolution.due is None
    assert s.resolution.business_seconds == 0  # nothing counted while waiting


def test_it_does_not_count_a_paused_update_interval_when_the_case_is_resolved():
    """K5 and the contract ('business_seconds is the business time the clock has
    counted'): no update is owed while waiting, so a wait ended by the resolution
    adds nothing to the interval."""
    events = [
        ev(at(MON, 8), "received", priority="P1"),
        ev(at(MON, 9), "info_requested"),  # update paused, 0 counted
        ev(at(MON, 12), "resolved", resolution="fixed"),
    ]
    assert run(events[:2], at(MON, 12)).next_update.business_seconds == 0
    s = run(events, at(MON, 13))
    assert s.next_update.state == "not_applicable"
    assert s.next_update.business_seconds == 0


def test_it_keeps_a_null_due_for_a_clock_stopped_while_paused():
    """K2, contract: the due in force while paused is null, and a stopped clock keeps
    the due in force when it stopped."""
    events = [
        *triaged("P1", at(MON, 8)),
        ev(at(MON, 10), "info_requested"),
        ev(at(MON, 15), "resolved", resolution="fixed"),
    ]
    s = run(events, at(MON, 16))
    assert s.resolution.state == "met"
    assert s.resolution.due is None


def test_it_accepts_a_priority_change_on_a_resolved_case_and_keeps_the_verdicts():
    """P2: a clock that already stopped keeps the verdict it had; the change is kept."""
    events = [
        *triaged("P1", at(MON, 8)),
        ev(at(MON, 9), "responded"),
        ev(at(MON, 10), "resolved", resolution="fixed"),
        ev(at(MON, 11), "priority_assigned", priority="P3"),
    ]
    s = run(events, at(MON, 12))
    assert s.priority == "P3"
    check(s.response, "met", at(MON, 8), at(MON, 10), at(MON, 9), 1 * H, None)
    check(s.resolution, "met", at(MON, 8), at(MON, 16), at(MON, 10), 2 * H, None)


def test_an_exclusion_keeps_reached_verdicts_and_takes_the_rest_out_of_the_sla():
    """E6: excluded at Mon 12:00. The response met at 09:00 stands; the resolution
    clock (running since 08:00, 4 h counted) and the update interval owed since the
    reply stop there as not applicable."""
    events = [*triaged("P1", at(MON, 8)), ev(at(MON, 9), "responded"),
              ev(at(MON, 12), "excluded")]
    s = run(events, at(WED, 12))
    check(s.response, "met", at(MON, 8), at(MON, 10), at(MON, 9), 1 * H, None)
    check(s.resolution, "not_applicable", at(MON, 8), None, at(MON, 12), 4 * H, None)
    # The update owed at 11:00 was an hour late when the case was excluded.
    check(s.next_update, "not_applicable", at(MON, 9), None, at(MON, 12), 3 * H, None,
          missed=1)
    assert s.earliest_due() is None


def test_an_exclusion_at_intake_leaves_no_clock():
    """E2-E5: a case not covered is excluded as it is received; no clock ever runs
    and nothing is ever late, however long it stays."""
    events = [ev(at(MON, 8), "received", priority="P1"), ev(at(MON, 8), "excluded")]
    s = run(events, at(NEXT_MON, 8))
    check(s.response, "not_applicable", at(MON, 8), None, at(MON, 8), 0, None)
    check(s.resolution, "not_applicable", None, None, at(MON, 8), 0, None)
    check(s.next_update, "not_applicable", None, None, at(MON, 8), 0, None, missed=0)


def test_a_breached_response_stays_breached_after_an_exclusion():
    events = [*triaged("P1", at(MON, 8)), ev(at(MON, 11), "responded"),
              ev(at(MON, 12), "excluded")]
    assert run(events, at(TUE, 8)).response.state == "breached"


def test_nothing_may_follow_an_exclusion():
    events = [*triaged("P1", at(MON, 8)), ev(at(MON, 9), "excluded")]
    for late in ("responded", "customer_replied", "reopened", "excluded"):
        with pytest.raises(ReplayError, match="excluded"):
            run([*events, ev(at(MON, 10), late)], at(MON, 11))
