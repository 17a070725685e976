"""The SLA state of one case as a pure fold over its events (spec K1-K7, P1-P2).

``replay(events, policy, calendar, now)`` reads the events in order and
returns an :class:`SlaState` with three clocks:

* **response** (K1) starts at receipt and stops at the first contact: the
  first ``responded`` (public reply or logged call) or ``info_requested``. A
  case resolved without any contact stops it at the resolution.
* **resolution** (K2-K4) starts when the priority is assigned *and* the
  information is complete (the later of the two); it pauses while support
  waits on the customer and while the case is resolved, resumes on the
  customer's answer (or ``info_complete``) and on reopening, and stops at
  ``resolved``. A case classified as a bug or defect has no resolution target.
* **next_update** (K5) is the status update owed now: an interval counted
  from support's latest public message (or the customer's answer after a
  wait); paused while waiting on the customer; not applicable once resolved.
  Each interval is judged on its own; ``missed`` counts the late or absent ones.

Priority changes (P2) recompute every clock that has not stopped from its
original start with the new durations; a stopped clock keeps its verdict.

``excluded`` takes the case out of the SLA (E2-E6): a clock that already
stopped keeps its verdict, every other clock stops there as not applicable,
and no event may follow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from .calendar import BusinessCalendar
from .policy import Policy, PolicyError

EVENT_TYPES = (
    "received",
    "priority_assigned",
    "info_complete",
    "info_requested",
    "customer_replied",
    "responded",
    "status_update",
    "classified",
    "resolved",
    "reopened",
    "excluded",
)
_EVENT_TYPES = frozenset(EVENT_TYPES)
KINDS = ("incident", "bug", "defect")
RESOLUTIONS = ("fixed", "timeline", "no-defect")
STATES = ("pending", "running", "paused", "at_risk", "met", "breached", "not_applicable")


class ReplayError(ValueError):
    """Events that cannot describe a case; the message names the problem."""


@dataclass(frozen=True)
class Event:
    at: datetime
    type: str
    priority: str | None = None
    kind: str | None = None
    resolution: str | None = None


@dataclass(frozen=True)
class ClockState:
    state: str
    started: datetime | None
    due: datetime | None
    stopped: datetime | None
    business_seconds: int
    remaining_seconds: int | None
    target_seconds: int | None = None
    missed: int | None = None  # next_update only
    # A clock that started and has not stopped counts ``between(started, paused_since
    # or now) - paused_seconds`` (what the reports store to count it at a later now;
    # not part of the state's value).
    paused_seconds: int = field(default=0, compare=False, repr=False)
    paused_since: datetime | None = field(default=None, compare=False, repr=False)

    @property
    def is_live(self) -> bool:
        """Running (possibly at risk or overdue): a due time that can still pass."""
        return self.state in ("running", "at_risk") or (
            self.state == "breached" and self.stopped is None
        )

    def as_dict(self, tz) -> dict:
        d = {
            "state": self.state,
            "started": _iso(self.started, tz),
            "due": _iso(self.due, tz),
            "stopped": _iso(self.stopped, tz),
            "business_seconds": self.business_seconds,
            "remaining_seconds": self.remaining_seconds,
        }
        if self.missed is not None:
            d["missed"] = self.missed
        return d


@dataclass(frozen=True)
class SlaState:
    priority: str
    response: ClockState
    resolution: ClockState
    next_update: ClockState

    def earliest_due(self) -> datetime | None:
        """The soonest due time among the clocks still running (for queues)."""
        dues = [c.due for c in (self.response, self.resolution, self.next_update)
                if c.is_live and c.due is not None]
        return min(dues) if dues else None

    def as_dict(self, tz) -> dict:
        return {
            "priority": self.priority,
            "response": self.response.as_dict(tz),
            "resolution": self.resolution.as_dict(tz),
            "next_update": self.next_update.as_dict(tz),
        }


# ------------------------------------------------------- the one definition (K6)
# Every page, the API, the reports, the worker and the mails take a clock's
# state and remaining time from these three functions, through ``replay`` or,
# for a queue of stored due times, through :func:`live_clock`.

def is_met(at: datetime, due: datetime) -> bool:
    """A clock stopped at ``at`` with ``due`` in force met its target: at or
    before the due instant (T3: a reply at the due time itself is on time)."""
    return at <= due


def is_at_risk(remaining: int, target: int, fraction: float) -> bool:
    """A running clock with ``remaining`` business seconds of ``target`` left is at
    risk: less than ``fraction`` of its target left (K6)."""
    return remaining < fraction * target


def live_clock(due: datetime, target: int, now: datetime, calendar: BusinessCalendar,
               fraction: float) -> tuple[str, int]:
    """The state and remaining business seconds at ``now`` of a running clock due at
    ``due`` with ``target`` business seconds: ``breached`` once ``now`` is past the
    due instant (remaining is then minus the business time over), else ``at_risk``
    or ``running``. At the due instant itself the clock is not yet breached.

    Remaining time is whole seconds, a part second counting as a whole one left
    (``between`` floors the business time from ``due`` to ``now``): the same as
    the target less the whole seconds a clock has used."""
    remaining = -calendar.between(due, now)
    if not is_met(now, due):
        return "breached", remaining
    return ("at_risk" if is_at_risk(remaining, target, fraction) else "running"), remaining


def _iso(dt: datetime | None, tz) -> str | None:
    return None if dt is None else dt.astimezone(tz).isoformat()


@dataclass
class _Clock:
    """A clock that may pause: business time counted is
    ``between(started, t) - paused_seconds - (pause in progress)``."""

    started: datetime | None = None
    stopped: datetime | None = None
    paused_since: datetime | None = None
    paused_seconds: int = 0
    verdict: str | None = None
    due_at_stop: datetime | None = None

    def pause(self, at: datetime) -> None:
        if self.started is not None and self.stopped is None and self.paused_since is None:
            self.paused_since = at

    def resume(self, at: datetime, cal: BusinessCalendar) -> None:
        if self.paused_since is not None:
            self.paused_seconds += cal.between(self.paused_since, at)
            self.paused_since = None

    def due(self, target: int, cal: BusinessCalendar) -> datetime:
        # In UTC, so that comparisons are between instants: two datetimes with
        # the same zone compare by wall time, which is ambiguous in a repeated hour.
        return cal.add(self.started, target + self.paused_seconds).astimezone(UTC)

    def counted(self, until: datetime, cal: BusinessCalendar) -> int:
        end = self.paused_since or until
        return cal.between(self.started, end) - self.paused_seconds

    def stop(self, at: datetime, target: int, cal: BusinessCalendar) -> None:
        """Stop the clock at ``at`` and judge it. A clock stopped while paused had
        no due time in force: it is judged at the start of its pause, and its
        counted time ends there. A clock stopped before it ever started (a case
        resolved before the clock could start) is met: nothing was ever late."""
        self.stopped = at
        if self.started is None:
            self.verdict = "met"
        elif self.paused_since is not None:
            self.due_at_stop = None
            self.verdict = "met" if is_met(self.paused_since, self.due(target, cal)) \
                else "breached"
        else:
            self.due_at_stop = self.due(target, cal)
            self.verdict = "met" if is_met(at, self.due_at_stop) else "breached"

    def exclude(self, at: datetime) -> None:
        """Take a clock that has no verdict yet out of the SLA at ``at`` (E2-E6)."""
        if self.stopped is None:
            self.stopped = at
            self.verdict = "not_applicable"
            self.due_at_stop = None

    def restart(self, at: datetime, cal: BusinessCalendar) -> None:
        """Resume a stopped clock; the stopped span is not counted (K2 reopen)."""
        if self.started is not None:
            self.paused_seconds += cal.between(self.paused_since or self.stopped, at)
        self.paused_since = None
        self.stopped = None
        self.verdict = None
        self.due_at_stop = None

    def state(self, target: int, now: datetime, cal: BusinessCalendar, fraction: float,
              *, not_applicable: bool = False, missed: int | None = None) -> ClockState:
        if self.started is None:
            # Never started; a verdict here means the case was resolved before
            # the clock could start (nothing was ever late).
            state = "not_applicable" if not_applicable else (self.verdict or "pending")
            return ClockState(state, None, None, self.stopped, 0, None, target, missed)
        if self.stopped is not None:
            used = self.counted(self.stopped, cal)
            state = "not_applicable" if not_applicable else self.verdict
            due = None if not_applicable else self.due_at_stop
            return ClockState(state, self.started, due, self.stopped, used, None, target, missed)
        used = self.counted(now, cal)
        paused, since = self.paused_seconds, self.paused_since
        if not_applicable:
            return ClockState("not_applicable", self.started, None, None, used, None, target,
                              missed, paused, since)
        if since is not None:
            return ClockState("paused", self.started, None, None, used, target - used, target,
                              missed, paused, since)
        due = self.due(target, cal)
        state, remaining = live_clock(due, target, now, cal, fraction)
        return ClockState(state, self.started, due, None, used, remaining, target, missed,
                          paused)


def replay(events, policy: Policy, calendar: BusinessCalendar, now: datetime,
           calendar_name: str | None = None) -> SlaState:
    """The SLA state of one case at ``now`` from its ``events`` (K7).

    ``calendar`` is the compiled calendar of the case (see ``calendar_for``);
    ``calendar_name`` is the policy's name for it, needed to size targets in
    business days (T2); by default it is the calendar's own name.
    """
    if now.tzinfo is None:
        raise ReplayError("now: give an aware time (with an offset)")
    now = now.astimezone(UTC)
    cal_name = calendar_name or calendar.spec.name
    if cal_name not in policy.calendars:
        raise ReplayError(f"calendar {cal_name!r} is not part of policy {policy.id!r}")
    events = list(events)
    if not events or events[0].type != "received":
        raise ReplayError("events: the first event must be 'received'")

    targets: dict[tuple[str, str], int] = {}  # (priority, kind) -> seconds, looked up once

    def target(kind: str) -> int:
        seconds = targets.get((priority, kind))
        if seconds is None:
            seconds = targets[(priority, kind)] = policy.target_seconds(priority, kind,
                                                                        cal_name)
        return seconds

    def update_late(clock: _Clock, at: datetime) -> int:
        """1 if the status-update interval ``clock`` was owed and ``at`` is past its due."""
        owed = clock.started is not None and clock.stopped is None and clock.paused_since is None
        return int(owed and not is_met(at, clock.due(target("update_interval"), calendar)))

    def public_message(at: datetime) -> None:
        """Support wrote to the customer: the first contact stops the response
        clock (K1); a later message ends the update interval owed (K5)."""
        nonlocal contact, missed
        if not contact:
            contact = True
            response.stop(at, target("response"), calendar)
        else:
            missed += update_late(update, at)

    fraction = policy.at_risk_fraction
    priority = ""
    assigned = False
    info_complete = False
    waiting = False
    resolved = False
    kind = "incident"
    contact = False
    excluded = False
    missed = 0
    response = _Clock()
    resolution = _Clock()
    update = _Clock()
    last_at = None

    for n, ev in enumerate(events):
        # The instant in UTC (a local, not a copy of the event: a year's simulation
        # replays some 700,000 events twice).
        at = ev.at
        if at.tzinfo is None:
            raise ReplayError(f"{_where(n, ev.type)}: 'at' needs an offset")
        if at.tzinfo is not UTC:
            at = at.astimezone(UTC)
        t = ev.type
        if last_at is not None and at < last_at:
            raise ReplayError(f"{_where(n, t)}: out of order ({at.isoformat()} is before "
                              f"the previous event)")
        if at > now:
            raise ReplayError(f"{_where(n, t)}: after 'now'")
        last_at = at
        if t not in _EVENT_TYPES:
            raise ReplayError(f"{_where(n, t)}: unknown event type (expected one of "
                              f"{', '.join(EVENT_TYPES)})")
        if t == "received":
            if n:
                raise ReplayError(f"{_where(n, t)}: a case is received only once")
            priority = _priority(policy, ev.priority, n, t)
            response.started = at
            continue
        if excluded:
            raise ReplayError(f"{_where(n, t)}: the case is excluded from the SLA; nothing may "
                              "follow 'excluded'")
        if resolved and t not in ("reopened", "classified", "customer_replied",
                                  "priority_assigned"):
            raise ReplayError(f"{_where(n, t)}: the case is resolved; reopen it first")

        if t == "priority_assigned":
            # P2: running clocks follow the new priority from their original
            # start; stopped ones keep their verdicts.
            priority = _priority(policy, ev.priority, n, t)
            assigned = True
        elif t == "info_complete":
            info_complete = True
            if waiting:
                waiting = False
                resolution.resume(at, calendar)
                if contact:
                    update = _Clock(started=at)
        elif t in ("info_requested", "responded", "status_update"):
            public_message(at)
            update = _Clock(started=at)
            if t == "info_requested" and not waiting:
                waiting = True
                resolution.pause(at)
                update.pause(at)
            elif waiting:
                update.pause(at)
        elif t == "customer_replied":
            if waiting and not resolved:
                waiting = False
                resolution.resume(at, calendar)
                update = _Clock(started=at)
        elif t == "classified":
            if ev.kind not in KINDS:
                raise ReplayError(f"{_where(n, t)}: kind must be one of {', '.join(KINDS)}")
            kind = ev.kind
        elif t == "resolved":
            if ev.resolution not in RESOLUTIONS:
                raise ReplayError(f"{_where(n, t)}: resolution must be one of "
                                  f"{', '.join(RESOLUTIONS)}")
            public_message(at)
            waiting = False
            resolution.stop(at, target("resolution"), calendar)
            update = _Clock(started=update.started, stopped=at,
                            paused_since=update.paused_since)
            resolved = True
        elif t == "excluded":
            # E2-E6: verdicts already reached stand; the rest is not applicable.
            if contact:
                missed += update_late(update, at)
            for clock in (response, resolution, update):
                clock.exclude(at)
            excluded = True
        elif t == "reopened":
            if not resolved:
                raise ReplayError(f"{_where(n, t)}: only a resolved case can be reopened")
            resolved = False
            resolution.restart(at, calendar)
            update = _Clock(started=at)

        # K2: the resolution clock starts once the priority is assigned and the
        # information is complete.
        if resolution.started is None and resolution.stopped is None and assigned \
                and info_complete:
            resolution.started = at
            if waiting:  # support asked for more before the clock could start
                resolution.paused_since = at

    # The update interval still open at `now` counts as missed once overdue.
    if contact:
        missed += update_late(update, now)

    # Before the first contact `update` has never started: pending.
    next_update = update.state(target("update_interval"), now, calendar, fraction,
                               not_applicable=resolved, missed=missed)
    return SlaState(
        priority=priority,
        response=response.state(target("response"), now, calendar, fraction),
        resolution=resolution.state(target("resolution"), now, calendar, fraction,
                                    not_applicable=kind in ("bug", "defect")),
        next_update=next_update,
    )


def update_figures(events, policy: Policy, calendar: BusinessCalendar,
                   calendar_name: str, end: datetime) -> int:
    """How many status-update intervals (K5) were owed: those ended by support's next
    public message while owed, plus the last one if it is overdue at ``end`` (``now``,
    or the exclusion that stopped the clocks).

    Follows ``replay``'s update clock step by step (it starts at the first contact
    and at every later public message, the customer's answer after a wait and a
    reopening; it is not owed while the case waits on the customer or is
    resolved), so that ``owed - missed`` are the updates given on time.
    """
    contact = owed_now = waiting = resolved = False
    started: datetime | None = None
    priority = ""
    judged = 0
    for ev in events:
        t = ev.type
        if t in ("received", "priority_assigned"):
            priority = ev.priority or priority
        elif t in ("info_requested", "responded", "status_update"):
            if contact:
                judged += owed_now
            contact = True
            started, owed_now = ev.at, True
            if t == "info_requested" and not waiting:
                waiting, owed_now = True, False
            elif waiting:
                owed_now = False
        elif t == "info_complete":
            if waiting:
                waiting = False
                if contact:
                    started, owed_now = ev.at, True
        elif t == "customer_replied":
            if waiting and not resolved:
                waiting = False
                started, owed_now = ev.at, True
        elif t == "resolved":
            if contact:
                judged += owed_now
            contact = True
            waiting, resolved, owed_now = False, True, False
        elif t == "reopened":
            resolved = False
            started, owed_now = ev.at, True
        elif t == "excluded":
            end = ev.at
            break
    if owed_now and started is not None:
        interval = policy.target_seconds(priority, "update_interval", calendar_name)
        if not is_met(end, calendar.add(started, interval).astimezone(UTC)):
            judged += 1
    return judged


def _where(n: int, t: str) -> str:
    """How an error names the event (made only when there is an error)."""
    return f"events[{n}] ({t})"


def _priority(policy: Policy, code: str | None, n: int, t: str) -> str:
    if not code:
        raise ReplayError(f"{_where(n, t)}: 'priority' is required")
    try:
        return policy.priority(code).code
    except PolicyError as exc:
        raise ReplayError(f"{_where(n, t)}: {exc}") from None
