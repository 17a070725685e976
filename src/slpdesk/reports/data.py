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

import multiprocessing
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from itertools import groupby
from operator import itemgetter
from typing import NamedTuple

from django.db import connections
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
    update_figures,
)

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

    events = _event_rows(CaseEvent.objects.filter(case__in=cases, type__in=SLA_TYPES)
                         .order_by("case_id", "at", "id").values_list(*EVENT_FIELDS))
    done = 0
    for case_id, group in groupby(events, key=itemgetter(0)):
        values = info.get(case_id)
        if values is None:  # received in the period after the first query
            continue
        sla_events = []
        for _, at, type_, priority, kind, resolution in group:
            sla_events.append(_Event(at, type_, priority or None, kind or None,
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


class _Event(NamedTuple):
    """An event as ``replay`` reads it (:class:`slpdesk.sla.Event`'s fields; a tuple
    is made some ten times faster than the frozen dataclass, 800,000 a year)."""

    at: datetime
    type: str
    priority: str | None
    kind: str | None
    resolution: str | None


def _event_rows(qs: QuerySet):
    """The rows of ``qs`` (``values_list``, a time second), streamed. On SQLite read
    with the driver's cursor, the times made aware here as Django does (UTC):
    Django's per-value converters are most of the cost of reading a year's events
    through the ORM."""
    connection = connections[qs.db]
    if connection.vendor != "sqlite":
        yield from qs.iterator(chunk_size=CHUNK)
        return
    sql, params = qs.query.sql_with_params()
    parse = datetime.fromisoformat
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(CHUNK):
            for row in rows:
                at = row[1]  # the driver's converter parsed it (naive UTC), or text
                if at.__class__ is str:
                    at = parse(at)
                yield (row[0], at if at.tzinfo else at.replace(tzinfo=UTC), *row[2:])


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


# ------------------------------------------------------------- on every core
#: What the forked processes of :func:`replay_period_parallel` replay (set before
#: the fork, so nothing but the id ranges crosses to them).
_JOB: dict = {}
#: Fewer cases than this are replayed in the calling process.
PARALLEL_FROM = 5000


def _can_fork(cases: QuerySet) -> bool:
    """Other processes see the same data: not inside a transaction (a test's, an
    atomic request's) and not an in-memory SQLite database."""
    conn = connections[cases.db]
    if conn.in_atomic_block:
        return False
    return not (conn.vendor == "sqlite" and conn.is_in_memory_db())


def _replay_range(bounds: tuple[int, int]):
    lo, hi = bounds
    job = _JOB
    try:
        rows = replay_period(job["cases"].filter(pk__gte=lo, pk__lte=hi), job["period"],
                             job["now"], job["policies"])
        return rows if job["fold"] is None else (len(rows[0]), job["fold"](rows))
    finally:
        connections.close_all()


def replay_period_folded(cases: QuerySet, period: Period, now: datetime,
                         policies: Sequence[Policy | None], fold: Callable, *,
                         processes: int | None = None,
                         progress: Callable[[int], None] | None = None,
                         total: Callable[[int], None] | None = None) -> list:
    """:func:`replay_period` on every core, each process handing back not its rows
    but ``fold(rows)`` (one list of rows per policy: say, their tallies), so that
    little crosses between processes. Returns the folds of consecutive chunks of
    cases in id order (one chunk when it runs in this process)."""
    return replay_period_parallel(cases, period, now, policies, processes=processes,
                                  progress=progress, total=total, fold=fold)


def replay_period_parallel(cases: QuerySet, period: Period, now: datetime,
                           policies: Sequence[Policy | None] = (None,), *,
                           processes: int | None = None,
                           progress: Callable[[int], None] | None = None,
                           total: Callable[[int], None] | None = None,
                           fold: Callable | None = None) -> list:
    """:func:`replay_period` on every core: the period's cases split by id into
    ranges, each replayed in a forked process (its own database connection), the
    rows put back in id order. Same rows, same order; in one process when there
    are few cases, one core, or the data is not visible to another process. With
    ``fold``, the list of each range's ``fold(rows)`` instead
    (:func:`replay_period_folded`)."""
    processes = processes or len(os.sched_getaffinity(0))
    start, end = period.bounds
    ids = list(cases.filter(received_at__gte=start, received_at__lt=end).order_by("id")
               .values_list("id", flat=True))
    if processes < 2 or len(ids) < PARALLEL_FROM or not _can_fork(cases):
        rows = replay_period(cases, period, now, policies, progress=progress, total=total)
        return rows if fold is None else [fold(rows)]
    if total is not None:
        total(len(ids))
    parts = processes * 4  # smaller pieces even out the cores and move the progress bar
    step = -(-len(ids) // parts)
    ranges = [(ids[k], ids[min(k + step, len(ids)) - 1]) for k in range(0, len(ids), step)]
    _JOB.update(cases=cases, period=period, now=now, policies=policies, fold=fold)
    connections.close_all()  # the children open their own
    out: list = [[] for _ in policies] if fold is None else []
    try:
        with multiprocessing.get_context("fork").Pool(processes) as pool:
            for part in pool.imap(_replay_range, ranges):
                if fold is None:
                    for k, rows in enumerate(part):
                        out[k].extend(rows)
                    done = len(part[0])
                else:
                    done, folded = part
                    out.append(folded)
                if progress is not None:
                    progress(done)
    finally:
        _JOB.clear()
    return out


def staff_cases() -> QuerySet:
    """Every case (the command line runs as the vendor, outside any user's view)."""
    return Case.objects.all()
