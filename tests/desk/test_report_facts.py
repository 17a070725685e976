"""The report from stored facts equals the report from replaying every case (issue 14).

Two independent computations of every figure: ``replay_period`` (replays each
case's event log at ``now``, what the report did before and the simulator still
does) and ``report_from_facts`` (SQL aggregation of the facts
``services.store_sla`` wrote with each change). They must agree on every figure,
on the hand-built July of ``test_reports`` (written by the services one change
at a time) and on a generated year (written by the bulk loader's batches), at
several ``now``s - before some cases' last events, at an event, while clocks
run past their due times, months later - and in several viewers' zones (the
months of the period are the viewer's).
"""

from dataclasses import replace
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db.models import Max

from desk.conftest import NY, UTC, ny
from desk.test_reports import build_july, july_period
from desk_load import check_sample, load
from slpdesk.desk.models import Case, CaseEvent
from slpdesk.reports import compute
from slpdesk.reports.data import Period, replay_period
from slpdesk.reports.facts import fact_rows, narrowing, report_from_facts, selected
from slpdesk.reports.simulate import simulate
from slpdesk.sla import replay

KOLKATA = ZoneInfo("Asia/Kolkata")


def replayed(period: Period, now) -> tuple[compute.Report, list[compute.CaseRow]]:
    (rows,) = replay_period(Case.objects.all(), period, now)
    return compute.build_report(rows, period.tz, period.first, period.last,
                                period.zone_name), rows


def figures(report: compute.Report) -> dict:
    """Every figure the report shows or exports."""
    d = report.as_dict()
    d["monthly"] = {k: b.as_dict() for k, b in sorted(report.monthly.items())}
    d["response_samples"] = {p: sorted(v) for p, v in report.response_samples.items()}
    d["distribution"] = report.distribution()
    d["labels"] = {dim: [(b.key, b.label) for b in bs] for dim, bs in report.dimensions.items()}
    return d


def clock_key(c: compute.Clock, live: bool = True) -> tuple:
    """What the drill-down shows of a clock: its business time when it was measured
    and (``live``) while it runs or is paused."""
    counted = c.measured or (live and c.started is not None and c.stopped is None)
    return (c.outcome, c.measured, c.seconds if counted else None, c.target,
            c.state if c.outcome != "open" else "", c.stopped,
            c.due if c.outcome != "open" else None)


def row_key(r: compute.CaseRow, live: bool = True) -> tuple:
    return (r.id, r.number, r.priority, r.region, r.organisation_id, r.organisation, r.kind,
            r.agent_id, r.agent, r.status, r.escalations, r.updates_owed, r.updates_missed,
            r.updates_on_time, r.error, clock_key(r.response, live),
            clock_key(r.resolution, live))


def assert_same(period: Period, now) -> compute.Report:
    expected, rows = replayed(period, now)
    got = report_from_facts(Case.objects.all(), period, now)
    assert figures(got) == figures(expected)
    # A running clock's business time is counted to ``now``; replay counts a case to its
    # last event when that is later (a report dated before the case's own events).
    live = now >= CaseEvent.objects.aggregate(last=Max("at"))["last"]
    assert [row_key(r, live) for r in fact_rows(Case.objects.all(), period, now)] == \
        [row_key(r, live) for r in rows]
    return got


@pytest.mark.parametrize("now", [
    ny(2026, 7, 20, 12, 0),   # before many cases' last events (replayed at their last)
    ny(2026, 8, 3, 10, 0),    # at E1's reply
    ny(2026, 8, 14, 12, 0),   # the report tests' NOW
    ny(2026, 10, 30, 12, 0),  # every running clock long past due
])
def test_the_july_facts_give_every_figure_the_replay_gives(cast, now):
    build_july(cast)
    for period in (july_period(), july_period(UTC, "UTC", date(2026, 8, 31)),
                   july_period(KOLKATA, "Asia/Kolkata")):
        assert_same(period, now)


def test_the_july_facts_hold_the_hand_worked_figures(cast):
    """The figures test_reports worked out by hand, from the facts."""
    build_july(cast)
    report = report_from_facts(Case.objects.all(), july_period(), ny(2026, 8, 14, 12, 0))
    assert report.cases == 13
    # test_reports: response met C1-C4, H1, D1, E1, E3, F1; breached C5, D2, G1; n/a E2.
    r, s = report.totals.response, report.totals.resolution
    assert (r.met, r.breached, r.not_applicable, r.open) == (9, 3, 1, 0)
    # met C1, C2, C5, D1, F1; breached C3; n/a C4, E2, E3; open H1, D2, E1, G1.
    assert (s.met, s.breached, s.not_applicable, s.open) == (5, 1, 3, 4)


def test_each_figure_selects_the_same_cases_from_the_facts(cast):
    build_july(cast)
    period, now = july_period(), ny(2026, 8, 14, 12, 0)
    _report, rows = replayed(period, now)
    org = str(Case.objects.get(title="Case C1").organisation_id)
    agent = str(Case.objects.get(title="Case D1").assignee_id)
    for criteria in ({"dimension": "priority", "key": "P3", "clock": "response",
                      "outcome": "met"},
                     {"dimension": "organisation", "key": org},
                     {"dimension": "agent", "key": agent},
                     {"dimension": "agent", "key": ""},
                     {"dimension": "escalation", "key": "1"},
                     {"dimension": "kind", "key": "partner", "clock": "updates",
                      "outcome": "owed"},
                     {"dimension": "region", "key": "uk"},
                     {"dimension": "month", "key": "2026-07", "clock": "resolution",
                      "outcome": "open"}):
        narrowed = fact_rows(Case.objects.all(), period, now, narrowing(**criteria))
        expected = [r.number for r in compute.select(rows, NY, **criteria)]
        assert [r.number for r in compute.select(narrowed, NY, **criteria)] == expected, \
            criteria
        # The drill-down's page: selected in SQL, in the order received.
        by_receipt = sorted(compute.select(rows, NY, **criteria),
                            key=lambda r: (r.received_at, r.id))
        assert list(selected(Case.objects.all(), period, now, **criteria)
                    .values_list("number", flat=True)) == [r.number for r in by_receipt], \
            criteria


def test_every_figures_cases_are_selected_in_sql_as_from_the_rows(cast):
    """The drill-down pages in SQL: for every clock and outcome, alone and within each
    group of the report, the cases ``selected`` are those ``compute.select`` picks
    from the replayed rows, in the same order, at several ``now``s."""
    build_july(cast)
    Case.objects.filter(title="Case E1").update(response_outcome="")  # not computed yet
    period = july_period()
    groups = [("", "")] + [(dim, key) for dim, keys in (
        ("priority", ["P1", "P3", "P9"]), ("month", ["2026-07", "2026-06", "July"]),
        ("region", ["uk"]), ("kind", ["partner"]), ("escalation", ["1", "2", "x"]),
        ("agent", ["", str(Case.objects.get(title="Case D1").assignee_id)]),
        ("organisation", [str(Case.objects.get(title="Case C1").organisation_id), "x"]))
        for key in keys]
    outcomes = [("", "")] + [(clock, outcome) for clock, outcomes in compute.SELECTIONS.items()
                             for outcome in outcomes]
    for now in (ny(2026, 7, 31, 12, 0), ny(2026, 8, 14, 12, 0)):
        _report, rows = replayed(period, now)
        rows = [replace(r, error="not computed") if r.title == "Case E1" else r
                for r in rows]
        for dim, key in groups:
            for clock, outcome in outcomes:
                criteria = {"dimension": dim, "key": key, "clock": clock, "outcome": outcome}
                expected = sorted(compute.select(rows, NY, **criteria),
                                  key=lambda r: (r.received_at, r.id))
                got = selected(Case.objects.all(), period, now, **criteria)
                assert list(got.values_list("number", flat=True)) == \
                    [r.number for r in expected], (now, criteria)


def test_running_and_paused_clocks_show_their_business_time_so_far(cast):
    """Worked out by hand (global calendar Mon-Fri 08:00-17:00 at the site, no
    holidays from July 6 to August 14 2026), at NOW, Fri 14 Aug 12:00 New York:

    * C3's resolution runs from Mon 6 Jul 09:00: 8 h that day, 28 weekdays of 9 h
      (Tue 7 Jul - Thu 13 Aug), 4 h on the 14th: 264 h.
    * G1's response runs from Tue 28 Jul 09:00 Chicago: 8 h, 3 + 5 + 4 weekdays of
      9 h, then 08:00-11:00 Chicago on the 14th: 119 h.
    * H1's resolution started Wed 29 Jul 09:00 and is paused since 10:00: 1 h.

    The same as replaying each case at NOW."""
    build_july(cast)
    now = ny(2026, 8, 14, 12, 0)
    period = july_period()
    got = {r.title: r for r in fact_rows(Case.objects.all(), period, now)}
    assert got["Case C3"].resolution.seconds == 264 * 3600
    assert got["Case G1"].response.seconds == 119 * 3600
    assert got["Case H1"].resolution.seconds == 3600
    assert (got["Case C3"].resolution.state, got["Case G1"].response.state,
            got["Case H1"].resolution.state) == ("breached", "breached", "paused")
    _report, rows = replayed(period, now)
    for row in rows:
        for clock in ("response", "resolution"):
            mine, theirs = got[row.title].clock(clock), row.clock(clock)
            if theirs.started is not None and theirs.stopped is None:
                assert (mine.seconds, mine.started) == (theirs.seconds, theirs.started), \
                    (row.title, clock)


def test_a_case_without_facts_is_listed_not_counted(cast):
    build_july(cast)
    case = Case.objects.get(title="Case C1")
    Case.objects.filter(pk=case.pk).update(response_outcome="")
    report = report_from_facts(Case.objects.all(), july_period(), ny(2026, 8, 14, 12, 0))
    assert report.cases == 12
    assert [n for n, _ in report.errors] == [case.number]


def test_a_generated_year_gives_every_figure_the_replay_gives(db):
    now = ny(2026, 11, 20, 15, 7)
    counts = load(1500, now, seed=7)
    assert counts["cases"] == 1500
    assert check_sample(now, size=100) == []
    year = Period(date(2025, 11, 1), date(2026, 11, 30), UTC, "UTC")
    for later in (timedelta(0), timedelta(hours=5), timedelta(days=2), timedelta(days=90)):
        report = assert_same(year, now + later)
        assert report.cases == 1500 and report.errors == []
    assert_same(Period(date(2026, 1, 1), date(2026, 6, 30), NY, "America/New_York"), now)
    assert_same(Period(date(2025, 12, 1), date(2026, 11, 30), KOLKATA, "Asia/Kolkata"), now)


@pytest.mark.django_db(transaction=True)
def test_the_simulator_replays_on_several_processes_exactly_as_on_one(monkeypatch):
    """Committed data other processes can read: the forked replay gives the same rows
    in the same order (on an in-memory SQLite test database it cannot fork)."""
    from django.db import connection

    from slpdesk.reports import data
    from slpdesk.sla import policy_from_text, shipped_policy_text

    now = ny(2026, 11, 20, 15, 7)
    load(400, now, seed=3, facts=False)
    year = Period(date(2025, 11, 1), date(2026, 11, 30), UTC, "UTC")
    draft = policy_from_text(shipped_policy_text().replace('response = "24h"', 'response = "12h"'))
    monkeypatch.setattr(data, "PARALLEL_FROM", 1)
    forks = data._can_fork(Case.objects.all())
    assert forks == (connection.vendor != "sqlite" or not connection.is_in_memory_db())
    one = data.replay_period(Case.objects.all(), year, now, (None, draft))
    several = data.replay_period_parallel(Case.objects.all(), year, now, (None, draft),
                                          processes=2)
    assert [[row_key(r) for r in rows] for rows in several] == \
        [[row_key(r) for r in rows] for rows in one]
    assert len(one[0]) == 400
    # The simulator: each process tallies and compares its chunk; merged in case order,
    # every figure and every change as in one process.
    serial = simulate(Case.objects.all(), year, draft, now, processes=1)
    parallel = simulate(Case.objects.all(), year, draft, now, processes=2)
    assert parallel.as_dict() == serial.as_dict()
    assert figures(parallel.current) == figures(serial.current)
    assert figures(parallel.proposed) == figures(serial.proposed)
    assert serial.current.cases == 400 and serial.changes  # the draft changes some cases


def test_chunks_tallied_apart_and_merged_are_the_tally_of_all(db):
    """What the simulator's processes do, without forking (so on every engine): the
    year's rows cut into chunks of consecutive cases, each tallied and compared
    alone, then merged in order - the same figures, samples in the same order, the
    same changes, as the rows taken in one pass."""
    from slpdesk.reports.simulate import _fold, merge_parts
    from slpdesk.sla import policy_from_text, shipped_policy_text

    now = ny(2026, 11, 20, 15, 7)
    load(300, now, seed=11)
    year = Period(date(2025, 11, 1), date(2026, 11, 30), NY, "America/New_York")
    draft = policy_from_text(shipped_policy_text().replace('response = "24h"', 'response = "6h"'))
    current, proposed = replay_period(Case.objects.all(), year, now, (None, draft))
    whole = merge_parts(draft, year, [_fold(year, [current, proposed])])
    expected = compute.build_report(current, year.tz, year.first, year.last, year.zone_name)
    assert figures(whole.current) == figures(expected)
    assert [c.current.id for c in whole.changes] == \
        [c.current.id for c in compute.compare(current, proposed)]
    for cuts in ([0, 1, 299, 300], [0, 37, 150, 151, 260, 300], [0, 300]):
        parts = [_fold(year, [current[a:b], proposed[a:b]])
                 for a, b in zip(cuts, cuts[1:], strict=False)]
        merged = merge_parts(draft, year, parts)
        assert figures(merged.current) == figures(whole.current), cuts
        assert figures(merged.proposed) == figures(whole.proposed), cuts
        assert merged.current.response_samples == whole.current.response_samples, cuts
        assert merged.as_dict() == whole.as_dict(), cuts


def test_a_draft_row_taken_from_the_own_replay_is_the_draft_replay(db):
    """The simulator reuses a case's own row under a draft that replays it alike
    (same calendar, fraction and targets for every priority its events name): for
    every case of a generated year - DST changes, holidays, waits on the customer,
    reopenings, priority changes - the draft's rows replayed beside the own
    version equal the draft replayed alone (no reuse), for drafts that change one
    priority's target, a calendar's hours, the at-risk fraction, or nothing."""
    from slpdesk.sla import policy_from_text, shipped_policy_text

    now = ny(2026, 11, 20, 15, 7)
    load(600, now, seed=5, facts=False)
    types = set(CaseEvent.objects.values_list("type", flat=True))
    assert {"reopened", "priority_assigned", "info_requested", "customer_replied",
            "excluded"} <= types
    text = shipped_policy_text()
    drafts = [text, text.replace('response = "24h"', 'response = "12h"'),
              text.replace('at_risk_fraction = 0.25', 'at_risk_fraction = 0.3'),
              text.replace('"09:00-17:00"', '"09:00-16:00"')]
    assert len({*drafts}) == 4  # each replacement changed the text
    year = Period(date(2025, 11, 1), date(2026, 11, 30), NY, "America/New_York")
    reused = []
    for later in (timedelta(0), timedelta(days=3)):
        for draft_text in drafts:
            draft = policy_from_text(draft_text)
            own, beside = replay_period(Case.objects.all(), year, now + later, (None, draft))
            (alone,) = replay_period(Case.objects.all(), year, now + later, (draft,))
            assert len(alone) == 600
            assert [row_key(r) for r in beside] == [row_key(r) for r in alone]
            assert beside == alone
            reused.append(sum(a is b for a, b in zip(own, beside, strict=True)))
    # The response clock alone is replay's response clock, for every case and
    # priority change (a draft with other response targets: P1 30m, P3 12h).
    from slpdesk.desk.models import CalendarClosure
    from slpdesk.desk.services import cases_sla_events
    from slpdesk.sla import ReplayError, replay, response_clock

    draft = policy_from_text(drafts[1].replace('response = "2h"', 'response = "30m"'))
    checked = 0
    for case_id, events in cases_sla_events(Case.objects.values_list("id", flat=True)).items():
        case = Case.objects.get(pk=case_id)
        calendar = CalendarClosure.compiled(draft, case.calendar, case.time_zone)
        at = max(now, events[-1].at)
        try:
            whole = replay(events, draft, calendar, at, calendar_name=case.calendar)
        except ReplayError:
            continue
        assert response_clock(events, draft, calendar, at, case.calendar) == whole.response
        checked += 1
    assert checked > 550
    # Nothing reused under another fraction; some cases (not all) under the others.
    assert reused[2] == reused[6] == 0
    assert all(0 < reused[k] < 600 for k in (1, 3, 5, 7)), reused
    assert reused[0] == reused[4] == 600 - sum(r.error != "" for r in own)


def test_the_simulator_from_the_stored_facts_equals_the_simulator_replaying_both(db,
                                                                            monkeypatch):
    """The simulator's current column comes from the stored facts (replayed only where
    they are not computed) and the draft column reuses them where the draft cannot
    change a case: every figure of both columns and every change equal those of
    replaying every case under both, for drafts that change one priority's target,
    a calendar's hours, the at-risk fraction or nothing, at several ``now``s
    (the last events', days and months later)."""
    from slpdesk.reports.simulate import _fold, merge_parts
    from slpdesk.sla import policy_from_text, shipped_policy_text

    now = ny(2026, 11, 20, 15, 7)
    load(500, now, seed=19)
    Case.objects.filter(pk__in=Case.objects.order_by("pk").values("pk")[:7]).update(
        response_outcome="")  # facts not computed yet: these are replayed
    text = shipped_policy_text()
    drafts = [text, text.replace('response = "24h"', 'response = "12h"'),
              text.replace('at_risk_fraction = 0.25', 'at_risk_fraction = 0.3'),
              text.replace('"09:00-17:00"', '"09:00-16:00"')]
    assert len({*drafts}) == 4
    year = Period(date(2025, 11, 1), date(2026, 11, 30), NY, "America/New_York")
    changed = 0
    for later in (timedelta(0), timedelta(days=3), timedelta(days=90)):
        for draft_text in drafts:
            draft = policy_from_text(draft_text)
            runs = [merge_parts(draft, year, [_fold(year, replay_period(
                Case.objects.all(), year, now + later, (None, draft), facts=facts))])
                for facts in (False, True)]
            replaying, from_facts = runs
            assert figures(from_facts.current) == figures(replaying.current)
            assert figures(from_facts.proposed) == figures(replaying.proposed)
            assert from_facts.as_dict() == replaying.as_dict()
            assert from_facts.current.cases == 500 and from_facts.current.errors == []
            changed += len(from_facts.changes)
    assert changed  # some drafts change some cases
    # And the facts were used: under a draft that changes nothing, only the seven
    # cases without facts are replayed.
    from slpdesk.reports import data

    replays = []
    monkeypatch.setattr(data, "replay", lambda *a, **k: replays.append(1) or replay(*a, **k))
    replay_period(Case.objects.all(), year, now, (None, policy_from_text(text)), facts=True)
    assert len(replays) == 7
