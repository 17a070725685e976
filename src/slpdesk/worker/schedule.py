"""When a case's SLA next needs the worker: the moments a clock crosses a line.

For every clock that is running (not paused, not stopped) there are two
moments, each acted on once per due time (an :class:`SlaNotice`):

==============  =====================  ======================================
clock           warning                breach
==============  =====================  ======================================
response        ``at_risk``            ``breached``
resolution      ``at_risk``            ``breached``
next_update     ``update_owed``        ``update_overdue``
==============  =====================  ======================================

The warning comes at the first instant the engine calls the clock *at risk*
(less than ``at_risk_fraction`` of its target left, K6: 25 %); for the
status-update clock that is the reminder to the assignee, a quarter of the
interval before the update is owed (30 business minutes for P1's 2 h). The
breach comes at the first instant after the due time (a reply at the due
time itself is on time, T3): ``due`` + 1 µs. Both are business instants of
the case's calendar, computed with its ``add`` (exact to the second across
weekends, holidays and DST changes) and checked against ``replay``'s own
predicate in the tests, so a warning never fires a second early and the
first worker step at or after the instant fires it.

:func:`next_event_at` is what :func:`slpdesk.desk.services.refresh_sla`
stores in ``Case.next_sla_event_at``: the earliest moment not yet acted on
(it may lie in the past, when no worker ran at that instant).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from slpdesk.sla import BusinessCalendar, SlaState
from slpdesk.sla.clocks import ClockState, is_at_risk

CLOCKS = ("response", "resolution", "next_update")
#: clock → (warning kind, breach kind), as SlaNotice.kind stores them.
NOTICE_KINDS = {
    "response": ("at_risk", "breached"),
    "resolution": ("at_risk", "breached"),
    "next_update": ("update_owed", "update_overdue"),
}
AFTER_DUE = timedelta(microseconds=1)


@dataclass(frozen=True)
class Moment:
    clock: str
    kind: str
    due: datetime
    at: datetime
    breach: bool

    @property
    def notice_key(self) -> tuple[str, str, datetime]:
        return (self.kind, self.clock, self.due)


@lru_cache(maxsize=256)  # a few targets per policy; pure
def at_risk_used(target: int, fraction: float) -> int:
    """The business seconds used at which a clock becomes at risk: the least whole
    ``used`` that the engine's :func:`~slpdesk.sla.clocks.is_at_risk` calls at risk
    (the very predicate ``replay`` and the badges judge with)."""
    used = max(math.floor(target - fraction * target) - 1, 0)
    while not is_at_risk(target - used, target, fraction):
        used += 1
    return used


def moments(state: SlaState, calendar: BusinessCalendar, fraction: float) -> list[Moment]:
    """The warning and breach moments of every clock that runs now."""
    out = []
    for name in CLOCKS:
        clock: ClockState = getattr(state, name)
        if not clock.is_live or clock.due is None or clock.started is None:
            continue
        due = clock.due.astimezone(UTC)
        warn, breach = NOTICE_KINDS[name]
        target = clock.target_seconds or 0
        # The clock counts business time from `started`, less what it spent paused;
        # `due` is where it reaches `target`, so the pause is what lies beyond it.
        paused = calendar.between(clock.started, due) - target
        used = at_risk_used(target, fraction)
        if 0 < used <= target:
            at = calendar.add(clock.started, used + paused).astimezone(UTC)
            out.append(Moment(name, warn, due, at, False))
        out.append(Moment(name, breach, due, due + AFTER_DUE, True))
    return out


def pending(state: SlaState, calendar: BusinessCalendar, fraction: float,
            fired: set[tuple[str, str, datetime]]) -> list[Moment]:
    """The moments not yet acted on. A warning whose breach was recorded is done."""
    return _pending(moments(state, calendar, fraction), fired)


def _pending(all_moments: list[Moment], fired: set[tuple[str, str, datetime]]
             ) -> list[Moment]:
    keep = []
    for m in all_moments:
        if m.notice_key in fired:
            continue
        if not m.breach and (NOTICE_KINDS[m.clock][1], m.clock, m.due) in fired:
            continue
        keep.append(m)
    return keep


def next_event_at(state: SlaState, calendar: BusinessCalendar, fraction: float,
                  fired: set[tuple[str, str, datetime]]) -> datetime | None:
    """The earliest moment still to act on, or None."""
    return next_of(moments(state, calendar, fraction), fired)


def next_of(all_moments: list[Moment], fired: set[tuple[str, str, datetime]]
            ) -> datetime | None:
    """The earliest of ``all_moments`` (:func:`moments`) still to act on, or None."""
    return min((m.at for m in _pending(all_moments, fired)), default=None)
