"""One definition of each clock state (K6, T3): at the exact due instant, one
second before and one second after it, the engine, the queue's badges, the
console, the portal, the board, the API and the worker's mails all say the same.

The case: P1 received Monday 2026-07-06 08:00 in New York (Hartford, global
calendar, Mon-Fri 08:00-17:00 local, no holiday that day). Worked by hand:
response target 2 business hours = 7200 s, due 08:00 + 2 h = 10:00 EDT
(14:00Z); at risk with less than 25 % = 1800 s left, i.e. from 09:30:01.

=========  ==========  =========  ===================================
now (EDT)  state       remaining  why
=========  ==========  =========  ===================================
09:59:59   at_risk     1          1 s left < 1800 s
10:00:00   at_risk     0          the due instant is not past (T3)
10:00:01   breached    -1         1 s past the due instant
=========  ==========  =========  ===================================
"""

from __future__ import annotations

import re

import pytest

from desk.conftest import ny
from slpdesk.api.models import ApiToken
from slpdesk.desk import badges, services
from slpdesk.desk.models import Case, SlaNotice
from slpdesk.worker.steps import process_case

RECEIVED = ny(2026, 7, 6, 8, 0)
DUE = ny(2026, 7, 6, 10, 0)
INSTANTS = [
    (ny(2026, 7, 6, 9, 59, 59), "at_risk", 1),
    (ny(2026, 7, 6, 10, 0, 0), "at_risk", 0),
    (ny(2026, 7, 6, 10, 0, 1), "breached", -1),
]


@pytest.fixture
def case(cast) -> Case:
    return services.receive_case(cast.hartford, contact=cast.alice,
                                 channel=Case.Channel.PORTAL, proposed_priority="P1",
                                 title="Will not start", release=cast.r2026,
                                 actor=cast.alice, now=RECEIVED)


def frozen(monkeypatch, now) -> None:
    """Every page reads ``timezone.now()`` once; it answers ``now``."""
    monkeypatch.setattr("django.utils.timezone.now", lambda: now)


def test_the_stored_due_time_is_the_hand_worked_one(case):
    assert case.response_due == DUE
    assert case.response_state == "running"


@pytest.mark.parametrize(("now", "state", "remaining"), INSTANTS)
def test_engine_and_badges_agree_around_the_due_instant(case, now, state, remaining):
    engine = services.sla_state(case, now).response
    assert (engine.state, engine.remaining_seconds, engine.due) == (state, remaining, DUE)
    response = badges.clock_badges(case, now)[0]
    assert (response.state, response.remaining, response.due) == (state, remaining, DUE)
    assert badges.case_badge(case, now).state == state


@pytest.mark.parametrize(("now", "state", "remaining"), INSTANTS)
def test_the_api_says_the_same_around_the_due_instant(client, case, monkeypatch, now, state,
                                                      remaining):
    _, raw = ApiToken.issue(case.contact, "t", now=RECEIVED)
    frozen(monkeypatch, now)
    data = client.get(f"/api/v1/cases/{case.number}",
                      HTTP_AUTHORIZATION=f"Bearer {raw}").json()
    assert data["sla"]["response"]["state"] == state
    assert data["sla"]["response"]["remaining_seconds"] == remaining
    assert data["sla"]["response"]["target_seconds"] == 7200
    assert data["sla"]["state"] == state and data["sla"]["clock"] == "response"


def _states(html: str) -> list[str]:
    return re.findall(r'data-state="([a-z_]+)"', html)


@pytest.mark.parametrize(("now", "state", "remaining"), INSTANTS)
def test_queue_console_and_portal_say_the_same(client, cast, case, monkeypatch, now, state,
                                              remaining):
    frozen(monkeypatch, now)
    client.force_login(cast.sam)
    queue = client.get("/console/?view=all").content.decode()
    assert _states(queue) == [state]
    page = client.get(f"/console/cases/{case.number}/").content.decode()
    # The header badge, then response, resolution (pending), status update (pending).
    assert _states(page)[:2] == [state, state]
    client.force_login(cast.alice)
    portal = client.get(f"/portal/cases/{case.number}/").content.decode()
    assert _states(portal)[0] == state  # the response clock, listed first


@pytest.mark.parametrize(("now", "section"), [
    (ny(2026, 7, 6, 10, 0, 0), "at-risk"),
    (ny(2026, 7, 6, 10, 0, 1), "breached"),
])
def test_the_board_puts_the_case_in_the_section_of_its_state(client, cast, case, monkeypatch,
                                                             now, section):
    frozen(monkeypatch, now)
    client.force_login(cast.sam)
    html = client.get("/reports/board/").content.decode()
    sections = dict(re.findall(r'<section aria-labelledby="([a-z-]+)">(.*?)</section>', html, re.S))
    assert case.number in sections[section]
    other = {"at-risk": "breached", "breached": "at-risk"}[section]
    assert case.number not in sections[other]


def test_the_worker_warns_before_and_breaches_only_after_the_due_instant(case):
    """The mails follow the same states: at 10:00:00 the warning (at risk), at
    10:00:01 the breach."""
    _, fired = process_case(case.pk, ny(2026, 7, 6, 10, 0, 0))
    assert [(n.kind, n.clock) for n in fired] == [("at_risk", "response")]
    _, fired = process_case(case.pk, ny(2026, 7, 6, 10, 0, 1))
    assert [(n.kind, n.clock) for n in fired] == [("breached", "response")]
    assert SlaNotice.objects.filter(case=case).count() == 2


def test_the_badge_text_says_left_at_the_due_instant_and_over_after_it(case):
    from slpdesk.web.templatetags.slpdesk import badge

    at_due = str(badge(badges.clock_badges(case, DUE)[0]))
    assert "0 min left" in at_due and "over" not in at_due
    after = str(badge(badges.clock_badges(case, ny(2026, 7, 6, 10, 0, 1))[0]))
    assert "0 min over" in after and "left" not in after


def test_a_breached_clock_past_a_17_00_due_says_over_while_closed(cast):
    """Due 17:00; at 17:30 (closed) no business time has passed since: 0 s over,
    and the badge says breached, not '0 min left'."""
    from slpdesk.web.templatetags.slpdesk import badge

    late = services.receive_case(cast.hartford, contact=cast.alice,
                                 channel=Case.Channel.PORTAL, proposed_priority="P1",
                                 title="Crash", release=cast.r2026, actor=cast.alice,
                                 now=ny(2026, 7, 6, 15, 0))
    b = badges.clock_badges(late, ny(2026, 7, 6, 17, 30))[0]
    assert (b.state, b.remaining, b.due) == ("breached", 0, ny(2026, 7, 6, 17, 0))
    assert "0 min over" in str(badge(b))

