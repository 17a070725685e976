"""Every state change of a case, as one verb function each.

Each verb takes the object, the acting user and ``now`` (read once by the
caller) and, in one transaction: locks and re-reads the case, checks the
transition (raising :class:`DeskError` with a translatable message, before
anything is written), appends :class:`CaseEvent` rows, recomputes the SLA
columns with :func:`refresh_sla` (with ``next_sla_event_at``, when the worker
next has something to do for the case), and writes the e-mails the change
causes to the outbox (:mod:`slpdesk.mail.notifications`). Views, API, e-mail
intake and worker call these; nothing else assigns a case's status.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import connections, transaction
from django.db.backends.postgresql.psycopg_any import is_psycopg3
from django.db.models import Q, Sum
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from slpdesk.mail import notifications as notify
from slpdesk.sla import SITE_ZONE, Event, Policy, SlaState, get_zone, replay, update_figures
from slpdesk.webhooks import events as hooks
from slpdesk.webhooks.models import Event as Hook
from slpdesk.worker import schedule

from . import access
from .models import (
    QUEUE_LAST,
    Attachment,
    CalendarClosure,
    Case,
    CaseEvent,
    Escalation,
    Message,
    Organisation,
    PolicyVersion,
    RecomputeWaiting,
    Release,
    Site,
    SlaNotice,
    User,
    WorkerHeartbeat,
)

Status = Case.Status
Entitlement = Case.Entitlement
EventType = CaseEvent.Type


class DeskError(Exception):
    """A change the desk refuses; ``code`` is stable, the message is translated when shown."""

    def __init__(self, code: str, message, **params):
        super().__init__(code)
        self.code = code
        self.message = message
        self.params = params

    def __str__(self) -> str:
        return str(self.message) % self.params if self.params else str(self.message)


# ------------------------------------------------------------------ helpers
def _check_now(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")


def _lock(case: Case, now: datetime) -> None:
    """Re-read ``case`` under a row lock (SQLite: the IMMEDIATE transaction's lock)."""
    _check_now(now)
    case.refresh_from_db(from_queryset=Case.objects.select_for_update())
    if now < case.updated_at:
        raise DeskError("clock", _("The time of this change is before the case's last change."))


def _require_staff(actor: User) -> None:
    if not access.can_work(actor):
        raise DeskError("forbidden", _("Only support staff can do this."))


def _require_visible(case: Case, actor: User) -> None:
    if not access.can_see(actor, case.pk):
        raise DeskError("forbidden", _("You cannot change this case."))


def _require_open(case: Case) -> None:
    if case.status == Status.CLOSED:
        raise DeskError("closed", _("Case %(number)s is closed."), number=case.number)
    if case.status == Status.RESOLVED:
        raise DeskError("resolved", _("Case %(number)s is resolved; reopen it first."),
                        number=case.number)


def _require_text(text: str, what) -> str:
    text = (text or "").strip()
    if not text:
        raise DeskError("empty", _("Please write %(what)s."), what=what)
    return text


def _append(case: Case, type: str, *, actor: User | None, now: datetime, **fields) -> CaseEvent:
    return CaseEvent.objects.create(case=case, at=now, type=type, actor=actor, **fields)


def _save(case: Case, now: datetime, *fields: str) -> None:
    case.updated_at = now
    case.save(update_fields=[*fields, "updated_at"])


def _contact_event(case: Case) -> str:
    """``responded`` for support's first contact (K1), ``status_update`` after it (K5)."""
    contacted = case.events.filter(
        type__in=[EventType.RESPONDED, EventType.STATUS_UPDATE, EventType.INFO_REQUESTED,
                  EventType.RESOLVED]).exists()
    return EventType.STATUS_UPDATE if contacted else EventType.RESPONDED


# -------------------------------------------------------------------- SLA
#: The SLA columns of a case, all written by :func:`store_sla` (with
#: ``sla_computed_at``) and checked by :mod:`slpdesk.desk.audit`: the due times and
#: states the queues and the worker read, the queue's order, and the facts the
#: reports aggregate (:mod:`slpdesk.reports.facts`).
SLA_COLUMNS = (
    "response_due", "resolution_due", "next_update_due", "earliest_due",
    "response_state", "resolution_state", "next_update_state", "response_stopped",
    "resolution_stopped", "next_update_stopped", "next_sla_event_at", "queue_due",
    "sla_priority", "response_outcome", "response_open_due", "response_started",
    "response_seconds", "response_target", "resolution_outcome", "resolution_open_due",
    "resolution_started", "resolution_seconds", "resolution_target", "updates_owed",
    "updates_missed", "update_open_due", "response_paused", "response_paused_since",
    "resolution_paused", "resolution_paused_since",
)
_SLA_TYPES = sorted(CaseEvent.SLA_TYPES)
_VERDICTS = ("met", "breached", "not_applicable")


def sla_events(rows) -> list[Event]:
    """The engine's events from a case's history in time order, ``rows`` of
    ``(at, type, priority, kind, resolution)``: the SLA types, up to and including
    an ``excluded`` (E2-E6 end the SLA inside the engine; what the desk records
    after it, notes and files, is not the clock's business)."""
    events = []
    for at, type_, priority, kind, resolution in rows:
        if type_ in CaseEvent.SLA_TYPES:
            events.append(Event(at, type_, priority or None, kind or None, resolution or None))
            if type_ == EventType.EXCLUDED:
                break
    return events


def cases_sla_events(case_ids) -> dict[int, list[Event]]:
    """:func:`sla_events` of many cases in one query, its rows read as plain tuples
    (a recompute reads some 8 events a case)."""
    rows: dict[int, list] = {pk: [] for pk in case_ids}
    if not rows:
        return {}
    connection = connections[CaseEvent.objects.db]
    qn = connection.ops.quote_name
    ids = list(rows)
    sql = (f"SELECT {qn('case_id')}, {qn('at')}, {qn('type')}, {qn('priority')}, "
           f"{qn('kind')}, {qn('resolution')} FROM {qn(CaseEvent._meta.db_table)} "
           f"WHERE {qn('case_id')} {_in(connection, ids)[0]} "
           f"AND {qn('type')} {_in(connection, _SLA_TYPES)[0]} "
           f"ORDER BY {qn('case_id')}, {qn('at')}, {qn('id')}")
    with connection.cursor() as cursor:
        cursor.execute(sql, [*_in(connection, ids)[1], *_in(connection, _SLA_TYPES)[1]])
        while chunk := cursor.fetchmany(5000):
            for case_id, at, *rest in chunk:
                rows[case_id].append((utc(at), *rest))
    return {pk: sla_events(r) for pk, r in rows.items()}


def utc(value) -> datetime:
    """A datetime column's value as an aware UTC datetime (SQLite stores UTC text)."""
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return value if value.tzinfo is UTC else value.astimezone(UTC)


def sla_state(case: Case, now: datetime, closed: list | None = None,
              events: list[Event] | None = None, calendar=None) -> SlaState:
    """The SLA state of ``case`` at ``now``: ``replay`` over its events (K7).

    ``closed`` are the calendar's closure dates and ``events`` the case's
    :func:`sla_events`, when the caller has read them already (a batch);
    ``calendar``, the case's compiled calendar with ``closed``, likewise.
    """
    if events is None:
        events = cases_sla_events([case.pk])[case.pk]
    if calendar is None:
        calendar = case.business_calendar(closed)
    return replay(events, case.policy(), calendar, now, calendar_name=case.calendar)


def _clock_facts(clock, last: datetime) -> tuple:
    """(outcome, open due, started, measured seconds, target, paused seconds, paused
    since) of a response or resolution clock, as of the case's last SLA event
    ``last``: a clock still running has no verdict unless its due time had passed
    by then; it turns breached once ``now`` passes the open due time (K6), as
    ``replay`` at a later ``now`` would say. A clock that started and has not
    stopped has counted ``between(started, paused since or now) - paused seconds``
    at any later ``now`` (the pause facts are null for any other clock)."""
    due = None
    if clock.is_live:
        outcome = "breached" if last > clock.due else "open"
        due = clock.due if outcome == "open" else None
    else:
        outcome = clock.state if clock.state in _VERDICTS else "open"
    measured = outcome in ("met", "breached") and clock.stopped is not None \
        and clock.started is not None
    live = clock.started is not None and clock.stopped is None
    return (outcome, due, clock.started, clock.business_seconds if measured else None,
            clock.target_seconds, clock.paused_seconds if live else None,
            clock.paused_since if live else None)


def sla_columns(case: Case, state: SlaState, closed: list, fired: set | None = None, *,
                events: list[Event], now: datetime, calendar=None) -> dict[str, object]:
    """The value of each of :data:`SLA_COLUMNS` for ``state`` (``replay`` of the case's
    ``events`` at ``now``; ``fired``: the case's SLA notices as ``(kind, clock,
    due)``, when the caller has read them). The facts are what replay says at the
    case's last SLA event, and when that changes. ``calendar``: the case's compiled
    calendar with ``closed``, when the caller has it."""
    if calendar is None:
        calendar = case.business_calendar(closed)
    now = now.astimezone(UTC)
    earliest = state.earliest_due()
    last = events[-1].at.astimezone(UTC)
    response = _clock_facts(state.response, last)
    resolution = _clock_facts(state.resolution, last)
    update = state.next_update
    late_now = int(update.is_live and now > update.due)
    late_then = int(update.is_live and last > update.due)
    policy = case.policy()
    return {
        "response_due": state.response.due,
        "resolution_due": state.resolution.due,
        "next_update_due": update.due,
        "earliest_due": earliest,
        "response_state": state.response.state,
        "resolution_state": state.resolution.state,
        "next_update_state": update.state,
        "response_stopped": state.response.stopped,
        "resolution_stopped": state.resolution.stopped,
        "next_update_stopped": update.stopped,
        "next_sla_event_at": next_sla_event(case, state, closed, fired, calendar=calendar),
        "queue_due": earliest or QUEUE_LAST,
        "sla_priority": state.priority,
        **dict(zip(("response_outcome", "response_open_due", "response_started",
                    "response_seconds", "response_target", "response_paused",
                    "response_paused_since"), response, strict=True)),
        **dict(zip(("resolution_outcome", "resolution_open_due", "resolution_started",
                    "resolution_seconds", "resolution_target", "resolution_paused",
                    "resolution_paused_since"), resolution, strict=True)),
        "updates_owed": update_figures(events, policy, calendar, case.calendar, last),
        "updates_missed": (update.missed or 0) - late_now + late_then,
        "update_open_due": update.due if update.is_live and not late_then else None,
    }


def store_sla(cases, now: datetime, closed: dict[str, list] | None = None, *,
              events: dict[int, list[Event]] | None = None, new: bool = False,
              write: bool = True, changed_only: bool = False) -> list[SlaState]:
    """Replay ``cases`` at ``now`` (or each case's last change, if later) and store
    every SLA column (:data:`SLA_COLUMNS`, :func:`sla_columns`) with
    ``sla_computed_at``: the one writer of these columns, for one case (a
    service's change, :func:`refresh_sla`) or a batch (the worker's recompute, the
    bench's loader): the events of all the cases in one query, their notices in
    one, then one UPDATE per case (on PostgreSQL one for the batch, or for the
    cases whose changed columns are the same: :func:`_update_many`). ``closed``
    maps calendar names to closure dates already read (filled in as needed);
    ``events``, the cases' SLA events when the caller has the events already (a
    new case, whose events are about to be written); ``new``: no notice was ever
    fired for them; ``write``: false when the caller writes the columns (a case
    not yet inserted, whose INSERT carries them: they are only set on it here);
    ``changed_only``: the cases carry their stored SLA columns (read in this
    transaction, rows locked), and only the columns whose value changes are
    written (a recompute after a calendar change leaves most of them as they
    are: no index over an unchanged column is touched, on PostgreSQL none at all
    while no indexed column changes). Returns the states, in the order of
    ``cases``."""
    closed = {} if closed is None else closed
    if events is None:
        events = cases_sla_events([case.pk for case in cases])
    done = []
    compiled: dict[tuple, object] = {}  # one compiled calendar per version, name and zone
    for case in cases:
        at = max(now, case.updated_at)
        if case.calendar not in closed:
            closed[case.calendar] = CalendarClosure.dates(case.calendar)
        key = (case.policy_version_id, case.calendar, case.time_zone)
        calendar = compiled.get(key)
        if calendar is None:
            calendar = compiled[key] = case.business_calendar(closed[case.calendar])
        state = sla_state(case, at, closed[case.calendar], events[case.pk], calendar)
        done.append((case, state, at, calendar))
    fired: dict[int, set] = {}
    if not new and cases:
        connection = connections[SlaNotice.objects.db]
        qn = connection.ops.quote_name
        where, params = _in(connection, [case.pk for case in cases])
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {qn('case_id')}, {qn('kind')}, {qn('clock')}, {qn('due')} "
                           f"FROM {qn(SlaNotice._meta.db_table)} WHERE {qn('case_id')} "
                           f"{where}", params)
            for case_id, kind, clock, due in cursor.fetchall():
                fired.setdefault(case_id, set()).add((kind, clock, utc(due)))
    groups: dict[tuple[str, ...], list[Case]] = {}  # changed columns -> cases
    for case, state, at, calendar in done:
        columns = sla_columns(case, state, closed[case.calendar], fired.get(case.pk, set()),
                              events=events[case.pk], now=at, calendar=calendar)
        columns["sla_computed_at"] = at
        if changed_only:
            stored = case.__dict__
            changed = tuple(name for name, value in columns.items() if stored[name] != value)
            groups.setdefault(changed, []).append(case)
        for column, value in columns.items():
            setattr(case, column, value)
    states = [state for _case, state, _at, _calendar in done]
    if not write:  # the caller's INSERT carries the columns
        return states
    if changed_only:
        for names, group in groups.items():
            _update_many(group, names)
    elif len(cases) == 1 and isinstance(cases[0], Case):
        cases[0].save(update_fields=[*SLA_COLUMNS, "sla_computed_at"])
    elif cases:
        _update_many(cases)
    return states


def _update_many(cases, names: tuple[str, ...] = (*SLA_COLUMNS, "sla_computed_at")) -> None:
    """Write the columns ``names`` (by default every SLA column) of many cases. On
    PostgreSQL one ``UPDATE ... FROM unnest(...)`` with an array a column, bound by
    the server through the driver's own cursor, whatever ``SLPDESK_DB_PREPARE``
    says (one statement for the batch: one UPDATE a case cost the server some
    160 µs a row, and client-side binding quotes every value into the text);
    elsewhere one UPDATE by id, executed for each (``bulk_update``'s CASE
    expressions cost some 50 ms a case to build). Times go in as the backend
    stores them (SQLite: UTC text, as Django writes it)."""
    if not names:
        return
    connection = connections[Case.objects.db]
    qn = connection.ops.quote_name
    fields = [Case._meta.get_field(name) for name in names]
    table = qn(Case._meta.db_table)
    attnames = [f.attname for f in fields]
    if connection.vendor == "postgresql" and is_psycopg3:
        import psycopg

        arrays = [[getattr(case, name) for case in cases] for name in attnames]
        arrays.append([case.pk for case in cases])
        columns = [qn(f.column) for f in fields]
        sql = (f"UPDATE {table} SET " + ", ".join(f"{c} = v.{c}" for c in columns)
               + " FROM unnest(" + ", ".join(f"%s::{f.db_type(connection)}[]" for f in fields)
               + f", %s::{Case._meta.pk.rel_db_type(connection)}[]) "
               f"AS v({', '.join(columns)}, {qn('id')}) "
               f"WHERE {table}.{qn('id')} = v.{qn('id')}")
        connection.ensure_connection()
        with psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(sql, arrays)
        return
    sql = (f"UPDATE {table} SET " + ", ".join(f"{qn(f.column)} = %s" for f in fields)
           + f" WHERE {qn('id')} = %s")
    if connection.vendor == "sqlite":
        times = {f.attname for f in fields if f.get_internal_type() == "DateTimeField"}

        def row(case) -> list:
            values = []
            for name in attnames:
                v = getattr(case, name)
                if v is not None and name in times:
                    v = str((v if v.tzinfo is UTC else v.astimezone(UTC)).replace(tzinfo=None))
                values.append(v)
            values.append(case.pk)
            return values
    else:
        def row(case) -> list:
            return [*(getattr(case, name) for name in attnames), case.pk]

    with connection.cursor() as cursor:
        cursor.executemany(sql, [row(case) for case in cases])


def refresh_sla(case: Case, now: datetime, closed: list | None = None) -> SlaState:
    """Recompute one case's SLA columns (:func:`store_sla`)."""
    return store_sla([case], now, None if closed is None else {case.calendar: closed})[0]


def next_sla_event(case: Case, state: SlaState, closed: list,
                   fired: set | None = None, *, calendar=None) -> datetime | None:
    """The earliest SLA moment of ``case`` the worker has not acted on yet (a warning,
    a breach, an update reminder; :mod:`slpdesk.worker.schedule`), or None."""
    if calendar is None:
        calendar = case.business_calendar(closed)
    moments = schedule.moments(state, calendar, case.policy().at_risk_fraction)
    if not moments:
        return None
    if fired is None:
        fired = set(SlaNotice.objects.filter(case=case).values_list("kind", "clock", "due"))
    return schedule.next_of(moments, fired)


#: What a recompute reads of a case (the rest of the row is not needed): what the
#: replay needs, and the stored SLA columns, so that only those that change are
#: written (SQLite then leaves every index over an unchanged column alone;
#: PostgreSQL makes a heap-only update, no index entry, of a row whose indexed
#: columns keep their values, and the cases that changed alike are written in one
#: statement: after a calendar change, most often ``sla_computed_at`` alone).
_RECOMPUTE_READS = ("id", "policy_version_id", "calendar", "time_zone", "updated_at",
                    "next_sla_event_at", "number")
_RECOMPUTE_STORED = tuple(name for name in (*SLA_COLUMNS, "sla_computed_at")
                          if name not in _RECOMPUTE_READS)
#: Cases recomputed per transaction by :func:`recompute_cases`.
RECOMPUTE_BATCH = 500


class StoredCase:
    """A case as a recompute reads it (:data:`_RECOMPUTE_READS`, one plain row, not a
    model instance: building 500 of those cost more than recomputing them), with
    what :func:`store_sla` asks of a case."""

    def __init__(self, values: dict, policy_version: PolicyVersion):
        self.__dict__.update(values)
        self.policy_version = policy_version

    @property
    def pk(self) -> int:
        return self.id

    def policy(self) -> Policy:
        return self.policy_version.load()

    def business_calendar(self, closed: list | None = None):
        return CalendarClosure.compiled(self.policy(), self.calendar, self.time_zone, closed)


def _in(connection, values) -> tuple[str, list]:
    """``IN (%s, ...)`` and its parameters for ``values`` (built directly: Django's
    ``pk__in`` prepares each of 500 values on its own); ``= ANY(%s)`` with one
    array on PostgreSQL, whose driver binds every value into the statement's text
    (a long list of placeholders costs more to bind than the query costs)."""
    if connection.vendor == "postgresql":
        return "= ANY(%s)", [list(values)]
    return f"IN ({', '.join(['%s'] * len(values))})", list(values)


def recompute_cases(ids, now: datetime, closed: dict[str, list] | None = None
                    ) -> list[StoredCase]:
    """Recompute the cases ``ids`` in one transaction (rows locked, events and
    notices read for all at once, only the columns that changed written:
    :func:`store_sla`), taken off the worker's list
    (:class:`RecomputeWaiting`). Returns them."""
    ids = [int(pk) for pk in ids]
    if not ids:
        return []
    connection = connections[Case.objects.db]
    qn = connection.ops.quote_name
    fields = [Case._meta.get_field(name) for name in (*_RECOMPUTE_READS, *_RECOMPUTE_STORED)]
    names = [f.attname for f in fields]
    where, params = _in(connection, ids)
    sql = (f"SELECT {', '.join(qn(f.column) for f in fields)} FROM {qn(Case._meta.db_table)} "
           f"WHERE {qn('id')} {where} ORDER BY {qn('id')}")
    if connection.features.has_select_for_update:
        sql += " FOR UPDATE"
    with transaction.atomic():
        with connection.cursor() as cursor:
            # Off the worker's list (before the cases are locked, in the order
            # request_recompute takes its locks).
            cursor.execute(f"DELETE FROM {qn(RecomputeWaiting._meta.db_table)} "
                           f"WHERE {qn('case_id')} {where}", params)
            cursor.execute(sql, params)
            rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        versions = PolicyVersion.objects.in_bulk({row["policy_version_id"] for row in rows})
        cases = [StoredCase(row, versions[row["policy_version_id"]]) for row in rows]
        for case in cases:  # SQLite gives what the driver reads; times as aware UTC
            case.updated_at = utc(case.updated_at)
        store_sla(cases, now, closed, changed_only=True)
    return cases


def recompute_calendar(calendar: str, now: datetime) -> int:
    """Recompute every open case on ``calendar`` at once (after its closures changed,
    C4), :data:`RECOMPUTE_BATCH` cases per transaction. Returns how many."""
    _check_now(now)
    ids = list(Case.objects.open().filter(calendar=calendar).order_by("pk")
               .values_list("id", flat=True))
    closed = {calendar: CalendarClosure.dates(calendar)}  # read once for the whole run
    for k in range(0, len(ids), RECOMPUTE_BATCH):
        recompute_cases(ids[k:k + RECOMPUTE_BATCH], now, closed)
    return len(ids)


#: A worker seen this recently takes a calendar's recompute off the request (C4).
WORKER_ALIVE = timedelta(minutes=2)


def worker_running(now: datetime) -> bool:
    """Whether an ``slpdesk worker`` has shown a sign of life lately (its heartbeat)."""
    return WorkerHeartbeat.objects.filter(seen_at__gte=now - WORKER_ALIVE).exists()


def request_recompute(calendar: str, now: datetime, *, day: date | None = None) -> int:
    """Hand the recompute of ``calendar``'s open cases to the worker, in one INSERT and
    one UPDATE: each case is put in the worker's list (:class:`RecomputeWaiting`) and
    its SLA columns are marked not current (``sla_computed_at`` empty); the worker
    recomputes them in batches (and fires what falls due meanwhile). No indexed
    column of the case is written: on PostgreSQL the mark is then a heap-only
    update, and so is the recompute of a case whose indexed columns keep their
    values (no entry in any of the case's indexes either time). With ``day`` (a
    date whose business hours changed), also the resolved and closed cases with a
    due time from that day on: a stopped clock keeps its due time, which moves with
    the calendar as replay moves it (K7). Returns how many."""
    _check_now(now)
    wanted = ~Q(status__in=[Case.Status.RESOLVED, Case.Status.CLOSED])
    if day is not None:
        # From the day's start in the earliest zone there is (UTC+14): a due time
        # before it cannot move.
        since = datetime.combine(day, time(0), tzinfo=UTC) - timedelta(hours=14)
        wanted |= (Q(response_due__gte=since) | Q(resolution_due__gte=since)
                   | Q(next_update_due__gte=since))
    cases = Case.objects.filter(wanted, calendar=calendar).order_by()
    connection = connections[Case.objects.db]
    qn = connection.ops.quote_name
    select, params = cases.values("id").query.sql_with_params()
    with transaction.atomic(using=Case.objects.db):
        # The list first, then the cases: the worker locks its list's rows, then
        # their cases, so both take their locks in the same order. A case the worker
        # is recomputing now (its row in the list deleted, not committed) is listed
        # again once it is done, and recomputed again with this change.
        with connection.cursor() as cursor:
            cursor.execute(f"INSERT INTO {qn(RecomputeWaiting._meta.db_table)} "
                           f"({qn('case_id')}) {select} ON CONFLICT DO NOTHING", params)
        return cases.update(sla_computed_at=None)


def calendar_changed(calendar: str, now: datetime, day: date | None = None) -> int:
    """Hand the recompute of ``calendar``'s cases to the worker after its closures
    changed on ``day`` (C4): never in the request, whether or not a worker is
    running now (the console says when none is). Returns how many cases."""
    return request_recompute(calendar, now, day=day)


def closure_zones(calendar: str, policy: Policy) -> set[str]:
    """The time zones in which ``calendar``'s dates are counted: its fixed zone, or
    (a calendar that follows the site's zone, C1) the zone of every case on it and
    of every site that uses it."""
    spec = policy.calendar(calendar)
    if spec.zone != SITE_ZONE:
        return {spec.zone}
    zones = set(Case.objects.filter(calendar=calendar).values_list("time_zone", flat=True)
                .distinct())
    for country, zone in Site.objects.values_list("country", "time_zone").distinct():
        if policy.calendar_for_country(country) == calendar:
            zones.add(zone)
    return zones


def _require_future_date(calendar: str, day: date, policy: Policy, now: datetime) -> None:
    """Refuse a closure change for a date that has begun in one of the calendar's zones:
    business time that has elapsed never changes (C4). Same-day closures are refused
    too, rather than counted from the moment they are recorded."""
    for zone in sorted(closure_zones(calendar, policy)):
        if day <= now.astimezone(get_zone(zone)).date():
            raise DeskError("begun", _("%(day)s has already begun in %(zone)s, where "
                                       "calendar %(calendar)s counts business time: only a "
                                       "date still to come can be closed or opened again, so "
                                       "that no time already counted changes."),
                            day=day.isoformat(), zone=zone, calendar=calendar)


def add_closure(calendar: str, day: date, reason: str, *, actor: User, now: datetime
                ) -> CalendarClosure:
    """Close ``calendar`` on ``day`` (a company closure), recorded with who, when and
    why, and recompute its open cases (:func:`calendar_changed`). Only a date that
    has not begun in any of the calendar's zones (:func:`closure_zones`)."""
    _check_now(now)
    _require_staff(actor)
    policy = PolicyVersion.objects.in_force(now).load()
    if calendar not in policy.calendars:
        raise DeskError("calendar", _("There is no support calendar called %(name)s."),
                        name=calendar)
    reason = _require_text(reason, _("why the calendar is closed"))
    with transaction.atomic():
        _require_future_date(calendar, day, policy, now)
        if CalendarClosure.objects.in_effect().filter(calendar=calendar, date=day).exists():
            raise DeskError("exists", _("The calendar is already closed on %(day)s."),
                            day=day.isoformat())
        closure = CalendarClosure.objects.create(calendar=calendar, date=day, reason=reason,
                                                 added_at=now, added_by=actor)
    calendar_changed(calendar, now, day)
    return closure


def remove_closure(closure: CalendarClosure, reason: str, *, actor: User, now: datetime
                   ) -> None:
    """Open the calendar again on the closure's date, recorded with who, when and why
    (the closure stays in the record), and recompute its open cases. Only a date
    that has not begun, like :func:`add_closure`."""
    _check_now(now)
    _require_staff(actor)
    reason = _require_text(reason, _("why the calendar opens again"))
    policy = PolicyVersion.objects.in_force(now).load()
    with transaction.atomic():
        closure = CalendarClosure.objects.select_for_update().get(pk=closure.pk)
        if closure.removed_at is not None:
            raise DeskError("removed", _("This closure was already removed."))
        if closure.calendar in policy.calendars:
            _require_future_date(closure.calendar, closure.date, policy, now)
        closure.removed_at = now
        closure.removed_by = actor
        closure.removal_reason = reason
        closure.save(update_fields=list(CalendarClosure.REMOVAL_FIELDS))
    calendar_changed(closure.calendar, now, closure.date)


# -------------------------------------------------------------------- intake
def _entitlement(organisation: Organisation, site: Site, contact: User, release: Release | None,
                 request_type: str, policy: Policy, now: datetime) -> str:
    """Whether support covers the case, in the order the customer can act on (E2-E5).

    An end user supported through a partner is sent to the partner (E3); the
    partner itself may open the case on the end user's behalf.
    """
    if (organisation.is_supported_through_partner()
            and contact.organisation_id == organisation.pk):
        return Entitlement.VIA_PARTNER
    today = site.local_date(now)
    if not site.has_active_agreement(today):
        return Entitlement.NOT_ENTITLED
    if release is not None and not release.is_supported(today, policy):
        return Entitlement.UNSUPPORTED_VERSION
    if request_type in {c.code for c in policy.out_of_scope}:
        return Entitlement.OUT_OF_SCOPE
    return Entitlement.ENTITLED


def receive_case(site: Site, *, contact: User, channel: str, proposed_priority: str,
                 title: str, description: str = "", system_details: str = "",
                 release: Release | None = None, request_type: str = "", files=(),
                 actor: User, now: datetime, sender_verified: bool = True) -> Case:
    """Record a new case (K1) with the ``files`` sent with it, all or nothing. A case
    support does not cover is still recorded, with its files, closed with the
    reason (E2-E5) and without a clock. ``sender_verified`` is false for a case
    opened by an e-mail the desk's mail server did not verify: the case and its
    ``received`` event say so."""
    _check_now(now)
    organisation = site.organisation
    if contact.organisation_id is None or contact.organisation_id not in (
            organisation.pk, organisation.supported_by_id):
        raise DeskError("contact", _("The contact does not belong to %(organisation)s."),
                        organisation=organisation.name)
    if not access.can_open_case(actor) or not access.may_open_case_at(actor, site):
        raise DeskError("forbidden", _("You cannot open a case for another organisation."))
    if channel not in Case.Channel.values:
        raise DeskError("channel", _("Unknown channel %(channel)s."), channel=channel)
    title = _require_text(title, _("a title"))
    for upload in files:
        check_upload(upload)
    with transaction.atomic():
        version = PolicyVersion.objects.in_force(now)
        policy = version.load()
        if proposed_priority not in policy.priorities:
            raise DeskError("priority", _("Unknown priority %(priority)s."),
                            priority=proposed_priority)
        entitlement = _entitlement(organisation, site, contact, release, request_type, policy, now)
        # The id is taken first, and the SLA columns computed from the events about to
        # be written, so that one INSERT writes the whole row, number and SLA included.
        pk = Case.objects.next_id()
        case = Case(
            pk=pk, number=f"SLP-{pk:06d}",
            organisation=organisation, site=site, contact=contact, channel=channel,
            release=release, request_type=request_type, title=title,
            description=description, system_details=system_details,
            proposed_priority=proposed_priority, policy_version=version,
            calendar=site.calendar_name(policy), time_zone=site.time_zone,
            entitlement=entitlement, received_at=now, updated_at=now,
            sender_verified=sender_verified,
            status=Status.NEW if entitlement == Entitlement.ENTITLED else Status.CLOSED,
        )
        sla = [Event(now, EventType.RECEIVED, proposed_priority)]
        if entitlement != Entitlement.ENTITLED:
            sla.append(Event(now, EventType.EXCLUDED))
        store_sla([case], now, events={pk: sla}, new=True, write=False)
        case.save(force_insert=True)
        data = {"channel": channel}
        if not sender_verified:
            data["sender_verified"] = False
        received = _append(case, EventType.RECEIVED, actor=actor, now=now,
                           priority=proposed_priority, data=data)
        for upload in files:
            _store_file(case, upload, actor=actor, now=now)
        if entitlement != Entitlement.ENTITLED:
            _append(case, EventType.EXCLUDED, actor=actor, now=now,
                    data={"entitlement": entitlement})
        notify.case_received(case, received, now=now)
        hooks.case_event(Hook.CASE_CREATED, case, now=now)
    return case


# -------------------------------------------------------------------- triage
def assign_priority(case: Case, priority: str, *, information_complete: bool = False,
                    actor: User, now: datetime) -> None:
    """Set the official priority (P1); running clocks follow it from their start (P2).

    ``information_complete`` says the intake already had what support needs,
    so the resolution clock starts at this triage (K2).
    """
    with transaction.atomic():
        _lock(case, now)
        _require_staff(actor)
        _require_open(case)
        if priority not in case.policy().priorities:
            raise DeskError("priority", _("Unknown priority %(priority)s."), priority=priority)
        before = hooks.tracked(case)
        if priority == case.priority and not (information_complete
                                              and not case.information_complete):
            raise DeskError("unchanged", _("The case already has priority %(priority)s."),
                            priority=priority)
        if priority != case.priority:
            _append(case, EventType.PRIORITY_ASSIGNED, actor=actor, now=now, priority=priority,
                    data={"previous": case.priority})
            case.priority = priority
        fields = ["priority"]
        if information_complete and not case.information_complete:
            _append(case, EventType.INFO_COMPLETE, actor=actor, now=now)
            case.information_complete = True
            fields.append("information_complete")
        if case.status == Status.NEW:
            case.status = Status.OPEN
            fields.append("status")
        _save(case, now, *fields)
        refresh_sla(case, now)
        hooks.case_updated(case, before, now=now)


def mark_information_complete(case: Case, *, actor: User, now: datetime) -> None:
    """Support has what it needs from the customer (K2); ends a wait on the customer."""
    with transaction.atomic():
        _lock(case, now)
        _require_staff(actor)
        _require_open(case)
        if case.information_complete and case.status != Status.WAITING:
            raise DeskError("unchanged", _("The information is already complete."))
        before = hooks.tracked(case)
        _append(case, EventType.INFO_COMPLETE, actor=actor, now=now)
        case.information_complete = True
        case.status = case.active_status()
        _save(case, now, "information_complete", "status")
        refresh_sla(case, now)
        hooks.case_updated(case, before, now=now)


def request_information(case: Case, body: str, *, actor: User, now: datetime) -> Message:
    """Ask the customer for information (a public message); the case waits on them (K2)."""
    with transaction.atomic():
        _lock(case, now)
        _require_staff(actor)
        _require_open(case)
        if case.status == Status.WAITING:
            raise DeskError("waiting", _("The case is already waiting on the customer."))
        body = _require_text(body, _("what you need from the customer"))
        message = Message.objects.create(case=case, kind=Message.Kind.PUBLIC, author=actor,
                                         body=body, created_at=now)
        event = _append(case, EventType.INFO_REQUESTED, actor=actor, now=now,
                        data={"message": message.pk})
        before = hooks.tracked(case)
        case.status = Status.WAITING
        _save(case, now, "status")
        refresh_sla(case, now)
        notify.information_requested(case, message, event, now=now)
        hooks.case_message(case, message, now=now)
        hooks.case_updated(case, before, now=now)
    return message


def record_customer_reply(case: Case, body: str, *, actor: User, now: datetime) -> Message:
    """A message from the customer's side; it ends a wait on the customer (K2, K5)."""
    with transaction.atomic():
        _lock(case, now)
        if not access.is_contact(actor):
            raise DeskError("forbidden", _("Only the customer's people can reply as the "
                                           "customer."))
        _require_visible(case, actor)
        if case.status == Status.CLOSED:
            raise DeskError("closed", _("Case %(number)s is closed."), number=case.number)
        body = _require_text(body, _("a message"))
        message = Message.objects.create(case=case, kind=Message.Kind.PUBLIC, author=actor,
                                         body=body, created_at=now)
        _append(case, EventType.CUSTOMER_REPLIED, actor=actor, now=now,
                data={"message": message.pk})
        before = hooks.tracked(case)
        if case.status == Status.WAITING:
            case.status = case.active_status()
        _save(case, now, "status")
        refresh_sla(case, now)
        hooks.case_message(case, message, now=now)
        hooks.case_updated(case, before, now=now)
    return message


# ------------------------------------------------------------ conversation
def _public_contact(case: Case, body: str, kind: str, *, actor: User, now: datetime
                    ) -> Message:
    _lock(case, now)
    _require_staff(actor)
    _require_open(case)
    body = _require_text(body, _("a message"))
    message = Message.objects.create(case=case, kind=kind, author=actor, body=body,
                                     created_at=now)
    event = _append(case, _contact_event(case), actor=actor, now=now,
                    data={"message": message.pk, "channel": kind})
    _save(case, now)
    refresh_sla(case, now)
    notify.public_message(case, message, event, now=now)
    hooks.case_message(case, message, now=now)
    return message


def reply(case: Case, body: str, *, actor: User, now: datetime) -> Message:
    """A public reply: the first response (K1) or a status update (K5)."""
    with transaction.atomic():
        return _public_contact(case, body, Message.Kind.PUBLIC, actor=actor, now=now)


def log_call(case: Case, body: str, *, actor: User, now: datetime) -> Message:
    """A phone call with the customer, logged by an agent; counts as contact (K1, K5)."""
    with transaction.atomic():
        return _public_contact(case, body, Message.Kind.CALL, actor=actor, now=now)


def add_note(case: Case, body: str, *, actor: User, now: datetime) -> Message:
    """An internal note: never shown to the customer, no effect on the clocks."""
    with transaction.atomic():
        _lock(case, now)
        if not access.can_add_note(actor):
            raise DeskError("forbidden", _("Only support staff can do this."))
        body = _require_text(body, _("a note"))
        message = Message.objects.create(case=case, kind=Message.Kind.INTERNAL, author=actor,
                                         body=body, created_at=now)
        _append(case, EventType.NOTE, actor=actor, now=now, data={"message": message.pk})
        _save(case, now)
    return message


def assign(case: Case, assignee: User | None, *, actor: User, now: datetime) -> None:
    """Give the case to an agent (or to nobody)."""
    with transaction.atomic():
        _lock(case, now)
        _require_staff(actor)
        if case.status == Status.CLOSED:
            raise DeskError("closed", _("Case %(number)s is closed."), number=case.number)
        if assignee is not None and not access.staff_users().filter(pk=assignee.pk).exists():
            raise DeskError("assignee", _("Cases can only be assigned to support staff."))
        if (assignee.pk if assignee else None) == case.assignee_id:
            raise DeskError("unchanged", _("The case is already assigned so."))
        _append(case, EventType.ASSIGNED, actor=actor, now=now,
                data={"assignee": assignee.pk if assignee else None,
                      "previous": case.assignee_id})
        before = hooks.tracked(case)
        case.assignee = assignee
        _save(case, now, "assignee")
        hooks.case_updated(case, before, now=now)


# ---------------------------------------------------------- classification
def classify(case: Case, kind: str, defect_reference: str = "", *, actor: User,
             now: datetime) -> None:
    """Classify as incident, bug or defect; a bug or defect has no resolution target (K4)."""
    with transaction.atomic():
        _lock(case, now)
        _require_staff(actor)
        if case.status == Status.CLOSED:
            raise DeskError("closed", _("Case %(number)s is closed."), number=case.number)
        if kind not in Case.Kind.values:
            raise DeskError("kind", _("Unknown kind %(kind)s."), kind=kind)
        defect_reference = (defect_reference or "").strip()
        if kind != Case.Kind.INCIDENT and not defect_reference:
            raise DeskError("reference", _("Give the reference of the bug or defect."))
        if kind == case.kind and defect_reference == case.defect_reference:
            raise DeskError("unchanged", _("The case is already classified so."))
        _append(case, EventType.CLASSIFIED, actor=actor, now=now, kind=kind,
                data={"defect_reference": defect_reference})
        case.kind = kind
        case.defect_reference = defect_reference if kind != Case.Kind.INCIDENT else ""
        _save(case, now, "kind", "defect_reference")
        refresh_sla(case, now)


# ------------------------------------------------------------- resolution
def resolve(case: Case, resolution: str, summary: str, *, actor: User, now: datetime) -> None:
    """Resolve the incident as fixed, with a timeline, or as no defect (K3)."""
    with transaction.atomic():
        _lock(case, now)
        _require_staff(actor)
        _require_open(case)
        if resolution not in Case.Resolution.values:
            raise DeskError("resolution", _("Unknown resolution %(resolution)s."),
                            resolution=resolution)
        summary = _require_text(summary, _("a summary of the resolution"))
        event = _append(case, EventType.RESOLVED, actor=actor, now=now,
                        resolution=resolution, data={"summary": summary})
        case.status = Status.RESOLVED
        case.resolution = resolution
        case.resolution_summary = summary
        _save(case, now, "status", "resolution", "resolution_summary")
        refresh_sla(case, now)
        notify.resolved(case, event, now=now)
        hooks.case_event(Hook.CASE_RESOLVED, case, now=now)


def reopen(case: Case, reason: str, *, actor: User, now: datetime) -> None:
    """Reopen a resolved case; its resolution clock resumes from now (K2)."""
    with transaction.atomic():
        _lock(case, now)
        if case.status != Status.RESOLVED:
            raise DeskError("not_resolved", _("Only a resolved case can be reopened."))
        if not access.can_reopen(actor, case):
            raise DeskError("forbidden", _("You cannot reopen this case."))
        reason = _require_text(reason, _("why the case is reopened"))
        _append(case, EventType.REOPENED, actor=actor, now=now, data={"reason": reason})
        case.status = case.active_status()
        case.resolution = ""
        case.resolution_summary = ""
        _save(case, now, "status", "resolution", "resolution_summary")
        refresh_sla(case, now)
        hooks.case_event(Hook.CASE_REOPENED, case, now=now, reason=reason)


def exclude(case: Case, reason: str, note: str = "", *, actor: User, now: datetime) -> None:
    """Take the case out of the SLA for one of the policy's exclusions (E6).

    A verdict a clock already reached (a response met or breached) stands;
    the other clocks become not applicable.
    """
    with transaction.atomic():
        _lock(case, now)
        _require_staff(actor)
        _require_open(case)
        codes = [c.code for c in case.policy().exclusions]
        if reason not in codes:
            raise DeskError("reason", _("Unknown exclusion %(reason)s."), reason=reason)
        _append(case, EventType.EXCLUDED, actor=actor, now=now,
                data={"entitlement": Entitlement.EXCLUDED, "reason": reason, "note": note})
        before = hooks.tracked(case)
        case.status = Status.CLOSED
        case.entitlement = Entitlement.EXCLUDED
        case.exclusion_reason = reason
        _save(case, now, "status", "entitlement", "exclusion_reason")
        refresh_sla(case, now)
        hooks.case_updated(case, before, now=now)


# ------------------------------------------------------------- escalation
def next_escalation_level(case: Case, policy: Policy, channel: str) -> int:
    """The level an escalation of ``case`` goes to (X2, X3).

    The next level up; an escalation by e-mail (X3) goes straight to the top
    for the policy's most urgent priorities or from the level below the top.
    """
    top = max(level.level for level in policy.escalation_levels)
    if channel == Escalation.Channel.EMAIL and (
            case.effective_priority() in policy.escalation_direct_priorities
            or case.escalation_level >= top - 1):
        return top
    return min(case.escalation_level + 1, top)


#: E-mail escalations of a case wait this long after the case's last escalation, so a
#: mail loop or a flood cannot page the owners again and again (X3).
EMAIL_ESCALATION_COOLDOWN = timedelta(minutes=30)


def check_email_escalation(case: Case, policy: Policy, now: datetime) -> None:
    """Refuse an escalation by e-mail when the case had one to the level it would go to
    (at most one per level), or any escalation in the last
    :data:`EMAIL_ESCALATION_COOLDOWN`."""
    level = next_escalation_level(case, policy, Escalation.Channel.EMAIL)
    if Escalation.objects.filter(case=case, level=level,
                                 channel=Escalation.Channel.EMAIL).exists():
        raise DeskError("email_limit", _("Case %(number)s was already escalated to level "
                                         "%(level)d by e-mail."),
                        number=case.number, level=level)
    last = (Escalation.objects.filter(case=case).order_by("-raised_at")
            .values_list("raised_at", flat=True).first())
    if last is not None and now - last < EMAIL_ESCALATION_COOLDOWN:
        raise DeskError("cooldown", _("Case %(number)s was escalated less than %(minutes)d "
                                      "minutes ago; an e-mail cannot escalate it again yet."),
                        number=case.number,
                        minutes=EMAIL_ESCALATION_COOLDOWN.seconds // 60)


def escalate(case: Case, reason: str, *, channel: str, actor: User, now: datetime
             ) -> Escalation:
    """Escalate an open case with a reason (X1): the customer from the portal or by
    e-mail, or support on the customer's behalf."""
    with transaction.atomic():
        _lock(case, now)
        _require_visible(case, actor)
        if not case.is_open():
            raise DeskError("not_open", _("Only an open case can be escalated."))
        if channel not in Escalation.Channel.values:
            raise DeskError("channel", _("Unknown channel %(channel)s."), channel=channel)
        policy = case.policy()
        top = max(level.level for level in policy.escalation_levels)
        if not access.can_escalate(actor, case, top):
            raise DeskError("top", _("Case %(number)s is already escalated to the highest "
                                     "level."), number=case.number)
        if channel == Escalation.Channel.EMAIL:
            check_email_escalation(case, policy, now)
        reason = _require_text(reason, _("why the case needs escalating"))
        level = next_escalation_level(case, policy, channel)
        escalation = Escalation.objects.create(case=case, level=level, reason=reason,
                                               channel=channel, raised_by=actor, raised_at=now)
        event = _append(case, EventType.ESCALATED, actor=actor, now=now,
                        data={"escalation": escalation.pk, "level": level,
                              "channel": channel})
        case.escalation_level = level
        _save(case, now, "escalation_level")
        notify.escalation_raised(case, escalation, event, now=now)
        hooks.escalation(Hook.ESCALATION_RAISED, case, escalation, now=now)
    return escalation


def acknowledge_escalation(escalation: Escalation, *, actor: User, now: datetime) -> None:
    """An owner of the escalation's level takes it on (X2)."""
    with transaction.atomic():
        case = escalation.case
        _lock(case, now)
        escalation.refresh_from_db()
        if escalation.acknowledged_at is not None:
            raise DeskError("acknowledged", _("This escalation is already acknowledged."))
        roles = next((lvl.roles for lvl in case.policy().escalation_levels
                      if lvl.level == escalation.level), ())
        if not access.can_acknowledge(actor, escalation, roles):
            raise DeskError("forbidden", _("Only an owner of escalation level %(level)d can "
                                           "acknowledge it."), level=escalation.level)
        escalation.acknowledged_by = actor
        escalation.acknowledged_at = now
        escalation.save(update_fields=["acknowledged_by", "acknowledged_at"])
        event = _append(case, EventType.ESCALATION_ACKNOWLEDGED, actor=actor, now=now,
                        data={"escalation": escalation.pk, "level": escalation.level})
        _save(case, now)
        notify.escalation_acknowledged(case, escalation, event, now=now)
        hooks.escalation(Hook.ESCALATION_ACKNOWLEDGED, case, escalation, now=now)


# ------------------------------------------------------------- attachments
def attach_file(case: Case, upload, *, actor: User, now: datetime, internal: bool = False,
                message: Message | None = None) -> Attachment:
    """Store an uploaded file on the case (size-limited). Internal files are for
    support staff only."""
    with transaction.atomic():
        _lock(case, now)
        _require_visible(case, actor)
        if not access.can_upload(actor, case):
            raise DeskError("forbidden", _("You cannot add files to this case."))
        if internal and not access.can_see_internal(actor):
            raise DeskError("forbidden", _("Only support staff can add internal files."))
        attachment = _store_file(case, upload, actor=actor, now=now, internal=internal,
                                 message=message)
        _save(case, now)
    return attachment


def check_upload(upload) -> None:
    """Refuse what is not a file, or a file over the size limit (before anything is
    written)."""
    if not isinstance(upload, UploadedFile) or not upload.name:
        raise DeskError("file", _("Choose a file to upload."))
    limit = settings.SLPDESK_MAX_ATTACHMENT_BYTES
    if upload.size > limit:
        raise DeskError("too_large", _("%(name)s is too large: at most %(limit)s."),
                        name=safe_file_name(upload.name), limit=filesizeformat(limit))


def storage_used(organisation_id: int) -> int:
    """Bytes of all the files on the organisation's cases."""
    return (Attachment.objects.filter(case__organisation_id=organisation_id)
            .aggregate(n=Sum("size"))["n"] or 0)


def check_quota(case: Case, size: int) -> None:
    """Refuse a file that would take the case's organisation over
    ``SLPDESK_ORG_STORAGE_BYTES``."""
    quota = settings.SLPDESK_ORG_STORAGE_BYTES
    used = storage_used(case.organisation_id)
    if used + size > quota:
        raise DeskError("quota", _("The files of %(organisation)s would take more than its "
                                   "storage of %(quota)s (%(used)s in use). Remove or "
                                   "compress files, or ask support for more room."),
                        organisation=case.organisation.name, quota=filesizeformat(quota),
                        used=filesizeformat(used))


def _store_file(case: Case, upload, *, actor: User, now: datetime, internal: bool = False,
                message: Message | None = None) -> Attachment:
    check_upload(upload)
    check_quota(case, upload.size)
    name = safe_file_name(upload.name)
    attachment = Attachment(case=case, message=message, name=name, size=upload.size,
                            uploaded_by=actor, uploaded_at=now, internal=internal)
    attachment.file.save(name, upload, save=False)
    attachment.save()
    _append(case, EventType.ATTACHED, actor=actor, now=now,
            data={"attachment": attachment.pk, "name": name, "internal": internal})
    return attachment


def safe_file_name(name: str) -> str:
    """The base name of an upload, without path parts or control characters."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(c for c in base if unicodedata.category(c)[0] != "C").strip(" .")
    return base[:150] or "file"
