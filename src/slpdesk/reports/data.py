"""From the database to :class:`~slpdesk.reports.compute.CaseRow`: read a period's
cases and event logs in bulk and replay each case (K7).

Every case received in the period is replayed from its event log at ``now``
with ``slpdesk.sla.replay``, under its own policy version (the report) or
under a draft policy (the what-if simulator), exactly as
:func:`slpdesk.desk.services.sla_state` does for one case: the SLA event
types in time order, up to and including an ``excluded``. The report and
the simulator's "current" column are the same computation, so a draft that
changes nothing changes no case.

Built for a year of 100,000 cases (``bench/bench_simulate.py``): three
queries in all (cases, escalations, events), rows read as tuples
(``values_list``, no model instances) in chunks, events streamed in one
ordered query and grouped by case, compiled calendars cached per
(policy, calendar, zone), each case's events read once however many
policies it is replayed under.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from itertools import groupby
from operator import itemgetter

from django.db.models import QuerySet

from slpdesk.desk.badges import closures_by_calendar
from slpdesk.desk.models import CalendarClosure, Case, CaseEvent, Escalation, PolicyVersion
from slpdesk.sla import (
    BusinessCalendar,
    CalendarError,
    Event,
    Policy,
    PolicyError,
    ReplayError,
    replay,
)
from slpdesk.sla.clocks import is_met

from .compute import CaseRow, Clock

#: The columns of a case the report needs, in this order.
CASE_FIELDS = (
    "id", "number", "title", "received_at", "time_zone", "calendar", "site__country",
    "organisation_id", "organisation__name", "organisation__kind", "assignee_id",
    "assignee__username", "assignee__first_name", "assignee__last_name", "status",
    "policy_version_id",
)
EVENT_FIELDS = ("case_id", "at", "type", "priority", "kind", "resolution")
SLA_TYPES = sorted(CaseEvent.SLA_TYPES)
CHUNK = 5000


def period_bounds(first: date, last: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """The instants (UTC) from ``first`` 00:00 to the end of ``last`` in the zone ``tz``."""
    start = datetime.combine(first, time(0), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    return start, end


@dataclass(frozen=True)
class Period:
    """Cases received from ``first`` to ``last`` (both included) in the zone ``tz``."""

    first: date
    last: date
    tz: tzinfo
    zone_name: str

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        return period_bounds(self.first, self.last, self.tz)


def _agent(username: str | None, first: str | None, last: str | None) -> str:
    if username is None:
        return ""
    return f"{first or ''} {last or ''}".strip() or username


class _Calendars:
    """Compiled calendars with the stored closures, cached per (policy, name, zone)."""

    def __init__(self) -> None:
        self.closed = closures_by_calendar()
        self.cache: dict[tuple, BusinessCalendar] = {}

    def get(self, policy: Policy, name: str, zone: str) -> BusinessCalendar:
        key = (id(policy), name, zone)
        cal = self.cache.get(key)
        if cal is None:
            cal = self.cache[key] = CalendarClosure.compiled(policy, name, zone,
                                                             self.closed.get(name, []))
        return cal


def update_figures(events: Sequence[Event], policy: Policy, calendar: BusinessCalendar,
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


def _clock(c) -> Clock:
    return Clock(c.state, c.business_seconds, c.target_seconds, c.started, c.due, c.stopped)


def replay_period(cases: QuerySet, period: Period, now: datetime,
                  policies: Sequence[Policy | None] = (None,), *,
                  progress: Callable[[int], None] | None = None,
                  total: Callable[[int], None] | None = None) -> list[list[CaseRow]]:
    """Replay every case of ``cases`` received in ``period`` at ``now``, once per entry
    of ``policies``: ``None`` is each case's own policy version (what the desk
    shows), a :class:`Policy` a draft applied to every case as if it had been in
    force (its targets, intervals, calendars and calendar rules: a case's calendar
    follows from its site's country under the draft, C3).

    Returns one list of rows per entry, in the order of the case ids. A case that
    cannot be replayed under a policy gets a row with ``error`` set.
    ``total(n)`` is told the number of cases first, ``progress(k)`` after each
    ``k`` cases replayed.
    """
    start, end = period.bounds
    cases = cases.filter(received_at__gte=start, received_at__lt=end)
    info = {}
    for values in cases.order_by("id").values_list(*CASE_FIELDS).iterator(chunk_size=CHUNK):
        info[values[0]] = values
    if total is not None:
        total(len(info))
    escalations: dict[int, list[tuple[int, bool]]] = {}
    if info:
        for case_id, level, acked in (Escalation.objects.filter(case__in=cases)
                                      .values_list("case_id", "level", "acknowledged_at")
                                      .iterator(chunk_size=CHUNK)):
            escalations.setdefault(case_id, []).append((level, acked is not None))
    versions = {v.pk: v.load() for v in PolicyVersion.objects.filter(
        pk__in={values[-1] for values in info.values()})}
    calendars = _Calendars()
    out: list[list[CaseRow]] = [[] for _ in policies]
    if not info:
        return out

    events = (CaseEvent.objects.filter(case__in=cases, type__in=SLA_TYPES)
              .order_by("case_id", "at", "id").values_list(*EVENT_FIELDS)
              .iterator(chunk_size=CHUNK))
    done = 0
    for case_id, group in groupby(events, key=itemgetter(0)):
        values = info.get(case_id)
        if values is None:  # received in the period after the first query
            continue
        sla_events = []
        for _, at, type_, priority, kind, resolution in group:
            sla_events.append(Event(at, type_, priority or None, kind or None,
                                    resolution or None))
            if type_ == "excluded":
                break
        case_now = max(now, sla_events[-1].at)
        for k, policy in enumerate(policies):
            out[k].append(_row(values, sla_events, policy, versions, calendars, case_now,
                               escalations.get(case_id, ())))
        done += 1
        if progress is not None and done % 1000 == 0:
            progress(1000)
    if progress is not None and done % 1000:
        progress(done % 1000)
    return out


def _row(values: tuple, events: list[Event], draft: Policy | None,
         versions: dict[int, Policy], calendars: _Calendars, now: datetime,
         escalations) -> CaseRow:
    (case_id, number, title, received_at, zone, calendar_name, country, org_id, org_name,
     org_kind, agent_id, username, first, last, status, version_id) = values
    base = dict(id=case_id, number=number or "", title=title, received_at=received_at,
                time_zone=zone, organisation_id=org_id, organisation=org_name, kind=org_kind,
                agent_id=agent_id, agent=_agent(username, first, last), status=status,
                escalations=tuple(escalations))
    if draft is None:
        policy = versions[version_id]
    else:
        policy = draft
        try:
            calendar_name = draft.calendar_for_country(country)
        except PolicyError as exc:  # pragma: no cover - calendar rules are validated
            return CaseRow(priority="", region="", error=str(exc), **base)
    try:
        calendar = calendars.get(policy, calendar_name, zone)
        state = replay(events, policy, calendar, now, calendar_name=calendar_name)
        owed = update_figures(events, policy, calendar, calendar_name, now)
    except (ReplayError, PolicyError, CalendarError) as exc:
        return CaseRow(priority=events[0].priority or "", region=calendar_name,
                       error=str(exc), **base)
    return CaseRow(priority=state.priority, region=calendar_name,
                   response=_clock(state.response), resolution=_clock(state.resolution),
                   updates_owed=owed, updates_missed=state.next_update.missed or 0, **base)


def staff_cases() -> QuerySet:
    """Every case (the command line runs as the vendor, outside any user's view)."""
    return Case.objects.all()
