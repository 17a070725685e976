"""The worker's steps in one process, with time given explicitly: SLA warnings at
exactly the right business instant (New York across a weekend and both DST
changes), who they go to, each fired once; claims and leases; failing rows
pushed ahead; calendar recomputes handed to the worker; the loop itself.

Several processes and a real SIGTERM: ``test_worker_processes.py``.
"""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone

from desk.conftest import NY, ny
from desk.test_mail_out import Team, make_team
from slpdesk.desk import services
from slpdesk.desk.models import (
    CalendarClosure,
    Case,
    Claimable,
    Outbox,
    RecomputeWaiting,
    SlaNotice,
    WorkerHeartbeat,
)
from slpdesk.sla import Event, calendar_for, load_policy, replay
from slpdesk.worker import claims, schedule, steps
from slpdesk.worker.loop import Worker
from slpdesk.worker.steps import (
    Context,
    handle_one_outbox,
    handle_one_recompute_batch,
    handle_one_sla_event,
)

State = Claimable.State


@pytest.fixture
def team(cast) -> Team:
    return make_team()
SECOND = timedelta(seconds=1)
MICRO = timedelta(microseconds=1)


def ctx(name="w1") -> Context:
    return Context(name=name)


def p2_case(cast, received, *, triage=True, assignee=None) -> Case:
    case = services.receive_case(cast.hartford, contact=cast.alice, channel="portal",
                                 proposed_priority="P2", title="Toolpaths fail",
                                 release=cast.r2025, actor=cast.alice, now=received)
    if triage:
        services.assign_priority(case, "P2", information_complete=True, actor=cast.sam,
                                 now=received)
    if assignee is not None:
        services.assign(case, assignee, actor=cast.sam, now=received)
    case.refresh_from_db()
    return case


def fired(case) -> list[tuple[str, str]]:
    return list(SlaNotice.objects.filter(case=case).order_by("fired_at", "pk")
                .values_list("kind", "clock"))


def sla_mails(kind) -> list[str]:
    return sorted(Outbox.objects.filter(kind=kind).values_list("recipient__username",
                                                               flat=True))


def engine_state(case, at):
    return services.sla_state(case, at)


# ------------------------------------------------------------------ time travel
def test_warnings_fire_at_the_business_instant_over_a_weekend_into_summer_time(cast, team):
    """P2 received Friday 6 March 2026 14:00 EST; DST begins Sunday 8 March.
    Response (8 business hours): 3 h on Friday, 5 h on Monday → due Monday 13:00 EDT.
    At risk once less than 2 h (25 %) is left: Monday 11:00:01 EDT."""
    case = p2_case(cast, ny(2026, 3, 6, 14, 0), assignee=cast.sam)
    assert case.response_due == ny(2026, 3, 9, 13, 0)
    at_risk = ny(2026, 3, 9, 11, 0, 1)
    assert case.next_sla_event_at == at_risk
    # The engine agrees: running one second before, at risk at the instant.
    assert engine_state(case, at_risk - SECOND).response.state == "running"
    assert engine_state(case, at_risk).response.state == "at_risk"

    # Nothing over the weekend, nothing on the night DST begins, nothing a second early.
    for t in (ny(2026, 3, 6, 17, 0), ny(2026, 3, 7, 12, 0), ny(2026, 3, 8, 3, 30),
              ny(2026, 3, 9, 8, 0), at_risk - SECOND, at_risk - MICRO):
        assert handle_one_sla_event(t, ctx()) is False, t
    assert fired(case) == []

    assert handle_one_sla_event(at_risk, ctx()) is True
    assert fired(case) == [("at_risk", "response")]
    notice = SlaNotice.objects.get()
    assert (notice.due, notice.fired_at) == (ny(2026, 3, 9, 13, 0), at_risk)
    # To the assignee and every supervisor, each in their own language.
    assert sla_mails("at_risk") == ["sam", "sid", "sue"]
    to_sue = Outbox.objects.get(kind="at_risk", recipient=team.sue)
    assert to_sue.language == "sv"
    assert "mån 9 mar 2026 18:00 CET" in to_sue.body_text  # her zone: Stockholm
    to_sam = Outbox.objects.get(kind="at_risk", recipient=cast.sam)
    assert to_sam.subject.startswith(f"[{case.number}] At risk: Response")
    assert "1 h 59 min of business time left" in to_sam.body_text
    assert "customer: Mon 9 Mar 2026 13:00 EDT" in to_sam.body_text

    # Once only: the same instant again, or a little later, fires nothing more.
    assert handle_one_sla_event(at_risk, ctx()) is False
    assert handle_one_sla_event(at_risk + timedelta(minutes=30), ctx()) is False
    case.refresh_from_db()
    assert case.next_sla_event_at == ny(2026, 3, 9, 13, 0) + MICRO

    # Breached: after the due time, not at it (a reply at 13:00:00 is on time).
    assert handle_one_sla_event(ny(2026, 3, 9, 13, 0), ctx()) is False
    assert handle_one_sla_event(ny(2026, 3, 9, 13, 0, 1), ctx()) is True
    assert fired(case) == [("at_risk", "response"), ("breached", "response")]
    assert sla_mails("breached") == ["sam", "sid", "sue"]
    case.refresh_from_db()
    # Next: the resolution clock (24 h): at risk Tuesday 14:00:01 EDT.
    assert case.next_sla_event_at == ny(2026, 3, 10, 14, 0, 1)


def test_status_updates_are_reminded_then_reported_overdue(cast, team):
    """K5: after the first reply on Monday 13:30 EDT an update is owed every 8 business
    hours: Tuesday 12:30. The assignee is reminded when a quarter of the interval is
    left (Tuesday 10:30:01); once overdue the supervisors hear of it too."""
    case = p2_case(cast, ny(2026, 3, 6, 14, 0), assignee=cast.sam)
    services.reply(case, "Looking into it", actor=cast.sam, now=ny(2026, 3, 9, 10, 0))
    services.reply(case, "Found the cause", actor=cast.sam, now=ny(2026, 3, 9, 13, 30))
    case.refresh_from_db()
    assert case.next_update_due == ny(2026, 3, 10, 12, 30)
    reminder = ny(2026, 3, 10, 10, 30, 1)
    assert case.next_sla_event_at == reminder
    assert handle_one_sla_event(reminder - SECOND, ctx()) is False
    assert handle_one_sla_event(reminder, ctx()) is True
    assert fired(case) == [("update_owed", "next_update")]
    assert sla_mails("update_owed") == ["sam"]
    owed = Outbox.objects.get(kind="update_owed")
    assert "Status update owed by Tue 10 Mar 2026 16:30 UTC" in owed.subject
    assert handle_one_sla_event(ny(2026, 3, 10, 12, 30), ctx()) is False
    assert handle_one_sla_event(ny(2026, 3, 10, 12, 30) + MICRO, ctx()) is True
    assert fired(case)[-1] == ("update_overdue", "next_update")
    assert sla_mails("update_overdue") == ["sam", "sid", "sue"]
    # A new update starts a new interval, with its own reminder.
    services.reply(case, "Fixed in the next build", actor=cast.sam,
                   now=ny(2026, 3, 10, 13, 0))
    case.refresh_from_db()
    assert case.next_update_due == ny(2026, 3, 11, 12, 0)
    assert case.next_sla_event_at == ny(2026, 3, 10, 14, 0, 1)  # resolution at risk first


def test_an_unassigned_case_reminds_the_supervisors(cast, team):
    case = p2_case(cast, ny(2026, 3, 6, 14, 0))
    services.reply(case, "On it", actor=cast.sam, now=ny(2026, 3, 9, 13, 30))
    handle_one_sla_event(ny(2026, 3, 9, 13, 0, 1), ctx())  # nothing due then
    while handle_one_sla_event(ny(2026, 3, 10, 10, 30, 1), ctx()):
        pass
    assert sla_mails("update_owed") == ["sid", "sue"]


def test_warnings_fire_at_the_business_instant_after_summer_time_ends(cast, team):
    """DST ends Sunday 1 November 2026. P2 received Friday 30 October 15:00 EDT: 2 h
    on Friday, 6 h on Monday → due Monday 2 November 14:00 EST; at risk at 12:00:01
    EST (17:00:01 UTC), not an hour early as a fixed offset would have it."""
    case = p2_case(cast, ny(2026, 10, 30, 15, 0), triage=False)
    assert case.response_due == ny(2026, 11, 2, 14, 0)
    at_risk = ny(2026, 11, 2, 12, 0, 1)
    assert at_risk.astimezone(UTC) == datetime(2026, 11, 2, 17, 0, 1, tzinfo=UTC)
    assert case.next_sla_event_at == at_risk
    for t in (datetime(2026, 11, 1, 1, 30, tzinfo=NY),
              datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=NY),
              ny(2026, 11, 2, 11, 0, 1), at_risk - SECOND):
        assert handle_one_sla_event(t, ctx()) is False, t
    assert handle_one_sla_event(at_risk, ctx()) is True
    # Unassigned: the supervisors are told.
    assert sla_mails("at_risk") == ["sid", "sue"]


def test_a_late_worker_sends_only_the_breach(cast, team):
    """No worker ran through the at-risk moment; when one comes after the due time, it
    reports the breach and never a stale 'at risk'."""
    case = p2_case(cast, ny(2026, 3, 6, 14, 0), triage=False)
    assert handle_one_sla_event(ny(2026, 3, 12, 9, 0), ctx()) is True
    assert fired(case) == [("breached", "response")]
    assert Outbox.objects.filter(kind="at_risk").count() == 0
    case.refresh_from_db()
    assert case.next_sla_event_at is None  # nothing else runs (not triaged)
    assert handle_one_sla_event(ny(2026, 3, 13, 9, 0), ctx()) is False


def test_a_stopped_clock_needs_no_worker(cast):
    case = p2_case(cast, ny(2026, 3, 6, 14, 0))
    services.resolve(case, "fixed", "Done", actor=cast.sam, now=ny(2026, 3, 6, 15, 0))
    case.refresh_from_db()
    assert case.next_sla_event_at is None
    services.reopen(case, "Again", actor=cast.alice, now=ny(2026, 3, 9, 9, 0))
    case.refresh_from_db()
    assert case.next_sla_event_at is not None


def test_a_priority_change_gives_the_new_due_time_its_own_warnings(cast, team):
    case = p2_case(cast, ny(2026, 3, 9, 8, 0), triage=False)
    assert handle_one_sla_event(ny(2026, 3, 9, 14, 0, 1), ctx()) is True  # P2 at risk
    services.assign_priority(case, "P1", actor=cast.sam, now=ny(2026, 3, 9, 14, 30))
    case.refresh_from_db()
    # P1: 2 h from 08:00 → due 10:00, already past: breached at once.
    assert case.next_sla_event_at <= ny(2026, 3, 9, 14, 30)
    assert handle_one_sla_event(ny(2026, 3, 9, 14, 30), ctx()) is True
    assert fired(case) == [("at_risk", "response"), ("breached", "response")]
    notices = list(SlaNotice.objects.filter(case=case).order_by("pk"))
    assert notices[0].due == ny(2026, 3, 9, 16, 0) and notices[1].due == ny(2026, 3, 9, 10, 0)


def test_warning_instants_match_the_engine_exactly():
    """Random starts (with microseconds), targets, pauses and zones: the warning
    instant is the first at which replay says 'at risk', the breach instant the
    first at which it says 'breached'."""
    policy = load_policy()
    rnd = random.Random(4)
    zones = ["America/New_York", "Europe/London", "Asia/Kolkata", "Australia/Adelaide"]
    for _ in range(150):
        zone = rnd.choice(zones)
        cal = calendar_for(policy, "global", zone)
        start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(
            seconds=rnd.randrange(365 * 86400), microseconds=rnd.randrange(1_000_000))
        priority = rnd.choice(["P1", "P2", "P3", "P4"])
        events = [Event(start, "received", priority)]
        if rnd.random() < 0.5:  # a pause on the response clock is not possible; pause
            # the resolution clock instead
            t = start + timedelta(seconds=rnd.randrange(3 * 86400))
            events += [Event(start, "priority_assigned", priority),
                       Event(start, "info_complete"), Event(t, "info_requested"),
                       Event(t + timedelta(seconds=rnd.randrange(2 * 86400)),
                             "customer_replied")]
        now = events[-1].at
        state = replay(events, policy, cal, now)
        for m in schedule.moments(state, cal, policy.at_risk_fraction):
            if m.at <= now:
                continue
            before = getattr(replay(events, policy, cal, m.at - MICRO), m.clock).state
            at = getattr(replay(events, policy, cal, m.at), m.clock).state
            assert (before, at) == (("at_risk", "breached") if m.breach else
                                    ("running", "at_risk")), (zone, start, m)


@pytest.mark.parametrize("fraction", [0.25, 0.1, 0.2, 1 / 3, 0.3])
def test_at_risk_threshold_matches_replays_predicate(fraction):
    for target in (60, 7200, 28800, 86400, 324000, 12345):
        used = schedule.at_risk_used(target, fraction)
        assert target - used < fraction * target
        assert not target - (used - 1) < fraction * target


# ------------------------------------------------------------------ claims
def test_a_claimed_mail_is_nobody_elses_until_its_lease_ends(cast):
    now = ny(2026, 7, 6, 9, 0)
    p2_case(cast, now, triage=False)
    services.receive_case(cast.sheffield, contact=cast.bea, channel="portal",
                          proposed_priority="P3", title="Other", actor=cast.bea, now=now)
    qs = Outbox.objects.due(now).order_by("pk")
    first = claims.claim_next(qs, now=now, lease=steps.LEASE, name="a")
    second = claims.claim_next(Outbox.objects.due(now).order_by("pk"), now=now,
                               lease=steps.LEASE, name="b")
    assert first.pk != second.pk
    assert claims.claim_next(Outbox.objects.due(now), now=now, lease=steps.LEASE,
                             name="c") is None
    # The conditional UPDATE refuses a row someone holds.
    assert claims._claimable(Outbox, first.pk, now).update(claimed_by="c") == 0
    first.refresh_from_db()
    assert (first.claimed_by, first.claimed_until) == ("a", now + steps.LEASE)
    # b cannot finish a's row.
    assert claims.finish(first, name="b", now=now, state=State.DONE) is False


def test_a_worker_killed_between_claim_and_send_is_replaced_after_the_lease(
        cast, settings):
    from desk.test_mail_out_smtpd import Smtpd

    smtpd = Smtpd().start()
    try:
        settings.SLPDESK_EMAIL = smtpd.server
        now = ny(2026, 7, 6, 9, 0)
        p2_case(cast, now, triage=False)
        dead = claims.claim_next(Outbox.objects.due(now), now=now, lease=steps.LEASE,
                                 name="dead")  # ... and the process dies here
        assert dead is not None
        assert steps.LEASE.total_seconds() == 60  # taken over within about a minute
        assert handle_one_outbox(now + timedelta(seconds=59), ctx("alive")) is False
        assert handle_one_outbox(now + steps.LEASE, ctx("alive")) is False
        assert handle_one_outbox(now + steps.LEASE + SECOND, ctx("alive")) is True
        dead.refresh_from_db()
        assert (dead.state, dead.claimed_by) == (State.DONE, "alive")
        assert list(smtpd.message_ids().items()) == [(dead.message_id, 1)]
        # The dead worker's late finish changes nothing.
        assert claims.finish(dead, name="dead", now=now, state=State.FAILED) is False
    finally:
        smtpd.stop()


def test_a_claimed_case_is_skipped_until_its_lease_ends(cast):
    case = p2_case(cast, ny(2026, 3, 6, 14, 0), triage=False)
    t = ny(2026, 3, 9, 12, 0)
    assert claims.claim_cases(Case.objects.all(), now=t, lease=steps.LEASE, limit=5) == [
        case.pk]
    assert claims.claim_cases(Case.objects.all(), now=t, lease=steps.LEASE, limit=5) == []
    assert handle_one_sla_event(t + timedelta(seconds=59), ctx()) is False
    assert handle_one_sla_event(t + steps.LEASE, ctx()) is True  # the holder died
    assert fired(case) == [("at_risk", "response")]


def test_two_workers_on_one_due_case_record_it_once(cast, team):
    case = p2_case(cast, ny(2026, 3, 6, 14, 0), triage=False)
    t = ny(2026, 3, 9, 11, 0, 1)
    # Both got past the claim (say the first's lease ran out while it was slow).
    first_case, first = steps.process_case(case.pk, t)
    second_case, second = steps.process_case(case.pk, t + SECOND)
    assert [n.kind for n in first] == ["at_risk"] and second == []
    assert SlaNotice.objects.count() == 1
    assert Outbox.objects.filter(kind="at_risk").count() == 2  # sid and sue, once each


# ------------------------------------------------------------------ failures
def test_a_mail_that_raises_waits_and_the_loop_goes_on(cast, monkeypatch, settings):
    now = ny(2026, 7, 6, 9, 0)
    p2_case(cast, now, triage=False)
    services.receive_case(cast.sheffield, contact=cast.bea, channel="portal",
                          proposed_priority="P3", title="Other", actor=cast.bea, now=now)
    bad, good = Outbox.objects.order_by("pk")
    real = steps.outbound.deliver

    def deliver(row):
        if row.pk == bad.pk:
            raise RuntimeError("template bug")
        return real(row)

    settings.SLPDESK_MAIL_DIR = settings.DATA_DIR / "mail-test"
    monkeypatch.setattr(steps.outbound, "deliver", deliver)
    assert handle_one_outbox(now, ctx()) is True
    bad.refresh_from_db()
    assert (bad.state, bad.attempts, bad.next_attempt_at) == (
        State.PENDING, 1, now + timedelta(minutes=1))
    assert bad.last_error == "RuntimeError: template bug"
    assert handle_one_outbox(now, ctx()) is True  # the next row, not the same one again
    good.refresh_from_db()
    assert good.state == State.DONE
    assert handle_one_outbox(now, ctx()) is False


def test_a_case_that_raises_is_put_off_and_others_go_on(cast, monkeypatch, team):
    broken = p2_case(cast, ny(2026, 3, 6, 14, 0), triage=False)
    fine = p2_case(cast, ny(2026, 3, 6, 14, 0, 30), triage=False)
    real = services.refresh_sla

    def refresh(case, now, closed=None):
        if case.pk == broken.pk:
            raise ValueError("corrupt history")
        return real(case, now, closed)

    monkeypatch.setattr(services, "refresh_sla", refresh)
    t = ny(2026, 3, 9, 12, 0)
    assert handle_one_sla_event(t, ctx()) is True  # the broken one: put off
    broken.refresh_from_db()
    assert broken.next_sla_event_at == t + steps.SLA_RETRY
    assert handle_one_sla_event(t, ctx()) is True  # the fine one
    assert fired(fine) == [("at_risk", "response")] and fired(broken) == []
    assert handle_one_sla_event(t, ctx()) is False


# ------------------------------------------------------------------ calendar changes
def test_a_calendar_change_goes_to_the_worker_when_one_runs(cast):
    monday_4pm = ny(2026, 7, 6, 16, 0)
    cases = [services.receive_case(cast.hartford, contact=cast.alice, channel="portal",
                                   proposed_priority="P1", title=f"Case {i}",
                                   actor=cast.alice, now=monday_4pm) for i in range(3)]
    uk = services.receive_case(cast.sheffield, contact=cast.bea, channel="portal",
                               proposed_priority="P1", title="UK", actor=cast.bea,
                               now=monday_4pm)
    assert cases[0].response_due == ny(2026, 7, 7, 9, 0)
    now = ny(2026, 7, 6, 16, 30)
    WorkerHeartbeat.objects.create(name="w1", started_at=now, seen_at=now - SECOND)
    services.add_closure("global", datetime(2026, 7, 7).date(), "Shutdown", actor=cast.sam,
                         now=now)
    for case in cases:  # handed over (listed for the worker), not recomputed in the request
        before = case.next_sla_event_at
        case.refresh_from_db()
        assert case.response_due == ny(2026, 7, 7, 9, 0)
        assert (case.sla_computed_at, case.next_sla_event_at) == (None, before)
    assert set(RecomputeWaiting.objects.values_list("case_id", flat=True)) == {
        case.pk for case in cases}
    uk.refresh_from_db()
    assert uk.sla_computed_at == monday_4pm
    assert handle_one_recompute_batch(now, ctx(), size=2) is True
    assert Case.objects.filter(sla_computed_at__isnull=True).count() == 1
    assert handle_one_recompute_batch(now, ctx(), size=2) is True
    assert handle_one_recompute_batch(now, ctx(), size=2) is False
    assert not RecomputeWaiting.objects.exists()
    for case in cases:
        case.refresh_from_db()
        assert case.response_due == ny(2026, 7, 8, 9, 0)
        assert case.sla_computed_at == now
        assert case.next_sla_event_at == ny(2026, 7, 8, 8, 30, 1)


def test_a_late_recompute_fires_the_warning_that_came_meanwhile_once(cast):
    """C4, K6: the batch recomputes, then acts on the cases whose moment has come."""
    now = ny(2026, 7, 6, 16, 30)
    case = services.receive_case(cast.hartford, contact=cast.alice, channel="portal",
                                 proposed_priority="P1", title="Case", actor=cast.alice,
                                 now=ny(2026, 7, 6, 16, 0))
    other = services.receive_case(cast.hartford, contact=cast.alice, channel="portal",
                                  proposed_priority="P1", title="Other", actor=cast.alice,
                                  now=ny(2026, 7, 6, 16, 0))
    services.add_closure("global", datetime(2026, 7, 7).date(), "Shutdown", actor=cast.sam,
                         now=now)
    # Due Wed 09:00 now (1 business hour after Mon 16:00, Tue closed); at risk from
    # 08:45 (15 minutes left). The worker comes at 08:50.
    late = ny(2026, 7, 8, 8, 50)
    assert handle_one_recompute_batch(late, ctx()) is True
    for c in (case, other):
        c.refresh_from_db()
        assert (c.response_due, c.response_state) == (ny(2026, 7, 8, 9, 0), "at_risk")
        assert fired(c) == [("at_risk", "response")]
        assert c.next_sla_event_at == ny(2026, 7, 8, 9, 0, 0, 1)
    assert handle_one_recompute_batch(late, ctx()) is False
    assert handle_one_sla_event(late, ctx()) is False
    assert SlaNotice.objects.count() == 2


def test_a_recompute_batch_that_raises_is_taken_case_by_case_and_not_again(cast, monkeypatch):
    """One bad case holds up no other, and the batch's cases leave the worker's list."""
    now = ny(2026, 7, 6, 16, 30)
    broken, fine = (services.receive_case(cast.hartford, contact=cast.alice, channel="portal",
                                          proposed_priority="P1", title=title,
                                          actor=cast.alice, now=ny(2026, 7, 6, 16, 0))
                    for title in ("Broken", "Fine"))
    services.add_closure("global", datetime(2026, 7, 7).date(), "Shutdown", actor=cast.sam,
                         now=now)
    real = services.sla_state

    def sla_state(case, *args, **kwargs):
        if case.pk == broken.pk:
            raise ValueError("corrupt history")
        return real(case, *args, **kwargs)

    monkeypatch.setattr(services, "sla_state", sla_state)
    assert handle_one_recompute_batch(now, ctx()) is True
    assert handle_one_recompute_batch(now, ctx()) is False  # neither is taken again
    assert not RecomputeWaiting.objects.exists()
    fine.refresh_from_db()
    broken.refresh_from_db()
    assert (fine.response_due, fine.sla_computed_at) == (ny(2026, 7, 8, 9, 0), now)
    # The broken one goes to the SLA step, which looks at it again later.
    assert (broken.sla_computed_at, broken.next_sla_event_at) == (None, now + steps.SLA_RETRY)


def test_without_a_live_worker_the_request_still_hands_the_recompute_over(cast):
    now = ny(2026, 7, 6, 16, 30)
    case = services.receive_case(cast.hartford, contact=cast.alice, channel="portal",
                                 proposed_priority="P1", title="Case", actor=cast.alice,
                                 now=ny(2026, 7, 6, 16, 0))
    WorkerHeartbeat.objects.create(name="gone", started_at=now, seen_at=now - timedelta(
        minutes=3))
    closure = services.add_closure("global", datetime(2026, 7, 7).date(), "Move",
                                   actor=cast.sam, now=now)
    case.refresh_from_db()
    assert (case.response_due, case.sla_computed_at) == (ny(2026, 7, 7, 9, 0), None)
    assert CalendarClosure.objects.get() == closure
    assert handle_one_recompute_batch(now, ctx()) is True  # the worker, once it comes
    case.refresh_from_db()
    assert (case.response_due, case.sla_computed_at) == (ny(2026, 7, 8, 9, 0), now)


# ------------------------------------------------------------------ the loop
def test_the_loop_works_until_nothing_is_left_then_stops(cast, team, settings, capsys):
    settings.SLPDESK_EMAIL = None
    settings.SLPDESK_MAIL_DIR = settings.DATA_DIR / "mail-loop"
    p2_case(cast, ny(2026, 3, 6, 14, 0), triage=False)
    clock = [ny(2026, 3, 9, 13, 0, 1)]
    beats = []

    class Recording(Worker):
        def _beat(self):
            super()._beat()
            beats.extend(WorkerHeartbeat.objects.values_list("name", flat=True))

    worker = Recording(ctx=ctx("loop-1"), clock=lambda: clock[0])
    assert worker.run(once=True) == 0
    kinds = sorted(Outbox.objects.values_list("kind", "state"))
    assert kinds == [("breached", "done")] * 2 + [("case_received", "done")]
    assert beats and set(beats) == {"loop-1"}
    assert not WorkerHeartbeat.objects.exists()  # gone when it stops
    out = capsys.readouterr().err  # the log, on standard error
    assert "loop-1 started" in out and "loop-1 stopped" in out
    assert "breached (response" in out


def test_the_loop_survives_the_database_going_away(cast, monkeypatch, capsys):
    calls = {"n": 0}
    slept = []

    def flaky(now, ctx):
        calls["n"] += 1
        if calls["n"] <= 2:
            raise OperationalError("server closed the connection unexpectedly")
        return False

    worker = Worker(steps=[("flaky", flaky)], ctx=ctx("w-db"),
                    clock=lambda: timezone.now())
    monkeypatch.setattr(worker, "_sleep", slept.append)
    assert worker.run(once=True) == 0
    assert calls["n"] == 3
    assert slept == [1.0, 2.0]  # 1 s, then 2 s, …
    err = capsys.readouterr().err
    assert "database unavailable (OperationalError: server closed the connection " \
           "unexpectedly); trying again in 1 s" in err


def test_the_loop_gives_up_with_once_when_the_database_stays_away(db, monkeypatch):
    def down(now, ctx):
        raise OperationalError("could not connect")

    worker = Worker(steps=[("down", down)], ctx=ctx("w-down"), clock=timezone.now)
    monkeypatch.setattr(worker, "_sleep", lambda s: None)
    assert worker.run(once=True) == 75  # EX_TEMPFAIL: try again later


def test_a_step_that_raises_does_not_stop_the_loop(db, capsys):
    ran = []

    def broken(now, ctx):
        raise KeyError("bug")

    def fine(now, ctx):
        ran.append(now)
        return False

    worker = Worker(steps=[("broken", broken), ("fine", fine)], ctx=ctx("w-bug"),
                    clock=timezone.now)
    assert worker.run(once=True) == 0
    assert len(ran) == 1
    assert "step broken raised KeyError" in capsys.readouterr().err


def test_stop_finishes_the_step_in_progress(cast):
    order = []
    worker = Worker(ctx=ctx("w-stop"), clock=timezone.now, poll=60)

    def first(now, c):
        order.append("first")
        worker.stop()  # SIGTERM arrives during this step
        order.append("first done")
        return True

    def second(now, c):
        order.append("second")
        return True

    worker.steps = [("first", first), ("second", second)]
    assert worker.run() == 0
    assert order == ["first", "first done"]


def test_the_worker_includes_the_mail_intake_when_installed():
    from slpdesk.worker.loop import default_steps

    names = [name for name, _ in default_steps()]
    assert names[:3] == ["outbox", "sla", "recompute"]


def test_next_sla_event_is_kept_by_every_service(cast):
    case = p2_case(cast, ny(2026, 3, 6, 14, 0))
    assert case.next_sla_event_at == ny(2026, 3, 9, 11, 0, 1)
    services.request_information(case, "Logs?", actor=cast.sam, now=ny(2026, 3, 9, 9, 0))
    case.refresh_from_db()
    # Responded (stopped) and the resolution clock paused: nothing until the answer.
    assert case.next_sla_event_at is None
    services.record_customer_reply(case, "Here", actor=cast.alice, now=ny(2026, 3, 9, 10, 0))
    case.refresh_from_db()
    assert case.next_sla_event_at is not None and case.next_sla_event_at > ny(2026, 3, 9, 10)
    services.exclude(case, "altered", actor=cast.sam, now=ny(2026, 3, 9, 11, 0))
    case.refresh_from_db()
    assert case.next_sla_event_at is None



def test_the_worker_command_refuses_a_bad_poll(capsys):
    from slpdesk import cli

    assert cli.main(["worker", "--poll", "0"]) == 2
    assert "--poll: 0 is out of range" in capsys.readouterr().err
    assert cli.main(["worker", "--poll", "soon"]) == 2


def test_the_mail_page_shows_the_workers(cast, client):
    from django.urls import reverse

    now = timezone.now()
    WorkerHeartbeat.objects.create(name="host-a:12", started_at=now - timedelta(hours=1),
                                   seen_at=now - SECOND)
    WorkerHeartbeat.objects.create(name="host-b:34", started_at=now - timedelta(days=1),
                                   seen_at=now - timedelta(hours=3))
    client.force_login(cast.sam)
    page = client.get(reverse("console:outbox")).content.decode()
    assert "No worker is running" not in page
    a = page.index('data-worker="host-a:12"')
    b = page.index('data-worker="host-b:34"')
    assert "running" in page[a:b] and "not seen lately" in page[b:]


def test_a_mail_sent_just_before_the_database_went_away_is_not_sent_again(
        cast, monkeypatch, settings):
    from desk.test_mail_out_smtpd import Smtpd

    smtpd = Smtpd().start()
    try:
        settings.SLPDESK_EMAIL = smtpd.server
        now = ny(2026, 7, 6, 9, 0)
        p2_case(cast, now, triage=False)
        real_finish = claims.finish

        def finish_fails(row, **kw):
            raise OperationalError("the connection was lost")

        monkeypatch.setattr(claims, "finish", finish_fails)
        c = ctx("w-lost")
        with pytest.raises(OperationalError):
            handle_one_outbox(now, c)
        assert len(smtpd.messages) == 1  # it went out; the database did not hear of it
        monkeypatch.setattr(claims, "finish", real_finish)
        for redo in c.unfinished:  # what the loop does first once the database is back
            redo()
        mail = Outbox.objects.get()
        assert mail.state == State.DONE
        assert handle_one_outbox(now + steps.LEASE * 2, c) is False
        assert len(smtpd.messages) == 1
    finally:
        smtpd.stop()


def test_a_mail_claimed_when_the_database_went_away_is_let_go_at_once(cast, monkeypatch):
    now = ny(2026, 7, 6, 9, 0)
    p2_case(cast, now, triage=False)

    def lost(row):
        raise OperationalError("the connection was lost")

    monkeypatch.setattr(steps.outbound, "reason_not_to_send", lost)
    c = ctx("w-lost")
    with pytest.raises(OperationalError):
        handle_one_outbox(now, c)
    mail = Outbox.objects.get()
    assert (mail.claimed_by, mail.state) == ("w-lost", State.PENDING)
    for redo in c.unfinished:
        redo()
    mail.refresh_from_db()
    assert (mail.claimed_by, mail.claimed_until, mail.attempts) == ("", None, 0)


def test_a_case_claimed_when_the_database_went_away_is_let_go_at_once(cast, monkeypatch):
    case = p2_case(cast, ny(2026, 3, 6, 14, 0), triage=False)

    def lost(*args, **kwargs):
        raise OperationalError("the connection was lost")

    monkeypatch.setattr(steps, "process_case", lost)
    c = ctx("w-lost")
    t = ny(2026, 3, 9, 12, 0)
    with pytest.raises(OperationalError):
        handle_one_sla_event(t, c)
    case.refresh_from_db()
    assert case.next_sla_event_at == t + steps.LEASE
    for redo in c.unfinished:
        redo()
    case.refresh_from_db()
    assert case.next_sla_event_at == t


# -------------------------------------------------------------- lease renewal
def _mail(now, message_id: str) -> Outbox:
    return Outbox.objects.create(message_id=message_id, kind="reply", to_address="a@example.com",
                                 language="en", subject="s", body_text="b",
                                 next_attempt_at=now, created_at=now)


def test_renew_extends_only_the_workers_own_pending_claims(db):
    t = datetime(2026, 7, 6, 12, 0, tzinfo=UTC)
    mine, theirs, done = (_mail(t, f"<{n}@x>") for n in ("mine", "theirs", "done"))
    for row, name in ((mine, "w1"), (theirs, "w2"), (done, "w1")):
        assert claims.claim_next(Outbox.objects.filter(pk=row.pk), now=t,
                                 lease=steps.LEASE, name=name) is not None
    claims.finish(done, name="w1", now=t, state=State.DONE)
    assert claims.renew(name="w1", now=t + timedelta(seconds=45), lease=steps.LEASE) == 1
    until = dict(Outbox.objects.values_list("message_id", "claimed_until"))
    assert until == {"<mine@x>": t + timedelta(seconds=105),  # 45 s + the 60 s lease
                     "<theirs@x>": t + timedelta(seconds=60), "<done@x>": None}


def test_a_step_longer_than_the_lease_keeps_its_row(transactional_db):
    """The worker's renewer thread extends the claim while the step runs: past the
    first lease no other worker can take the row."""
    _mail(timezone.now(), "<slow@x>")
    seen = {}

    def slow(now, ctx):
        held = claims.claim_next(Outbox.objects.due(now), now=now, lease=ctx.lease,
                                 name=ctx.name)
        if held is None:
            return False
        first_lease_end = held.claimed_until
        deadline = first_lease_end + timedelta(seconds=30)
        while timezone.now() < first_lease_end + timedelta(milliseconds=500):
            assert timezone.now() < deadline
            threading.Event().wait(0.05)  # the step is busy (an SMTP conversation)
        later = timezone.now()
        seen["claimed_until"] = Outbox.objects.get().claimed_until
        seen["later"] = later
        seen["other"] = claims.claim_next(Outbox.objects.due(later), now=later,
                                          lease=ctx.lease, name="other")
        claims.finish(held, name=ctx.name, now=later, state=State.DONE)
        return True

    worker = Worker(steps=[("slow", slow)], clock=timezone.now, ctx=Context(
        name="slow", lease=timedelta(seconds=1), renew_every=timedelta(milliseconds=100)))
    assert worker.run(once=True) == 0
    assert seen["claimed_until"] > seen["later"]  # renewed past the first lease's end
    assert seen["other"] is None
    assert Outbox.objects.get().state == State.DONE
