"""The SLA timeline of one case, as geometry for an inline SVG: a pure function.

:func:`build_timeline` takes a case's events (anything with ``at``, ``type``
and ``priority``, e.g. :class:`~slpdesk.desk.models.CaseEvent` rows), its SLA
state (from :func:`slpdesk.desk.services.sla_state`) and its compiled
business calendar, and returns one lane per clock (response, resolution,
status update). Each lane is a list of segments in real time:

* ``running``: business hours while the clock counts;
* ``overdue``: business hours while the clock counts, after its due time;
* ``closed``: outside business hours (the calendar's ``intervals``), not counted;
* ``paused``: waiting on the customer (from ``info_requested`` to the
  customer's answer, ``info_complete`` or the resolution);
* ``resolved``: resolved and later reopened, not counted (K2).

and markers: the due time, where the clock stopped (met / breached), and for
the status-update clock each update that ended an interval, judged on its
own (K5). The x axis runs from the receipt to ``now`` (or the exclusion that
ended the SLA, E2-E6), or the last stop if later; a due time beyond it is
drawn at the right edge. Nothing here reads the database or formats text:
the template labels, translates and formats times.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo

from slpdesk.sla import BusinessCalendar, SlaState
from slpdesk.sla.clocks import is_met

#: Support's public messages (K1, K5): the first stops the response clock.
PUBLIC = ("responded", "status_update", "info_requested", "resolved")

# Geometry, in SVG user units (the template sets viewBox="0 0 WIDTH height").
WIDTH = 1000.0
PLOT_LEFT = 150.0
PLOT_RIGHT = 930.0  # room on the right for a "due →" beyond the axis
AXIS_TOP = 30.0  # tick labels above the lanes
LANE_HEIGHT = 26.0
LANE_GAP = 24.0  # room for a verdict below a lane and "due" above the next
BOTTOM = 20.0  # room for the "now" label

KINDS = ("running", "overdue", "closed", "paused", "resolved")
#: How each kind is filled in the SVG (``closed`` is a hatch pattern the template defines).
FILLS = {
    "running": "#3c9a5f",
    "overdue": "#c0392b",
    "closed": "url(#tl-closed)",
    "paused": "#8792a2",
    "resolved": "#ffffff",
}


@dataclass(frozen=True)
class Segment:
    kind: str  # one of KINDS
    start: datetime
    end: datetime
    x: float
    width: float


@dataclass(frozen=True)
class Marker:
    """``due``: the clock's due time; ``stop``: where it stopped (``verdict`` met,
    breached or not_applicable); ``update``: a status update that ended an
    interval (``verdict`` met / breached, empty when none was owed)."""

    kind: str
    at: datetime
    x: float
    verdict: str = ""
    beyond: bool = False  # after the end of the axis: drawn at its right edge


@dataclass(frozen=True)
class Lane:
    clock: str  # response, resolution, next_update
    state: str  # the ClockState's state
    started: datetime | None
    y: float
    segments: tuple[Segment, ...]
    markers: tuple[Marker, ...]

    @property
    def mid(self) -> float:
        return self.y + LANE_HEIGHT / 2

    @property
    def bottom(self) -> float:
        return self.y + LANE_HEIGHT


@dataclass(frozen=True)
class Tick:
    at: datetime
    x: float
    daily: bool  # label with the date (True) or the time of day (False)


@dataclass(frozen=True)
class Timeline:
    start: datetime
    end: datetime
    now: datetime
    now_x: float | None  # None when now lies beyond the axis (an excluded case)
    excluded_at: datetime | None
    excluded_x: float | None
    lanes: tuple[Lane, ...]
    ticks: tuple[Tick, ...]
    width: float = WIDTH
    height: float = 0.0
    plot_left: float = PLOT_LEFT
    plot_right: float = PLOT_RIGHT
    axis_top: float = AXIS_TOP
    lane_height: float = LANE_HEIGHT

    @property
    def plot_width(self) -> float:
        return self.plot_right - self.plot_left

    @property
    def plot_bottom(self) -> float:
        return self.lanes[-1].bottom if self.lanes else self.axis_top

    @property
    def is_empty(self) -> bool:
        return not any(lane.segments for lane in self.lanes)


@dataclass
class _History:
    """What the event walk finds: waiting and resolved spans, update intervals."""

    received: datetime
    end: datetime
    excluded_at: datetime | None
    waiting: list[tuple[datetime, datetime]]
    resolved: list[tuple[datetime, datetime]]
    # (start, end, paused, due, verdict, ended by a message of support's)
    updates: list[tuple[datetime, datetime, bool, datetime | None, str, bool]]


def _utc(at: datetime) -> datetime:
    return at.astimezone(UTC)


def _walk(events: list, now: datetime, calendar: BusinessCalendar,
          update_target: Callable[[str], int] | None, current_due: datetime | None
          ) -> _History:
    """Replay the desk's events for what the clocks do not keep: when the case
    waited, when it was resolved, and each status-update interval (K5)."""
    received = _utc(events[0].at)
    end = now
    excluded_at = None
    for ev in events:
        if ev.type == "excluded":
            excluded_at = _utc(ev.at)
            end = excluded_at
            break
    end = max(end, received)

    waiting: list[tuple[datetime, datetime]] = []
    resolved: list[tuple[datetime, datetime]] = []
    updates: list = []
    priority = events[0].priority or ""
    wait_since = None
    resolved_since = None
    contact = False
    upd_start = None
    upd_paused = False

    def close_update(at: datetime, by_support: bool) -> None:
        """End the interval running since ``upd_start`` at ``at``: a message of
        support's is judged against the interval's due (none while waiting)."""
        nonlocal upd_start
        if upd_start is None:
            return
        due, verdict = None, ""
        if by_support and not upd_paused and update_target is not None and priority:
            due = _utc(calendar.add(upd_start, update_target(priority)))
            verdict = "met" if is_met(at, due) else "breached"
        updates.append((upd_start, at, upd_paused, due, verdict, by_support))
        upd_start = None

    for ev in events[1:]:
        at = _utc(ev.at)
        if at > end or ev.type == "excluded":
            break
        t = ev.type
        if t == "priority_assigned" and ev.priority:
            priority = ev.priority
        elif t in ("responded", "status_update", "info_requested"):
            if contact:
                close_update(at, by_support=True)
            contact = True
            if t == "info_requested" and wait_since is None and resolved_since is None:
                wait_since = at
            upd_start, upd_paused = at, wait_since is not None
        elif t == "info_complete":
            if wait_since is not None:
                waiting.append((wait_since, at))
                wait_since = None
                if contact:
                    close_update(at, by_support=False)
                    upd_start, upd_paused = at, False
        elif t == "customer_replied":
            if wait_since is not None and resolved_since is None:
                waiting.append((wait_since, at))
                wait_since = None
                close_update(at, by_support=False)
                upd_start, upd_paused = at, False
        elif t == "resolved":
            close_update(at, by_support=contact)
            contact = True
            if wait_since is not None:
                waiting.append((wait_since, at))
                wait_since = None
            resolved_since = at
        elif t == "reopened" and resolved_since is not None:
            resolved.append((resolved_since, at))
            resolved_since = None
            upd_start, upd_paused = at, False
    if wait_since is not None:
        waiting.append((wait_since, end))
    if upd_start is not None:  # the interval owed now: its due is the engine's
        updates.append((upd_start, end, upd_paused, None if upd_paused else current_due, "",
                        False))
    return _History(received, end, excluded_at, waiting, resolved, updates)


def _business(a: datetime, b: datetime, calendar: BusinessCalendar,
              due: datetime | None) -> list[tuple[str, datetime, datetime]]:
    """``[a, b)`` as running / overdue business time and closed time."""
    out: list[tuple[str, datetime, datetime]] = []
    if b <= a:
        return out
    cursor = a
    for opens, closes in calendar.intervals(a, b):
        opens, closes = max(_utc(opens), a), min(_utc(closes), b)
        if closes <= opens:
            continue
        if opens > cursor:
            out.append(("closed", cursor, opens))
        if due is None or due >= closes:
            out.append(("running", opens, closes))
        elif due <= opens:
            out.append(("overdue", opens, closes))
        else:
            out.append(("running", opens, due))
            out.append(("overdue", due, closes))
        cursor = closes
    if cursor < b:
        out.append(("closed", cursor, b))
    return out


def _pieces(a: datetime, b: datetime, calendar: BusinessCalendar, due: datetime | None,
            inactive: Iterable[tuple[str, datetime, datetime]]
            ) -> list[tuple[str, datetime, datetime]]:
    """``[a, b)`` with the ``inactive`` spans (paused, resolved) cut out and the
    rest split by business hours."""
    out: list[tuple[str, datetime, datetime]] = []
    cursor = a
    for kind, s, e in sorted(inactive, key=lambda p: p[1]):
        s, e = max(s, a), min(e, b)
        if e <= s or e <= cursor:
            continue
        s = max(s, cursor)
        out.extend(_business(cursor, s, calendar, due))
        out.append((kind, s, e))
        cursor = e
    out.extend(_business(cursor, b, calendar, due))
    return out


def _ticks(start: datetime, end: datetime, tz: tzinfo, x) -> list[Tick]:
    """Ticks at local midnights (a few days or more) or whole local hours."""
    span = (end - start).total_seconds()
    ticks = []
    if span >= 36 * 3600:
        days = span / 86400
        step = max(1, math.ceil(days / 8))
        day = start.astimezone(tz).date()
        last = end.astimezone(tz).date()
        n = 0
        while day <= last:
            at = _utc(datetime.combine(day, time(0), tzinfo=tz))
            if start <= at <= end and n % step == 0:
                ticks.append(Tick(at, x(at), True))
            if start <= at:
                n += 1
            day += timedelta(days=1)
        return ticks
    hours = span / 3600
    step = next((h for h in (1, 2, 3, 6, 12) if hours / h <= 10), 12)
    wall = start.astimezone(tz).replace(tzinfo=None, minute=0, second=0, microsecond=0)
    stop = end.astimezone(tz).replace(tzinfo=None)
    while wall <= stop:
        if wall.hour % step == 0:
            at = _utc(wall.replace(tzinfo=tz))
            if start <= at <= end:
                ticks.append(Tick(at, x(at), wall.hour == 0))
        wall += timedelta(hours=1)
    return ticks


def build_timeline(events, state: SlaState, calendar: BusinessCalendar, now: datetime, *,
                   update_target: Callable[[str], int] | None = None,
                   tz: tzinfo = UTC) -> Timeline:
    """The timeline of a case from its ``events`` (in order, the first one
    ``received``) and its SLA ``state`` at ``now``.

    ``update_target(priority)`` gives the status-update interval in business
    seconds (to judge each past update on its own, K5); ``tz`` is the zone
    whose midnights and hours the axis ticks mark (the agent's).
    """
    events = list(events)
    if not events or events[0].type != "received":
        raise ValueError("events: the first event must be 'received'")
    now = _utc(now)
    resp, res, upd = state.response, state.resolution, state.next_update
    current_due = _utc(upd.due) if upd.due else None
    h = _walk(events, now, calendar, update_target, current_due)

    stops = [_utc(c.stopped) for c in (resp, res, upd) if c.stopped is not None]
    start = h.received
    end = max([h.end, *stops])
    if end <= start:
        end = start + timedelta(minutes=1)
    total = (end - start).total_seconds()
    plot = PLOT_RIGHT - PLOT_LEFT

    def x(at: datetime) -> float:
        at = min(max(_utc(at), start), end)
        return round(PLOT_LEFT + (at - start).total_seconds() / total * plot, 2)

    def segments(pieces) -> tuple[Segment, ...]:
        return tuple(Segment(kind, s, e, x(s), round(x(e) - x(s), 2))
                     for kind, s, e in pieces if e > s)

    def marker(kind: str, at: datetime, verdict: str = "") -> Marker:
        at = _utc(at)
        return Marker(kind, at, x(at), verdict, beyond=at > end)

    def stop_marker(clock) -> list[Marker]:
        if clock.stopped is None:
            return []
        verdict = clock.state if clock.state in ("met", "breached") else "not_applicable"
        return [marker("stop", clock.stopped, verdict)]

    def due_marker(clock) -> list[Marker]:
        return [marker("due", clock.due)] if clock.due is not None else []

    lanes = []
    y = AXIS_TOP

    # Response (K1): from receipt to the first contact, never paused.
    pieces = []
    if resp.started is not None:
        r_end = _utc(resp.stopped) if resp.stopped else h.end
        pieces = _pieces(_utc(resp.started), r_end, calendar,
                         _utc(resp.due) if resp.due else None, ())
    lanes.append(Lane("response", resp.state, resp.started, y, segments(pieces),
                      tuple(due_marker(resp) + stop_marker(resp))))
    y += LANE_HEIGHT + LANE_GAP

    # Resolution (K2-K4): from priority and information both in hand; paused
    # while waiting and while resolved before a reopening.
    pieces = []
    if res.started is not None:
        r_end = _utc(res.stopped) if res.stopped else h.end
        inactive = [("paused", s, e) for s, e in h.waiting]
        inactive += [("resolved", s, e) for s, e in h.resolved]
        pieces = _pieces(_utc(res.started), r_end, calendar,
                         _utc(res.due) if res.due else None, inactive)
    lanes.append(Lane("resolution", res.state, res.started, y, segments(pieces),
                      tuple(due_marker(res) + stop_marker(res))))
    y += LANE_HEIGHT + LANE_GAP

    # Status updates (K5): one interval after another from the first contact.
    pieces, markers = [], []
    previous_end = None
    for s, e, paused, due, verdict, by_support in h.updates:
        if previous_end is not None and s > previous_end:
            pieces.append(("resolved", previous_end, s))
        if paused:
            pieces.append(("paused", s, e))
        else:
            pieces.extend(_business(s, e, calendar, due))
        if by_support:
            markers.append(marker("update", e, verdict))
        elif e == h.end and due is not None:  # the interval owed now
            markers.append(marker("due", due))
        previous_end = e
    lanes.append(Lane("next_update", upd.state, h.updates[0][0] if h.updates else None, y,
                      segments(pieces), tuple(markers)))
    y += LANE_HEIGHT

    return Timeline(
        start=start, end=end, now=now,
        now_x=x(now) if now <= end else None,
        excluded_at=h.excluded_at,
        excluded_x=x(h.excluded_at) if h.excluded_at else None,
        lanes=tuple(lanes), ticks=tuple(_ticks(start, end, tz, x)),
        height=y + BOTTOM,
    )
