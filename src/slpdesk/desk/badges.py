"""What a case's SLA looks like at a glance: one badge per case, one per clock.

Built from the columns :func:`slpdesk.desk.services.refresh_sla` stores, so
a queue of any length needs no event replay: the state and business time left
of each running clock come from the engine's own
:func:`slpdesk.sla.clocks.live_clock` (the function ``replay`` judges with),
so a badge and a replay agree at every instant, the due instant included.
Read the closures of every calendar once per page with
:func:`closures_by_calendar` and pass them in.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from slpdesk.sla.clocks import live_clock

from .models import CalendarClosure, Case

#: (clock, due column, state column, stopped column, the policy's target name)
CLOCKS = (
    ("response", "response_due", "response_state", "response_stopped", "response"),
    ("resolution", "resolution_due", "resolution_state", "resolution_stopped", "resolution"),
    ("next_update", "next_update_due", "next_update_state", "next_update_stopped",
     "update_interval"),
)
LIVE_STATES = ("running", "at_risk", "breached")


@dataclass(frozen=True)
class Badge:
    """One clock (or a case's most pressing clock) as a badge.

    ``state``: running, at_risk, breached, paused, met, pending or
    not_applicable. ``remaining`` is business seconds left until ``due``
    (negative once past it), for a clock that runs.
    """

    clock: str
    state: str
    due: datetime | None = None
    remaining: int | None = None
    target: int | None = None

    @property
    def is_live(self) -> bool:
        return self.remaining is not None


def closures_by_calendar() -> dict[str, list[date]]:
    """Every calendar's extra closed dates in effect, in one query."""
    out: dict[str, list[date]] = defaultdict(list)
    for name, day in CalendarClosure.objects.in_effect().values_list("calendar", "date"):
        out[name].append(day)
    return out


def clock_badges(case: Case, now: datetime, closed: dict[str, list[date]] | None = None
                 ) -> list[Badge]:
    """A badge for each of the case's three clocks at ``now``."""
    policy = case.policy()
    closed = closures_by_calendar() if closed is None else closed
    calendar = None
    badges = []
    for clock, due_col, state_col, stopped_col, target_name in CLOCKS:
        due = getattr(case, due_col)
        state = getattr(case, state_col)
        stopped = getattr(case, stopped_col)
        if not case.is_open() and case.status == Case.Status.CLOSED:
            state = "not_applicable" if state not in ("met", "breached") else state
        if due is None or stopped is not None or state not in LIVE_STATES:
            badges.append(Badge(clock, state, due))
            continue
        if calendar is None:
            calendar = case.business_calendar(closed.get(case.calendar, []))
        target = policy.target_seconds(case.effective_priority(), target_name, case.calendar)
        state, remaining = live_clock(due, target, now, calendar, policy.at_risk_fraction)
        badges.append(Badge(clock, state, due, remaining, target))
    return badges


_PRESSING = {"breached": 0, "at_risk": 1, "running": 2}


def case_badge(case: Case, now: datetime, closed: dict[str, list[date]] | None = None
               ) -> Badge:
    """The one badge a queue row shows: the live clock due soonest; else paused,
    the resolution verdict, or not applicable."""
    badges = clock_badges(case, now, closed)
    live = [b for b in badges if b.is_live]
    if live:
        return min(live, key=lambda b: (_PRESSING[b.state], b.due))
    if any(b.state == "paused" for b in badges):
        return next(b for b in badges if b.state == "paused")
    if case.status == Case.Status.CLOSED:
        return Badge("", "not_applicable")
    resolution = badges[1]
    if resolution.state in ("met", "breached", "not_applicable"):
        return resolution
    return Badge("", "pending")
