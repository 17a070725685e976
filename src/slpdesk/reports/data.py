"""From the database to :class:`~slpdesk.reports.compute.CaseRow`: read a period's
cases and event logs in bulk and replay each case (K7).

Every case received in the period is replayed from its event log at ``now``
with ``slpdesk.sla.replay``, under its own policy version (the report) or
under a draft policy (the what-if simulator), exactly as
:func:`slpdesk.desk.services.sla_state` does for one case: the SLA event
types in time order, up to and including an ``excluded``. The report and
the simulator's "current" column are the same computation, so a draft that
changes nothing changes no case.

Built for a year of 100,000 cases (``bench/bench_simulate.py``): a few
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
from itertools import chain, groupby
from operator import itemgetter
from typing import NamedTuple

from django.core.exceptions import EmptyResultSet
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
    response_clock,
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
_CASE_TIMES = (CASE_FIELDS.index("received_at"),)
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
    """Compiled calendars with the stored closures, cached per (policy, name, zone),
    and the policy versions, loaded once each (:meth:`version`). One of these may
    serve many calls of :func:`replay_period` (the chunks a forked process replays):
    each calendar is then compiled once per process."""

    def __init__(self) -> None:
        self.closed = closures_by_calendar()
        self.cache: dict[tuple, BusinessCalendar] = {}
        self.versions: dict[int, Policy] = {}

    def get(self, policy: Policy, name: str, zone: str) -> BusinessCalendar:
        key = (id(policy), name, zone)
        cal = self.cache.get(key)
        if cal is None:
            cal = self.cache[key] = CalendarClosure.compiled(policy, name, zone,
                                                             self.closed.get(name, []))
        return cal

    def load_versions(self, ids) -> dict[int, Policy]:
        """The policy versions ``ids`` (and those loaded before), by id."""
        missing = set(ids) - self.versions.keys()
        if missing:
            self.versions.update((v.pk, v.load()) for v in PolicyVersion.objects.filter(
                pk__in=missing))
        return self.versions

    def version(self, pk: int) -> Policy:
        return self.load_versions((pk,))[pk]


def _with_response(row: CaseRow, response: Clock) -> CaseRow:
    """``row`` with another response clock (``dataclasses.replace``, some three times
    faster: positional, every field named)."""
    return CaseRow(row.id, row.number, row.title, row.received_at, row.time_zone,
                   row.priority, row.region, row.organisation_id, row.organisation,
                   row.kind, row.agent_id, row.agent, row.status, response, row.resolution,
                   row.updates_owed, row.updates_missed, row.escalations, row.error)


def _clock(c) -> Clock:
    return Clock(c.state, c.business_seconds, c.target_seconds, c.started, c.due, c.stopped)


def replay_period(cases: QuerySet, period: Period, now: datetime,
                  policies: Sequence[Policy | None] = (None,), *,
                  progress: Callable[[int], None] | None = None,
                  total: Callable[[int], None] | None = None,
                  facts: bool = False,
                  calendars: _Calendars | None = None) -> list[list[CaseRow]]:
    """Replay every case of ``cases`` received in ``period`` at ``now``, once per entry
    of ``policies``: ``None`` is each case's own policy version (what the desk
    shows), a :class:`Policy` a draft applied to every case as if it had been in
    force (its targets, intervals, calendars and calendar rules: a case's calendar
    follows from its site's country under the draft, C3).

    With ``facts``, a case's row under its own version is read from its stored SLA
    facts (:func:`slpdesk.reports.facts.fact_rows`, what the compliance report
    counts and equal to the replay in every figure) instead of replayed; a case
    whose facts are not computed yet is replayed. ``calendars``: compiled calendars
    and policy versions to reuse (default: new ones).

    Returns one list of rows per entry, in the order of the case ids. A case that
    cannot be replayed under a policy gets a row with ``error`` set.
    ``total(n)`` is told the number of cases first, ``progress(k)`` after each
    ``k`` cases replayed.
    """
    start, end = period.bounds
    cases = cases.filter(received_at__gte=start, received_at__lt=end)
    calendars = calendars or _Calendars()
    info: dict[int, tuple] = {}  # per case, :data:`CASE_FIELDS` (the agent's name for its three)
    stored: dict[int, CaseRow] = {}
    escalations: dict[int, Sequence[tuple[int, bool]]] = {}
    if facts:
        from .facts import fact_rows

        # The stored rows carry every column a replay needs but the site's country and
        # the policy version (read with them), and their escalations: the cases are
        # read once. Those whose facts are not computed yet are read whole below.
        places: dict[int, tuple[str, int]] = {}
        replayed = []
        for row in fact_rows(cases, None, now, calendars=calendars, places=places):
            escalations[row.id] = row.escalations
            if row.error:
                replayed.append(row.id)
                continue
            stored[row.id] = row
            country, version_id = places[row.id]
            info[row.id] = (row.id, row.number, row.title, row.received_at, row.time_zone,
                            row.region, country, row.organisation_id, row.organisation,
                            row.kind, row.agent_id, row.agent, row.status, version_id)
        whole = [cases.filter(pk__in=replayed[k:k + IDS_PER_QUERY])
                 for k in range(0, len(replayed), IDS_PER_QUERY)]
    else:
        whole = [cases]
    for qs in whole:
        for v in fast_values(qs.order_by("id").values_list(*CASE_FIELDS), _CASE_TIMES):
            info[v[0]] = (*v[:11], _agent(v[11], v[12], v[13]), v[14], v[15])
    if total is not None:
        total(len(info))
    if info and not facts:
        for case_id, level, acked in (Escalation.objects.filter(case__in=cases)
                                      .values_list("case_id", "level", "acknowledged_at")
                                      .iterator(chunk_size=CHUNK)):
            escalations.setdefault(case_id, []).append((level, acked is not None))
    versions = calendars.load_versions({values[-1] for values in info.values()})
    same: dict[tuple, frozenset[str]] = {}
    out: list[list[CaseRow]] = [[] for _ in policies]
    if not info:
        return out

    # Cases whose stored row is every policy's row (each draft replays them alike, by
    # the priorities their events name): their event logs are not read at all.
    alike = _alike_under_all(cases, stored, info, versions, policies, same)
    events = _event_rows_of(cases, None if not alike else
                            sorted(info.keys() - alike))
    done = 0
    pending = iter(sorted(alike))
    next_alike = next(pending, None)
    for case_id, group in chain(groupby(events, key=itemgetter(0)), [(None, ())]):
        while next_alike is not None and (case_id is None or next_alike < case_id):
            for rows in out:
                rows.append(stored[next_alike])
            next_alike = next(pending, None)
            done += 1
            if progress is not None and done % 1000 == 0:
                progress(1000)
        if case_id is None:
            break
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
        own = None  # the row under the case's own version, once replayed
        for k, policy in enumerate(policies):
            if policy is None and case_id in stored:
                own = stored[case_id]
                out[k].append(own)
                continue
            how = "" if policy is None or own is None or own.error else \
                _replays_alike(same, versions[values[-1]], policy, values[5], values[6],
                               _codes(sla_events))
            if how == "same":
                row = own
            elif how == "response":
                calendar = calendars.get(policy, values[5], values[4])
                row = _with_response(own, _clock(response_clock(
                    sla_events, policy, calendar, case_now, values[5])))
            else:
                row = _row(values, sla_events, policy, versions, calendars, case_now,
                           escalations.get(case_id, ()))
                if policy is None:
                    own = row
            out[k].append(row)
        done += 1
        if progress is not None and done % 1000 == 0:
            progress(1000)
    if progress is not None and done % 1000:
        progress(done % 1000)
    return out


_PRIORITY_TYPES = frozenset(("received", "priority_assigned"))
_TARGETS = ("response", "resolution", "update_interval")


def _alike_priorities(version: Policy, draft: Policy,
                      name: str) -> tuple[frozenset[str], frozenset[str]]:
    """The priority codes under which a case on calendar ``name`` replays the same
    under ``version`` and ``draft`` (everything ``replay`` and ``update_figures``
    read of a policy is equal: the calendar's spec, the at-risk fraction, the
    priority codes and their three targets in seconds on that calendar), and those
    that differ in the response target alone. Both empty when the calendar or the
    fraction differs."""
    spec = version.calendars.get(name)
    if spec is None or spec != draft.calendars.get(name) \
            or version.at_risk_fraction != draft.at_risk_fraction:
        return frozenset(), frozenset()
    alike, response = set(), set()
    for code, mine in version.priorities.items():
        theirs = draft.priorities.get(code)
        if theirs is None or theirs.code != mine.code or any(
                getattr(mine, t).seconds(spec) != getattr(theirs, t).seconds(spec)
                for t in _TARGETS[1:]):
            continue
        if mine.response.seconds(spec) == theirs.response.seconds(spec):
            alike.add(code)
        else:
            response.add(code)
    return frozenset(alike), frozenset(alike | response)


def _codes(events: list) -> set:
    """The priorities a case's events name (as received or assigned)."""
    return {ev.priority for ev in events if ev.type in _PRIORITY_TYPES}


#: Case ids per query of :func:`_event_rows_of` (under SQLite's limit of variables).
IDS_PER_QUERY = 10_000


def _event_rows_of(cases: QuerySet, ids: list[int] | None):
    """The SLA event rows of ``cases`` (of the cases ``ids`` only, in id order, when
    given), ordered by case, time and id (:func:`_event_rows`)."""
    qs = CaseEvent.objects.filter(type__in=SLA_TYPES).order_by("case_id", "at", "id")
    if ids is None:
        return _event_rows(qs.filter(case__in=cases).values_list(*EVENT_FIELDS))
    if connections[cases.db].vendor == "postgresql":
        # One query, the ids as one array parameter: Django's ``__in`` prepares each of
        # some 50,000 ids one by one, and the server plans a list of that length.
        return _event_rows(qs.extra(where=[f"{CaseEvent._meta.db_table}.case_id = ANY(%s)"],
                                    params=[ids]).values_list(*EVENT_FIELDS))
    return chain.from_iterable(
        _event_rows(qs.filter(case_id__in=ids[k:k + IDS_PER_QUERY])
                    .values_list(*EVENT_FIELDS))
        for k in range(0, len(ids), IDS_PER_QUERY))


def _alike_under_all(cases: QuerySet, stored: dict, info: dict, versions: dict,
                     policies: Sequence[Policy | None], cache: dict) -> set[int]:
    """The cases with a stored row (``stored``) that every policy of ``policies``
    replays alike (``None``, the case's own version, does by definition; a draft
    when :func:`_replays_alike` says ``"same"``), judged by the priorities all their
    ``received`` and ``priority_assigned`` events name - a superset of those
    replay reads (it stops at an exclusion), so never "same" wrongly. Only cases
    with such events (those with none are left to the event loop, which skips a
    case without SLA events as before)."""
    if not stored:
        return set()
    drafts = [p for p in policies if p is not None]
    codes: dict[int, set] = {}
    # Bounded by the cases' ids too (a no-op for the rows) and unordered: PostgreSQL then
    # reads the range of a forked process's chunk from the events' index instead of
    # scanning every event of the desk for each chunk.
    for case_id, priority in fast_values(CaseEvent.objects.filter(
            case__in=cases, case_id__gte=min(info), case_id__lte=max(info),
            type__in=_PRIORITY_TYPES).order_by().values_list("case_id", "priority"), ()):
        codes.setdefault(case_id, set()).add(priority or None)
    out = set()
    # Per (version, calendar, country): the priorities every draft replays alike there
    # (a case is "same" under a draft when all it names are among them).
    allowed: dict[tuple, frozenset | None] = {}
    for case_id, named in codes.items():
        values = info.get(case_id)
        if values is None or case_id not in stored:
            continue
        key = (values[-1], values[5], values[6])
        codes_alike = allowed.get(key, False)
        if codes_alike is False:
            codes_alike = allowed[key] = _alike_codes(cache, versions[values[-1]], drafts,
                                                      values[5], values[6])
        if codes_alike is None or named <= codes_alike:
            out.add(case_id)
    return out


def _alike_codes(cache: dict, version: Policy, drafts: list[Policy], name: str,
                 country: str) -> frozenset | None:
    """The priorities under which a case (as :func:`_replays_alike` says) replays the
    "same" under every one of ``drafts`` (None: any, there are no drafts)."""
    out = None
    for draft in drafts:
        key = (id(version), id(draft), name)
        found = cache.get(key)
        if found is None:
            found = cache[key] = _alike_priorities(version, draft, name)
        try:
            alike = found[0] if draft.calendar_for_country(country) == name else frozenset()
        except PolicyError:  # pragma: no cover - calendar rules are validated
            alike = frozenset()
        out = alike if out is None else out & alike
    return out


def _replays_alike(cache: dict, version: Policy, draft: Policy, name: str, country: str,
                   codes: set) -> str:
    """How the case (on calendar ``name`` under its own ``version``, its site in
    ``country``, its events naming the priorities ``codes``) replays under
    ``draft``: ``"same"`` to the same row (the draft gives it the same calendar and
    every priority its events name replays alike, :func:`_alike_priorities`, so
    ``replay`` and ``update_figures`` compute the same from the same inputs),
    ``"response"`` the same but for the response clock, else ``""``. Only for a
    row without an error (the error texts may name the policy)."""
    key = (id(version), id(draft), name)
    found = cache.get(key)
    if found is None:
        found = cache[key] = _alike_priorities(version, draft, name)
    alike, response = found
    if not response:
        return ""
    try:
        if draft.calendar_for_country(country) != name:
            return ""
    except PolicyError:  # pragma: no cover - calendar rules are validated
        return ""
    if codes <= alike:
        return "same"
    return "response" if codes <= response else ""


class _Event(NamedTuple):
    """An event as ``replay`` reads it (:class:`slpdesk.sla.Event`'s fields; a tuple
    is made some ten times faster than the frozen dataclass, 800,000 a year)."""

    at: datetime
    type: str
    priority: str | None
    kind: str | None
    resolution: str | None


def fast_values(qs: QuerySet, times: Sequence[int]):
    """The rows of ``qs`` (``values_list``; the columns at ``times`` are date-times),
    streamed. On SQLite read with the driver's cursor, the times
    made aware here as Django does (UTC): Django's per-value converters are most of
    the cost of reading a year's events or facts through the ORM. Only for columns
    that need no other converter (text, integers, times)."""
    connection = connections[qs.db]
    if connection.vendor not in ("sqlite", "postgresql"):  # pragma: no cover
        yield from qs.iterator(chunk_size=CHUNK)
        return
    try:
        sql, params = qs.query.sql_with_params()
    except EmptyResultSet:  # a filter that matches nothing (``pk__in=[]``)
        return
    if connection.vendor == "postgresql":
        yield from _pg_rows(connection, sql, params)
        return
    parse = datetime.fromisoformat
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(CHUNK):
            for row in rows:
                for k in times:
                    at = row[k]
                    if at is not None and (at.__class__ is str or at.tzinfo is None):
                        break
                else:  # each already aware (``slpdesk.sqlite_times`` read it) or null
                    yield row
                    continue
                row = list(row)
                for k in times:
                    at = row[k]  # the driver's converter parsed it (naive UTC), or text
                    if at is not None:
                        if at.__class__ is str:
                            at = parse(at)
                        row[k] = at if at.tzinfo else at.replace(tzinfo=UTC)
                yield row


def _pg_rows(connection, sql: str, params):
    """The rows of a query on PostgreSQL, with psycopg's own (compiled) loader of
    ``timestamptz``: Django's replaces the value's zone in Python, value by value,
    most of the cost of reading a year's facts. The connection's time zone is UTC
    (Django sets it), so the values are aware UTC as Django's; one round trip
    (Django's cursor fetches the whole result)."""
    from psycopg.types.datetime import TimestamptzLoader

    with connection.cursor() as cursor:
        cursor.cursor.adapters.register_loader("timestamptz", TimestamptzLoader)
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(CHUNK):
            yield from rows


def _event_rows(qs: QuerySet):
    """The rows of ``qs`` (``values_list``, a time second), streamed
    (:func:`fast_values`)."""
    return fast_values(qs, (1,))


def _row(values: tuple, events: list[Event], draft: Policy | None,
         versions: dict[int, Policy], calendars: _Calendars, now: datetime,
         escalations) -> CaseRow:
    (case_id, number, title, received_at, zone, calendar_name, country, org_id, org_name,
     org_kind, agent_id, agent, status, version_id) = values
    base = dict(id=case_id, number=number or "", title=title, received_at=received_at,
                time_zone=zone, organisation_id=org_id, organisation=org_name, kind=org_kind,
                agent_id=agent_id, agent=agent, status=status,
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
                             job["now"], job["policies"], facts=job["facts"],
                             calendars=job["calendars"])
        return rows if job["fold"] is None else (len(rows[0]), job["fold"](rows))
    finally:
        connections.close_all()


def replay_period_folded(cases: QuerySet, period: Period, now: datetime,
                         policies: Sequence[Policy | None], fold: Callable, *,
                         processes: int | None = None,
                         progress: Callable[[int], None] | None = None,
                         total: Callable[[int], None] | None = None,
                         facts: bool = False) -> list:
    """:func:`replay_period` on every core, each process handing back not its rows
    but ``fold(rows)`` (one list of rows per policy: say, their tallies), so that
    little crosses between processes. Returns the folds of consecutive chunks of
    cases in id order (one chunk when it runs in this process)."""
    return replay_period_parallel(cases, period, now, policies, processes=processes,
                                  progress=progress, total=total, fold=fold, facts=facts)


def replay_period_parallel(cases: QuerySet, period: Period, now: datetime,
                           policies: Sequence[Policy | None] = (None,), *,
                           processes: int | None = None,
                           progress: Callable[[int], None] | None = None,
                           total: Callable[[int], None] | None = None,
                           fold: Callable | None = None, facts: bool = False) -> list:
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
        rows = replay_period(cases, period, now, policies, progress=progress, total=total,
                             facts=facts)
        return rows if fold is None else [fold(rows)]
    if total is not None:
        total(len(ids))
    parts = processes * 4  # smaller pieces even out the cores and move the progress bar
    step = -(-len(ids) // parts)
    ranges = [(ids[k], ids[min(k + step, len(ids)) - 1]) for k in range(0, len(ids), step)]
    # One cache per process, kept from chunk to chunk (each process compiles a
    # calendar once); the closures are read here, once.
    _JOB.update(cases=cases, period=period, now=now, policies=policies, fold=fold,
                facts=facts, calendars=_Calendars())
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
