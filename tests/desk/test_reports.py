"""Every figure of the compliance report on a hand-built July 2026, with the right
answers worked out here; month bucketing in the viewer's zone; the what-if
simulator; and the pure helpers (percentiles, bins, comparisons).

The data set (:func:`build_july`) is thirteen cases received in July 2026, made
through the services with explicit times, and the report is taken at
:data:`NOW`, Friday 14 August 2026 12:00 in New York. The global calendar is
Mon-Fri 08:00-17:00 at the site (Hartford: New York time); the UK calendar
Mon-Fri 09:00-17:00 UTC. Targets (response / resolution / update interval):
P1 2 h / 8 h / 2 h, P2 8 h / 24 h / 8 h, P3 24 h / 48 h / 24 h, P4 48 h / 90 h
(10 business days of 9 h) / 48 h.

===== ====== ======================================================================
case  prio   story (business time worked out by hand)
===== ====== ======================================================================
C1    P3     Acme; received Mon 6 Jul 09:00, triaged then (information complete),
             assigned to Sam. Reply Mon 10:00: response 1 h, met. Resolved Tue 7 Jul
             12:00: resolution 8 + 4 = 12 h, met. The update interval from Mon 10:00
             (11 h used) ended on time by the resolution: 1 owed, 0 missed.
C2    P3     Same start, Sam. Reply Mon 13:00: 4 h, met. Resolved Wed 8 Jul 17:00:
             8 + 9 + 9 = 26 h, met. Update interval Mon 13:00 → Wed 17:00 = 22 h, on
             time: 1 owed.
C3    P3     Same start. Reply Tue 7 Jul 09:00: 8 + 1 = 9 h, met. Never resolved: the
             48 h were up Mon 13 Jul 12:00, so breached (still running, not
             measured). The update owed from Tue 09:00 is overdue: 1 owed, 1 missed.
C4    P3     Same start. Reply Wed 8 Jul 11:00: 8 + 9 + 3 = 20 h, met (breached
             under a 12 h draft: the one case the simulator must flip). Classified
             a bug Wed 12:00 (resolution not applicable), resolved Thu 9 Jul 10:00:
             the update interval from Wed 11:00 ended after 8 h: 1 owed.
C5    P3     Same start. Reply Thu 9 Jul 12:00: 8 + 9 + 9 + 4 = 30 h, breached.
             Escalated (level 1, by Sam) Thu 13:00, not acknowledged. Resolved Thu
             15:00: 8 + 9 + 9 + 7 = 33 h, met. Update from 12:00 on time: 1 owed.
H1    P3     Acme; received Wed 29 Jul 09:00, triaged then; asks for information Wed
             10:00: response 1 h, met; resolution paused (no verdict); no update owed.
D1    P1     Brit Mill (UK calendar); received Tue 14 Jul 10:00 UTC, triaged then,
             assigned to Ann. Reply 11:30: 1.5 h, met. Resolved Wed 15 Jul 10:00
             UTC, exactly the 8 h deadline: met (28,800 s). The 2 h update owed from
             Tue 11:30 came late (at the resolution): 1 owed, 1 missed.
D2    P1     Acme; received Mon 13 Jul 16:30 (proposed P1, never triaged). Reply Tue
             14 Jul 10:30: 0.5 + 2.5 = 3 h, breached. Resolution never started: no
             verdict. Update owed from 10:30, overdue: 1 owed, 1 missed.
E1    P2     Acme; received Fri 31 Jul 23:30 New York time (Sat 1 Aug 05:30 in
             Stockholm). Reply Mon 3 Aug 10:00: 2 h, met. Not triaged: resolution no
             verdict. Update owed from Mon 10:00 overdue: 1 owed, 1 missed.
E2    P2     Noagree (no agreement since 2025): received Wed 15 Jul 10:00, closed at
             intake as not entitled: response and resolution not applicable.
E3    P2     Acme; received Thu 16 Jul 09:00, triaged then; reply 11:00: 2 h, met;
             excluded (services) at 12:00: resolution not applicable; the update
             interval was not yet due: nothing owed.
F1    P4     Acme; received Mon 20 Jul 09:00, triaged then. Asks for information Mon
             11:00: response 2 h, met; resolution paused. Alice escalates Tue 21 Jul
             10:00 (level 1, acknowledged by Sue 11:00), answers Wed 22 Jul 11:00,
             escalates again Wed 12:00 (level 2, not acknowledged). Status update Thu
             23 Jul 11:00 (9 h after the answer, on time); resolved Fri 24 Jul 17:00
             (15 h after the update, on time): 2 owed. Resolution 2 + 6 + 9 + 9 =
             26 h, met.
G1    P4     Partnerco (a channel partner; Chicago time), received Tue 28 Jul 09:00;
             nobody answered: the 48 h were up Tue 4 Aug 12:00, breached (running);
             resolution no verdict.
Z1    P3     Acme, received Mon 29 Jun 10:00: before the period, counted nowhere.
===== ====== ======================================================================
"""

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from desk.conftest import NY, UTC, _site, _user, ny
from slpdesk.desk import services
from slpdesk.desk.models import Case, Escalation, Organisation, User
from slpdesk.reports import compute
from slpdesk.reports.compute import CaseRow, Clock, percentile
from slpdesk.reports.data import Period, replay_period, update_figures
from slpdesk.reports.simulate import parse_draft, simulate
from slpdesk.sla import Event, calendar_for, load_policy, replay, shipped_policy_text

STOCKHOLM = ZoneInfo("Europe/Stockholm")
NOW = ny(2026, 8, 14, 12, 0)
H = 3600


@dataclass
class July:
    cases: dict[str, Case]
    sam: User
    ann: User
    sue: User
    partnerco: Organisation

    def number(self, *names: str) -> list[str]:
        return sorted(self.cases[n].number for n in names)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def build_july(cast) -> July:
    sam = cast.sam
    ann = User.objects.create_user("ann", "ann@vendor.example", "pw", role=User.Role.AGENT,
                                   first_name="Ann", last_name="Agent")
    sue = User.objects.create_user("sue", "sue@vendor.example", "pw",
                                   role=User.Role.SUPERVISOR)
    partnerco = Organisation.objects.get(name="Partnerco")
    chicago = _site(partnerco, "Chicago", "US", "America/Chicago")
    pat = _user("pat", partnerco)
    cases: dict[str, Case] = {}

    def receive(name, site, contact, priority, at):
        cases[name] = services.receive_case(
            site, contact=contact, channel=Case.Channel.PORTAL, proposed_priority=priority,
            title=f"Case {name}", release=cast.r2026, actor=contact, now=at)
        return cases[name]

    def triage(case, priority, at):
        services.assign_priority(case, priority, information_complete=True, actor=sam, now=at)

    # First: the shipped policy version is stored at the first case's receipt.
    receive("Z1", cast.hartford, cast.alice, "P3", ny(2026, 6, 29, 10, 0))
    mon = ny(2026, 7, 6, 9, 0)
    for name in ("C1", "C2", "C3", "C4", "C5"):
        c = receive(name, cast.hartford, cast.alice, "P3", mon)
        triage(c, "P3", mon)
    services.assign(cases["C1"], sam, actor=sam, now=mon)
    services.assign(cases["C2"], sam, actor=sam, now=mon)
    services.reply(cases["C1"], "On it.", actor=sam, now=ny(2026, 7, 6, 10, 0))
    services.resolve(cases["C1"], "fixed", "Fixed.", actor=sam, now=ny(2026, 7, 7, 12, 0))
    services.reply(cases["C2"], "On it.", actor=sam, now=ny(2026, 7, 6, 13, 0))
    services.resolve(cases["C2"], "fixed", "Fixed.", actor=sam, now=ny(2026, 7, 8, 17, 0))
    services.reply(cases["C3"], "On it.", actor=sam, now=ny(2026, 7, 7, 9, 0))
    services.reply(cases["C4"], "On it.", actor=sam, now=ny(2026, 7, 8, 11, 0))
    services.classify(cases["C4"], "bug", "BUG-4", actor=sam, now=ny(2026, 7, 8, 12, 0))
    services.resolve(cases["C4"], "timeline", "In 2026.1.", actor=sam,
                     now=ny(2026, 7, 9, 10, 0))
    services.reply(cases["C5"], "On it.", actor=sam, now=ny(2026, 7, 9, 12, 0))
    services.escalate(cases["C5"], "Slow.", channel=Escalation.Channel.SUPPORT, actor=sam,
                      now=ny(2026, 7, 9, 13, 0))
    services.resolve(cases["C5"], "fixed", "Fixed.", actor=sam, now=ny(2026, 7, 9, 15, 0))

    h1 = receive("H1", cast.hartford, cast.alice, "P3", ny(2026, 7, 29, 9, 0))
    triage(h1, "P3", ny(2026, 7, 29, 9, 0))
    services.request_information(h1, "Which post?", actor=sam, now=ny(2026, 7, 29, 10, 0))

    d1 = receive("D1", cast.sheffield, cast.bea, "P1", utc(2026, 7, 14, 10, 0))
    triage(d1, "P1", utc(2026, 7, 14, 10, 0))
    services.assign(d1, ann, actor=sam, now=utc(2026, 7, 14, 10, 0))
    services.reply(d1, "On it.", actor=ann, now=utc(2026, 7, 14, 11, 30))
    services.resolve(d1, "fixed", "Fixed.", actor=ann, now=utc(2026, 7, 15, 10, 0))

    d2 = receive("D2", cast.hartford, cast.alice, "P1", ny(2026, 7, 13, 16, 30))
    services.reply(d2, "Looking.", actor=sam, now=ny(2026, 7, 14, 10, 30))

    e1 = receive("E1", cast.hartford, cast.alice, "P2", ny(2026, 7, 31, 23, 30))
    services.reply(e1, "Looking.", actor=sam, now=ny(2026, 8, 3, 10, 0))
    receive("E2", cast.noagree_site, cast.nora, "P2", ny(2026, 7, 15, 10, 0))
    e3 = receive("E3", cast.hartford, cast.alice, "P2", ny(2026, 7, 16, 9, 0))
    triage(e3, "P2", ny(2026, 7, 16, 9, 0))
    services.reply(e3, "Looking.", actor=sam, now=ny(2026, 7, 16, 11, 0))
    services.exclude(e3, "services", actor=sam, now=ny(2026, 7, 16, 12, 0))

    f1 = receive("F1", cast.hartford, cast.alice, "P4", ny(2026, 7, 20, 9, 0))
    triage(f1, "P4", ny(2026, 7, 20, 9, 0))
    services.request_information(f1, "Logs?", actor=sam, now=ny(2026, 7, 20, 11, 0))
    first = services.escalate(f1, "Nothing happens.", channel=Escalation.Channel.PORTAL,
                              actor=cast.alice, now=ny(2026, 7, 21, 10, 0))
    services.acknowledge_escalation(first, actor=sue, now=ny(2026, 7, 21, 11, 0))
    services.record_customer_reply(f1, "Here.", actor=cast.alice, now=ny(2026, 7, 22, 11, 0))
    services.escalate(f1, "Still nothing.", channel=Escalation.Channel.PORTAL,
                      actor=cast.alice, now=ny(2026, 7, 22, 12, 0))
    services.reply(f1, "Progress.", actor=sam, now=ny(2026, 7, 23, 11, 0))
    services.resolve(f1, "fixed", "Fixed.", actor=sam, now=ny(2026, 7, 24, 17, 0))

    receive("G1", chicago, pat, "P4", datetime(2026, 7, 28, 9, 0,
                                               tzinfo=ZoneInfo("America/Chicago")))
    return July(cases=cases, sam=sam, ann=ann, sue=sue, partnerco=partnerco)


@pytest.fixture
def july(cast) -> July:
    return build_july(cast)


def july_period(tz=NY, zone="America/New_York", last=date(2026, 7, 31)) -> Period:
    return Period(date(2026, 7, 1), last, tz, zone)


def rows_of(period=None, now=NOW) -> list[CaseRow]:
    (rows,) = replay_period(Case.objects.all(), period or july_period(), now)
    return rows


def report_of(period=None, now=NOW) -> compute.Report:
    period = period or july_period()
    return compute.build_report(rows_of(period, now), period.tz, period.first, period.last,
                                period.zone_name)


def counts(c: compute.Counts) -> tuple:
    return (c.met, c.breached, c.not_applicable, c.open)


def bucket(report, dim, key) -> compute.Bucket:
    return next(b for b in report.dimensions[dim] if b.key == key)


def numbers(rows) -> list[str]:
    return sorted(r.number for r in rows)


# ------------------------------------------------------------------- figures
def test_it_counts_the_period_in_the_viewers_zone(july):
    rows = rows_of()
    assert numbers(rows) == july.number("C1", "C2", "C3", "C4", "C5", "H1", "D1", "D2", "E1",
                                        "E2", "E3", "F1", "G1")
    assert not [r for r in rows if r.error]


def test_it_counts_met_breached_not_applicable_and_open_over_all_cases(july):
    report = report_of()
    assert report.cases == 13
    t = report.totals
    # met: C1-C4, H1, D1, E1, E3, F1; breached: C5, D2, G1; n/a: E2.
    assert counts(t.response) == (9, 3, 1, 0)
    # met: C1, C2, C5, D1, F1; breached: C3; n/a: C4, E2, E3; open: H1, D2, E1, G1.
    assert counts(t.resolution) == (5, 1, 3, 4)
    assert t.response.pct("met") == pytest.approx(100 * 9 / 13)
    assert t.response.pct("not_applicable") == pytest.approx(100 / 13)
    assert t.response.compliance == pytest.approx(75.0)  # 9 of 12 verdicts
    assert t.resolution.compliance == pytest.approx(100 * 5 / 6)
    assert round(t.resolution.pct("open"), 1) == 30.8  # 4 of 13
    d = t.as_dict()
    assert d["response"]["percent"]["met"] == 69.2 and d["resolution"]["compliance"] == 83.3


def test_it_counts_by_priority(july):
    report = report_of()
    assert report.priorities == ["P1", "P2", "P3", "P4"]
    expected = {
        "P1": (2, (1, 1, 0, 0), (1, 0, 0, 1)),  # D1, D2
        "P2": (3, (2, 0, 1, 0), (0, 0, 2, 1)),  # E1, E2, E3
        "P3": (6, (5, 1, 0, 0), (3, 1, 1, 1)),  # C1-C5, H1
        "P4": (2, (1, 1, 0, 0), (1, 0, 0, 1)),  # F1, G1
    }
    for key, (n, response, resolution) in expected.items():
        b = bucket(report, "priority", key)
        assert (b.cases, counts(b.response), counts(b.resolution)) == (n, response,
                                                                         resolution), key
    assert bucket(report, "priority", "P3").response.compliance == pytest.approx(100 * 5 / 6)
    assert bucket(report, "priority", "P2").resolution.compliance is None  # no verdict


def test_it_counts_by_region_organisation_kind_and_agent(july, cast):
    report = report_of()
    uk = bucket(report, "region", "uk")
    assert (uk.cases, counts(uk.response), counts(uk.resolution)) == (1, (1, 0, 0, 0),
                                                                        (1, 0, 0, 0))
    assert bucket(report, "region", "global").cases == 12

    orgs = {b.label: b.cases for b in report.dimensions["organisation"]}
    assert orgs == {"Acme Tooling": 10, "Brit Mill": 1, "Noagree Inc": 1, "Partnerco": 1}
    acme = bucket(report, "organisation", str(cast.acme.pk))
    # Acme: C1-C5, H1, D2, E1, E3, F1.
    assert counts(acme.response) == (8, 2, 0, 0)
    assert counts(acme.resolution) == (4, 1, 2, 3)

    kinds = {b.key: b.cases for b in report.dimensions["kind"]}
    assert kinds == {"customer": 12, "channel_partner": 1}
    partner = bucket(report, "kind", "channel_partner")
    assert counts(partner.response) == (0, 1, 0, 0)  # G1

    agents = {b.key: (b.label, b.cases) for b in report.dimensions["agent"]}
    # Named by their full name, or their user name without one; "" is unassigned.
    assert agents == {str(july.sam.pk): ("sam", 2), str(july.ann.pk): ("Ann Agent", 1),
                      "": ("", 10)}
    assert counts(bucket(report, "agent", str(july.ann.pk)).resolution) == (1, 0, 0, 0)


def test_its_medians_and_90th_percentiles_are_worked_out_by_hand(july):
    times = {t.priority: t for t in report_of().times}
    # P1 responses 1.5 h (D1) and 3 h (D2): median 2.25 h; p90 1.5 + 0.9 * 1.5 = 2.85 h.
    assert (times["P1"].response.n, times["P1"].response.median,
            times["P1"].response.p90) == (2, 8100, 10260)
    assert (times["P1"].resolution.median, times["P1"].resolution.p90) == (28800, 28800)
    assert times["P1"].response.target == 2 * H
    # P2: two responses of 2 h; no resolution stopped with a verdict.
    assert (times["P2"].response.median, times["P2"].response.p90) == (2 * H, 2 * H)
    assert (times["P2"].resolution.n, times["P2"].resolution.median) == (0, None)
    # P3 responses 1, 1, 4, 9, 20, 30 h: median (4 + 9) / 2 = 6.5 h; p90 at rank 4.5:
    # 20 + 0.5 * (30 - 20) = 25 h.
    assert (times["P3"].response.n, times["P3"].response.median,
            times["P3"].response.p90) == (6, 6.5 * H, 25 * H)
    # P3 resolutions 12, 26, 33 h (C3 is breached but still running, C4 a bug):
    # median 26 h; p90 at rank 1.8: 26 + 0.8 * 7 = 31.6 h.
    assert (times["P3"].resolution.n, times["P3"].resolution.median,
            times["P3"].resolution.p90) == (3, 26 * H, round(31.6 * H))
    assert times["P3"].resolution.target == 48 * H
    # P4: F1 only (G1's response is breached and still running: not measured).
    assert (times["P4"].response.n, times["P4"].response.median) == (1, 2 * H)
    assert (times["P4"].resolution.median, times["P4"].resolution.target) == (26 * H, 90 * H)


def test_it_counts_status_updates_owed_and_given_on_time(july):
    report = report_of()
    by = {u.key: (u.owed, u.on_time, u.missed) for u in report.updates}
    assert by == {"P1": (2, 0, 2), "P2": (1, 0, 1), "P3": (5, 4, 1), "P4": (2, 2, 0),
                  "": (10, 6, 4)}
    assert report.update_total().on_time_pct == pytest.approx(60.0)
    rows = {r.number: r for r in rows_of()}
    c = july.cases
    assert (rows[c["C3"].number].updates_owed, rows[c["C3"].number].updates_missed) == (1, 1)
    assert (rows[c["F1"].number].updates_owed, rows[c["F1"].number].updates_missed) == (2, 0)
    assert rows[c["E3"].number].updates_owed == 0  # excluded before it was due
    assert rows[c["H1"].number].updates_owed == 0  # waiting on the customer


def test_it_counts_escalations_by_level(july):
    levels = {e.level: (e.escalations, e.acknowledged, e.cases)
              for e in report_of().escalations}
    assert levels == {1: (2, 1, 2), 2: (1, 0, 1)}


def test_months_are_taken_in_the_viewers_zone(july):
    e1 = july.cases["E1"].number  # received Fri 31 Jul 23:30 New York = Sat 1 Aug Stockholm
    period_ny = Period(date(2026, 7, 1), date(2026, 8, 31), NY, "America/New_York")
    report = report_of(period_ny)
    assert {b.key: b.cases for b in report.dimensions["month"]} == {"2026-07": 13,
                                                                    "2026-08": 0}
    period_se = Period(date(2026, 7, 1), date(2026, 8, 31), STOCKHOLM, "Europe/Stockholm")
    rows = rows_of(period_se)
    report = compute.build_report(rows, STOCKHOLM, period_se.first, period_se.last)
    assert {b.key: b.cases for b in report.dimensions["month"]} == {"2026-07": 12,
                                                                    "2026-08": 1}
    assert numbers(compute.select(rows, STOCKHOLM, dimension="month", key="2026-08")) == [e1]
    # A July report for a Stockholm viewer does not have it at all.
    assert e1 not in numbers(rows_of(july_period(STOCKHOLM, "Europe/Stockholm")))
    assert e1 in numbers(rows_of(july_period()))


def test_each_figure_selects_the_cases_behind_it(july):
    rows = rows_of()
    c = july.cases

    def sel(**kw):
        return numbers(compute.select(rows, NY, **kw))

    assert sel(clock="response", outcome="breached") == july.number("C5", "D2", "G1")
    assert sel(dimension="priority", key="P3", clock="resolution",
               outcome="open") == july.number("H1")
    assert sel(dimension="priority", key="P3", clock="response",
               outcome="measured") == july.number("C1", "C2", "C3", "C4", "C5", "H1")
    assert sel(dimension="region", key="uk") == july.number("D1")
    assert sel(dimension="agent", key="") == july.number("C3", "C4", "C5", "H1", "D2", "E1",
                                                         "E2", "E3", "F1", "G1")
    assert sel(dimension="escalation", key="2") == july.number("F1")
    assert sel(dimension="escalation", key="1") == july.number("C5", "F1")
    assert sel(clock="updates", outcome="missed") == july.number("C3", "D1", "D2", "E1")
    assert sel(dimension="kind", key="channel_partner", clock="resolution",
               outcome="open") == july.number("G1")
    assert c["Z1"].number not in sel()


def test_the_replayed_clocks_agree_with_the_desk(july):
    """The report replays like services.sla_state: same verdicts as the stored columns
    for cases whose clocks have stopped."""
    rows = {r.id: r for r in rows_of()}
    for name in ("C1", "C2", "C4", "C5", "D1", "E3", "F1"):
        case = Case.objects.get(pk=july.cases[name].pk)
        row = rows[case.pk]
        assert (row.response.state, row.resolution.state) == (case.response_state,
                                                              case.resolution_state), name


# ----------------------------------------------------------------- simulator
def halved_p3_response() -> str:
    text = shipped_policy_text().replace('version = "1"', 'version = "2-draft"')
    p3 = text.index("[priorities.P3]")
    return text[:p3] + text[p3:].replace('response = "24h"', 'response = "12h"', 1)


def test_a_draft_halving_p3_response_flips_exactly_the_known_case(july):
    draft = parse_draft(halved_p3_response())
    result = simulate(Case.objects.all(), july_period(), draft, NOW)
    assert [c.current.number for c in result.changes] == july.number("C4")
    change = result.changes[0]
    assert (change.current.response.outcome, change.draft.response.outcome) == ("met",
                                                                                 "breached")
    assert change.clocks == ["response"]
    # The 12 h were up Tue 7 Jul 12:00 (8 h on Monday from 09:00, 4 h on Tuesday).
    assert change.draft.response.due == ny(2026, 7, 7, 12, 0)
    assert counts(result.current.totals.response) == (9, 3, 1, 0)
    assert counts(result.proposed.totals.response) == (8, 4, 1, 0)
    assert result.current.as_dict()["totals"] == report_of().as_dict()["totals"]
    assert result.as_dict()["changed_cases"][0]["changed"] == ["response"]


def test_the_shipped_policy_as_a_draft_changes_nothing(july):
    result = simulate(Case.objects.all(), july_period(), load_policy(), NOW)
    assert result.changes == []


def test_a_draft_with_new_calendars_moves_cases_to_them(july):
    """A draft that puts the US on a 24x7 calendar: Acme's P1 D2 (3 h response over a
    night) is now 17 h 30 min of business time: still breached; the 20 h of C4 on the
    global calendar are 50 h round the clock: breached."""
    text = halved_p3_response()
    text = text.replace('[[calendar_rules]]\ncountries = ["GB"]',
                        '[[calendar_rules]]\ncountries = ["US"]\ncalendar = "always"\n\n'
                        '[[calendar_rules]]\ncountries = ["GB"]', 1)
    text += ('\n[calendars.always]\nname = { en = "Always", sv = "Alltid" }\nzone = "site"\n'
             'hours = { mon = ["00:00-24:00"], tue = ["00:00-24:00"], wed = ["00:00-24:00"], '
             'thu = ["00:00-24:00"], fri = ["00:00-24:00"], sat = ["00:00-24:00"], '
             'sun = ["00:00-24:00"] }\n')
    result = simulate(Case.objects.all(), july_period(), parse_draft(text), NOW)
    rows = {c.current.number: c for c in result.changes}
    d2 = july.cases["D2"].number
    assert d2 not in rows  # breached either way
    assert july.cases["C4"].number in rows
    assert result.proposed.dimensions["region"][0].key == "always"
    (draft_rows,) = replay_period(Case.objects.all(), july_period(), NOW,
                                  [parse_draft(text)])
    d2_row = next(r for r in draft_rows if r.number == d2)
    assert (d2_row.region, d2_row.response.seconds) == ("always", 18 * H)


def test_a_draft_that_cannot_replay_a_case_lists_it(july):
    text = halved_p3_response()
    start = text.index("[priorities.P4]")
    end = text.index("# ----------------------------------------------------------------- "
                     "calendars")
    draft = parse_draft(text[:start] + text[end:])
    result = simulate(Case.objects.all(), july_period(), draft, NOW)
    failed = sorted(c.current.number for c in result.changes if "replay" in c.clocks)
    assert failed == july.number("F1", "G1")
    assert "P4" in result.proposed.errors[0][1]
    assert result.proposed.cases == 11


# -------------------------------------------------------------- pure helpers
def test_percentiles_interpolate_between_sorted_values():
    assert percentile([], 0.5) is None
    assert percentile([7], 0.9) == 7
    assert percentile([30, 10, 20], 0.5) == 20
    assert percentile([1, 2, 3, 4], 0.5) == 2.5
    assert percentile([10, 20, 30, 40, 50], 0.9) == pytest.approx(46.0)


def test_response_times_fall_in_bins_of_the_target():
    assert [compute._bin(x) for x in (0, 0.25, 0.26, 1.0, 1.01, 2.0, 2.01, 9)] == [
        0, 0, 1, 3, 4, 5, 6, 6]


def _row(n, **kw) -> CaseRow:
    base = dict(id=n, number=f"SLP-{n:06d}", title="t", received_at=utc(2026, 7, 1, 12),
                time_zone="UTC", priority="P3", region="global", organisation_id=1,
                organisation="Acme", kind="customer", agent_id=None, agent="", status="open",
                response=Clock("met", 3600, 86400), resolution=Clock("running"))
    return CaseRow(**{**base, **kw})


def test_compare_lists_cases_whose_verdicts_or_missed_updates_differ():
    current = [_row(1), _row(2), _row(3, updates_missed=1), _row(4)]
    draft = [_row(1), _row(2, response=Clock("breached", 3600, 1800)),
             _row(3, updates_missed=2), _row(4, resolution=Clock("at_risk"))]
    changes = compute.compare(current, draft)
    assert [(c.current.id, c.clocks) for c in changes] == [(2, ["response"]),
                                                          (3, ["updates"])]


def test_an_empty_period_has_no_figures(db):
    period = july_period()
    report = compute.build_report([], period.tz, period.first, period.last)
    assert report.cases == 0 and report.totals.response.compliance is None
    assert report.times == [] and report.update_total().owed == 0
    assert [b.key for b in report.dimensions["month"]] == ["2026-07"]
    assert replay_period(Case.objects.all(), period, NOW) == [[]]


def test_update_figures_follow_replays_update_clock(july):
    """Owed minus missed never goes negative, and missed matches replay, on a log with
    a wait, a reopening and an exclusion."""
    policy = load_policy()
    cal = calendar_for(policy, "global", "America/New_York")
    t = ny
    events = [
        Event(t(2026, 7, 6, 9), "received", "P1"),
        Event(t(2026, 7, 6, 9), "priority_assigned", "P1"),
        Event(t(2026, 7, 6, 9), "info_complete"),
        Event(t(2026, 7, 6, 10), "responded"),          # first contact
        Event(t(2026, 7, 6, 11), "status_update"),      # 1 h: on time
        Event(t(2026, 7, 6, 12), "info_requested"),     # 1 h: on time; now waiting
        Event(t(2026, 7, 7, 12), "customer_replied"),   # no update owed while waiting
        Event(t(2026, 7, 7, 16), "resolved", resolution="fixed"),  # 4 h: late
        Event(t(2026, 7, 8, 9), "reopened"),
        Event(t(2026, 7, 8, 13), "excluded"),           # 4 h after reopening: late
    ]
    state = replay(events, policy, cal, NOW, "global")
    owed = update_figures(events, policy, cal, "global", NOW)
    assert (owed, state.next_update.missed) == (4, 2)
