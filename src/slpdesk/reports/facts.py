"""The compliance report from the SLA facts stored on every case: SQL aggregation.

:func:`slpdesk.desk.services.store_sla` writes, with the due columns, each
case's facts as of its last SLA event: each clock's outcome, the due time at
which a clock still without a verdict turns breached, the business seconds of
a clock that stopped with a verdict, the status-update intervals owed and
missed and the due time of the one owed now. What ``replay`` would say at the
report's ``now`` follows in SQL: a clock whose open due time lies before
``now`` is breached, and an overdue update interval is one more owed and
missed. So the figures are exactly those of replaying every case
(:func:`slpdesk.reports.data.replay_period`, which the what-if simulator still
does), at the cost of a few grouped queries (:func:`_groups`):

* the cases grouped by priority, month in the viewer's zone, both outcomes and
  agent, with their number and update figures (which also tells whether any
  case's facts are not computed yet); by organisation (whose kind is the kind's
  group) and region - each a few thousand rows;
* per priority and clock, the business seconds of the measured clocks (grouped
  by value) and their targets, for medians, 90th percentiles and bins;

on PostgreSQL all in one pass over the cases (``GROUPING SETS``); on SQLite one
query each, read from one index (``case_report_facts``) without touching the
wide rows, grouped by small numbers where it can (SQLite sorts to group);
then escalations per level (each escalation's case looked up by its key), the
names of the organisations and agents that appear, and, only when there are
any, the cases whose facts are not computed yet (a migration hands them to the
worker).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from django.db import connections, transaction
from django.db.models import Case as SqlCase
from django.db.models import (
    CharField,
    Count,
    F,
    IntegerField,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.utils.translation import gettext as _

from slpdesk.desk.models import Escalation, Organisation, User

from .compute import CLOCKS, OUTCOMES, CaseRow, Clock, Report, Tally, months_between
from .data import Period, _agent, _Calendars, fast_values


def _outcome(clock: str, now: datetime) -> SqlCase:
    """The clock's outcome at ``now``: its stored one, or breached once its open due
    time has passed (``replay``: breached when ``now`` is past the due time)."""
    return SqlCase(When(**{f"{clock}_open_due__lt": now}, then=Value("breached")),
                 default=F(f"{clock}_outcome"), output_field=CharField())


def _month(period: Period, numbered: bool = False) -> SqlCase:
    """The month of ``received_at`` in the viewer's zone: the period's month starts
    as instants, compared in SQL (``numbered``: the month's position in the period)."""
    months = months_between(period.first, period.last)
    whens = []
    for k, (month, following) in enumerate(zip(months, months[1:], strict=False)):
        y, m = map(int, following.split("-"))
        start = datetime.combine(date(y, m, 1), time(0), tzinfo=period.tz).astimezone(UTC)
        whens.append(When(received_at__lt=start, then=Value(k if numbered else month)))
    if numbered:
        return SqlCase(*whens, default=Value(len(months) - 1), output_field=IntegerField())
    return SqlCase(*whens, default=Value(months[-1]), output_field=CharField())


#: The codes of :func:`_outcome_code`: an outcome's position in OUTCOMES, or these.
_CODE_PENDING, _CODE_UNKNOWN = 7, 6


def _outcome_code(clock: str, now: datetime) -> SqlCase:
    """:func:`_outcome` as a number (SQLite sorts a grouping by small numbers much
    faster than by texts): the outcome's position in ``OUTCOMES``; for the response
    clock, :data:`_CODE_PENDING` for a case whose facts are not computed yet."""
    whens = [When(**{NOT_COMPUTED: ""}, then=Value(_CODE_PENDING))] \
        if clock == "response" else []
    whens.append(When(**{f"{clock}_open_due__lt": now},
                      then=Value(OUTCOMES.index("breached"))))
    whens += [When(**{f"{clock}_outcome": o}, then=Value(k)) for k, o in enumerate(OUTCOMES)]
    return SqlCase(*whens, default=Value(_CODE_UNKNOWN), output_field=IntegerField())


def _decode(code: int) -> str:
    if code >= len(OUTCOMES):
        raise ValueError(f"a stored SLA outcome that is none of {OUTCOMES}")
    return OUTCOMES[code]


def _late(now: datetime) -> SqlCase:
    """1 when the update interval owed at ``now`` is overdue (one more owed and missed)."""
    return SqlCase(When(update_open_due__lt=now, then=Value(1)), default=Value(0),
                 output_field=IntegerField())


_ON_TIME = SqlCase(When(updates_owed__gt=F("updates_missed"),
                      then=F("updates_owed") - F("updates_missed")),
                 default=Value(0), output_field=IntegerField())

NOT_COMPUTED = "response_outcome"
#: 1 for a case whose facts are not computed yet (counted nowhere, listed apart).
_PENDING = SqlCase(When(**{NOT_COMPUTED: ""}, then=Value(1)), default=Value(0),
                   output_field=IntegerField())


def period_cases(cases: QuerySet, period: Period) -> QuerySet:
    start, end = period.bounds
    return cases.filter(received_at__gte=start, received_at__lt=end).order_by()


def not_computed_message() -> str:
    return _("The SLA facts of this case are not computed yet (the worker recomputes it).")


#: PostgreSQL's memory for the report's groupings: enough to hash a year's groups
#: (the default 4 MB sorts 100,000 cases on disk instead, three times slower).
WORK_MEM = "64MB"


def report_from_facts(cases: QuerySet, period: Period, now: datetime) -> Report:
    """Every figure of the compliance report over ``cases`` received in ``period``,
    at ``now``, from the stored facts: equal to ``build_report`` over a replay."""
    connection = connections[cases.db]
    if connection.vendor != "postgresql":  # (SQLite's transactions take the write lock)
        return _report_from_facts(cases, period, now)
    with transaction.atomic(using=cases.db):
        with connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
        return _report_from_facts(cases, period, now)


#: The groupings of :func:`_groups`: the cases by priority, month and agent; by
#: organisation and region; the measured clocks of each priority by business
#: seconds and target (response, then resolution). Each also by ``pending``.
_BY_CASES, _BY_ORG, _BY_RESPONSE, _BY_RESOLUTION = range(4)
_KEYS = (
    ("sla_priority", "month", "ro", "so", "assignee_id"),
    ("organisation_id", "calendar", "ro", "so"),
    ("sla_priority", "response_seconds", "response_target"),
    ("sla_priority", "resolution_seconds", "resolution_target"),
)
_SUMS = ("updates_owed", "updates_missed", "on_time", "late")


def _groups(qs: QuerySet, period: Period, now: datetime):
    """``(grouping, keys, pending, n, owed, missed, on_time, late, first id)`` for
    each group of each of :data:`_KEYS` over ``qs`` (the sums only for
    :data:`_BY_CASES`, the first id only for the clocks; a clock's groups only of
    the cases whose clock was measured). On PostgreSQL one pass over the cases
    (``GROUPING SETS``), elsewhere one grouped query per grouping, each read from
    the covering index ``case_report_facts``."""
    connection = connections[qs.db]
    if connection.vendor == "postgresql":
        yield from _grouping_sets(qs.annotate(
            ro=_outcome("response", now), so=_outcome("resolution", now), pending=_PENDING,
            month=_month(period), late=_late(now), on_time=_ON_TIME), connection)
        return
    # Elsewhere (SQLite) one grouped query per grouping, each read with the driver's
    # cursor (:func:`fast_values`: integers and texts only), each grouped by small
    # numbers where it can: the month's position and the outcomes' codes in one.
    codes = qs.annotate(roc=_outcome_code("response", now),
                        soc=_outcome_code("resolution", now))
    months = months_between(period.first, period.last)
    cases = (codes.annotate(code=(_month(period, numbered=True) * 8 + F("roc")) * 8 + F("soc"),
                            late=_late(now))
             .values("sla_priority", "code", "assignee_id")
             .annotate(n=Count("*"), owed=Sum("updates_owed"), missed=Sum("updates_missed"),
                       on_time=Sum(_ON_TIME), late=Sum("late"))
             .values_list("sla_priority", "code", "assignee_id", "n", "owed", "missed",
                          "on_time", "late"))
    for priority, code, agent, n, owed, missed, on_time, late in fast_values(cases, ()):
        month, ro = divmod(code, 64)
        ro, so = divmod(ro, 8)
        if ro == _CODE_PENDING:
            yield _BY_CASES, (priority, months[month], None, None, agent), 1, n, 0, 0, 0, 0, \
                None
            continue
        yield _BY_CASES, (priority, months[month], _decode(ro), _decode(so), agent), 0, n, \
            owed, missed, on_time, late, None
    for org, calendar, code, n in fast_values(
            codes.annotate(code=F("roc") * 8 + F("soc"))
            .values("organisation_id", "calendar", "code").annotate(n=Count("*"))
            .values_list("organisation_id", "calendar", "code", "n"), ()):
        ro, so = divmod(code, 8)
        if ro != _CODE_PENDING:
            yield _BY_ORG, (org, calendar, _decode(ro), _decode(so)), 0, n, 0, 0, 0, 0, None
    done = qs.exclude(**{NOT_COMPUTED: ""})
    for grouping in (_BY_RESPONSE, _BY_RESOLUTION):
        fields = _KEYS[grouping]
        for *keys, n, first in fast_values(
                done.filter(**{f"{fields[1]}__isnull": False})
                .values(*fields).annotate(n=Count("*"), first=Min("id"))
                .values_list(*fields, "n", "first"), ()):
            yield grouping, keys, 0, n, 0, 0, 0, 0, first


def _grouping_sets(rows: QuerySet, connection):
    """:func:`_groups` on PostgreSQL: every grouping in one pass over the cases, each
    group's row as narrow as it can be (the server writes and sends every value):
    a column not in a grouping is null in its rows, so one COALESCE carries the
    column of whichever grouping has it, and the sums and first ids are sent only
    for the groupings that use them."""
    columns = sorted({c for keys in _KEYS for c in keys})
    sql, params = rows.values_list(*columns, "pending", *_SUMS, "id").query.sql_with_params()
    q = connection.ops.quote_name
    sets = ", ".join("({})".format(", ".join(q(c) for c in (*keys, "pending")))
                     for keys in _KEYS)
    # GROUPING(a, b, c, d) has a bit set for each of them a grouping does not have.
    marks = [keys[1] for keys in _KEYS]
    bits = {sum(1 << (len(marks) - 1 - k) for k, m in enumerate(marks) if m not in keys): g
            for g, keys in enumerate(_KEYS)}
    which = "GROUPING({})".format(", ".join(q(m) for m in marks))
    cases = f"GROUPING({q('month')}) = 0"
    clocks = f"GROUPING({q('response_seconds')}) = 0 OR GROUPING({q('resolution_seconds')}) = 0"
    sums = ", ".join(f"CASE WHEN {cases} THEN SUM({q(c)}) END" for c in _SUMS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {which}, COALESCE({q('sla_priority')}, {q('organisation_id')}::text), "
            f"{q('month')}, {q('ro')}, {q('so')}, {q('calendar')}, "
            f"COALESCE({q('assignee_id')}, {q('response_seconds')}, {q('resolution_seconds')}), "
            f"COALESCE({q('response_target')}, {q('resolution_target')}), "
            f"{q('pending')}, COUNT(*), {sums}, CASE WHEN {clocks} THEN MIN({q('id')}) END "
            f"FROM ({sql}) AS facts GROUP BY GROUPING SETS ({sets})", params)
        for (mark, first_key, month, ro, so, calendar, number, target, pending, n, owed,
             missed, on_time, late, first) in cursor.fetchall():
            grouping = bits[mark]
            if grouping == _BY_CASES:
                keys = (first_key, month, ro, so, number)
            elif grouping == _BY_ORG:
                keys = (int(first_key), calendar, ro, so)
            elif number is None:
                continue  # the clocks not measured
            else:
                keys = (first_key, number, target)
            yield grouping, keys, pending, n, owed or 0, missed or 0, on_time or 0, \
                late or 0, first


def _report_from_facts(cases: QuerySet, period: Period, now: datetime) -> Report:
    qs = period_cases(cases, period)
    done = qs.exclude(**{NOT_COMPUTED: ""})
    tally = Tally(period.first, period.last)
    pending_cases = 0
    by_agent: dict[tuple, int] = {}
    by_org: list[tuple] = []
    # Per priority and clock, the target most measured clocks had, a tie going to the
    # one met first in case order, as when counting case by case.
    targets: dict[tuple[str, str, int], list[int]] = {}
    for grouping, keys, pending, n, owed, missed, on_time, late, first in _groups(
            qs, period, now):
        if pending:  # counted nowhere: listed below
            if grouping == _BY_CASES:
                pending_cases += n
            continue
        if grouping == _BY_CASES:
            # The totals, the priorities and months, the monthly chart, status updates.
            priority, month, ro, so, agent = keys
            tally.add_cases(priority=priority, month=month, response=ro, resolution=so,
                            n=n, owed=owed + late, on_time=on_time, missed=missed + late)
            key = (agent, ro, so)
            by_agent[key] = by_agent.get(key, 0) + n
        elif grouping == _BY_ORG:
            by_org.append((*keys, n))
        else:
            clock = CLOCKS[grouping - _BY_RESPONSE]
            priority, value, target_value = keys
            tally.measure(priority, clock, value, None, n)
            if target_value:
                t = targets.setdefault((priority, clock, target_value), [0, first])
                t[0] += n
                t[1] = min(t[1], first)
    for (priority, clock, value), (n, _first) in sorted(targets.items(),
                                                        key=lambda kv: kv[1][1]):
        tally.targets[(priority, clock)][value] += n
    # By organisation (and so by its kind) and region; by agent.
    orgs = {pk: (name, kind) for pk, name, kind in Organisation.objects.filter(
        pk__in={g[0] for g in by_org}).values_list("id", "name", "kind")}
    for org, calendar, ro, so, n in by_org:
        tally.names["organisation"][str(org)] = orgs[org][0]
        tally.add_groups((("region", calendar), ("organisation", str(org)),
                          ("kind", orgs[org][1])), ro, so, n)
    agents = {pk: _agent(*rest) for pk, *rest in User.objects.filter(
        pk__in={g[0] for g in by_agent} - {None}).values_list(
        "id", "username", "first_name", "last_name")}
    for (agent, ro, so), n in by_agent.items():
        key = "" if agent is None else str(agent)
        tally.names["agent"][key] = "" if agent is None else agents[agent]
        tally.add_groups((("agent", key),), ro, so, n)
    # From the escalations, each one's case looked up by its key: a few thousand
    # escalations, not the period's hundred thousand cases. (A scalar subquery: an
    # EXISTS becomes a join, which PostgreSQL makes from a scan of every case.)
    escalated = Escalation.objects.alias(in_period=Subquery(
        done.filter(pk=OuterRef("case_id")).values("pk")[:1])).filter(in_period__isnull=False)
    for level, escalations, acknowledged, n in (
            escalated.values("level")
            .annotate(e=Count("id"), a=Count("acknowledged_at"),
                      c=Count("case_id", distinct=True)).order_by("level")
            .values_list("level", "e", "a", "c")):
        tally.escalations(level, escalations, acknowledged, n)
    message = None
    for (number,) in (qs.filter(**{NOT_COMPUTED: ""}).order_by("id").values_list("number")
                      if pending_cases else ()):
        message = message or not_computed_message()
        tally.errors.append((number or "", message))
    return tally.report(period.zone_name)


#: The columns :func:`fact_rows` reads, in this order.
ROW_FIELDS = (
    "id", "number", "title", "received_at", "time_zone", "calendar", "organisation_id",
    "organisation__name", "organisation__kind", "assignee_id", "assignee__username",
    "assignee__first_name", "assignee__last_name", "status", "sla_priority",
    "updates_owed", "updates_missed", "update_open_due", "policy_version_id",
    "response_outcome", "response_open_due", "response_started", "response_seconds",
    "response_target", "response_due", "response_stopped", "response_state",
    "response_paused", "response_paused_since",
    "resolution_outcome", "resolution_open_due", "resolution_started", "resolution_seconds",
    "resolution_target", "resolution_due", "resolution_stopped", "resolution_state",
    "resolution_paused", "resolution_paused_since",
)
#: The positions of the date-times among them.
ROW_TIMES = tuple(k for k, name in enumerate(ROW_FIELDS)
                  if name == "received_at" or name.endswith(("_due", "_started", "_stopped",
                                                                "_since")))


def _clock(now: datetime, calendar, outcome, open_due, started, seconds, target, due,
           stopped, state, paused, paused_since) -> Clock:
    """A clock of a row from the facts. The state is the verdict; a clock without
    one keeps its stored state (running, at risk, paused, pending) until its open
    due time passes. Business time: stored for the clocks it is measured on
    (stopped with a verdict); a clock that started and has not stopped has counted
    ``between(started, paused since or now) - paused`` on the case's calendar, as
    replay counts it at ``now``."""
    if open_due is not None and open_due < now:
        state = "breached"
    elif outcome != "open":
        state = outcome
    if seconds is None and paused is not None and started is not None and stopped is None:
        seconds = calendar().between(started, paused_since or now) - paused
    return Clock(state, seconds or 0, target, started if seconds is not None else None, due,
                 stopped)


def _month_bounds(period: Period, month: str) -> tuple[datetime, datetime] | None:
    """The instants (UTC) of ``month`` (``2026-07``) in the period's zone, within the
    period, or None for a month that is not one."""
    try:
        y, m = (int(x) for x in month.split("-"))
        first = date(y, m, 1)
    except ValueError:
        return None
    following = date(y + (m == 12), m % 12 + 1, 1)
    start, end = period.bounds
    lo = datetime.combine(first, time(0), tzinfo=period.tz).astimezone(UTC)
    hi = datetime.combine(following, time(0), tzinfo=period.tz).astimezone(UTC)
    return max(lo, start), min(hi, end)


def selection(period: Period, now: datetime, dimension: str = "", key: str = "",
              clock: str = "", outcome: str = "") -> Q:
    """Exactly the cases behind one figure (``slpdesk.reports.compute.select`` on the
    rows, in SQL): those in group ``key`` of ``dimension`` (or an escalation
    level) whose ``clock`` had ``outcome`` at ``now``. Empty criteria match all;
    cases whose facts are not computed yet only when nothing is asked."""
    if not (dimension or clock):
        return Q()
    q = ~Q(**{NOT_COMPUTED: ""})
    if dimension == "month":
        bounds = _month_bounds(period, key)
        q &= Q(pk__in=[]) if bounds is None else Q(received_at__gte=bounds[0],
                                                   received_at__lt=bounds[1])
    elif dimension:
        q &= narrowing(dimension, key)
    if clock in ("response", "resolution") and outcome == "measured":
        q &= Q(**{f"{clock}_seconds__isnull": False})
    elif clock in ("response", "resolution") and outcome:
        # As :func:`_outcome`: breached once the open due time has passed.
        late = Q(**{f"{clock}_open_due__lt": now})
        stored = Q(**{f"{clock}_outcome": outcome})
        q &= (stored | late) if outcome == "breached" else (stored & ~late)
    elif clock == "updates":
        late = Q(update_open_due__lt=now)
        if outcome == "on_time":
            q &= Q(updates_owed__gt=F("updates_missed"))
        elif outcome == "missed":
            q &= Q(updates_missed__gt=0) | late
        else:
            q &= Q(updates_owed__gt=0) | late
    return q


def selected(cases: QuerySet, period: Period, now: datetime, **criteria) -> QuerySet:
    """The cases of ``period`` behind one figure (:func:`selection`), in the order the
    drill-down lists them (received, then id)."""
    return (period_cases(cases, period).filter(selection(period, now, **criteria))
            .order_by("received_at", "id"))


def narrowing(dimension: str = "", key: str = "", **_ignored) -> Q | None:
    """A filter in SQL that keeps at least the rows of group ``key`` of ``dimension``
    (:func:`slpdesk.reports.compute.select` then picks exactly), or None."""
    if dimension == "priority":
        return Q(sla_priority=key)
    if dimension == "region":
        return Q(calendar=key)
    if dimension == "kind":
        return Q(organisation__kind=key)
    if dimension in ("organisation", "agent", "escalation") and key and not key.isdigit():
        return Q(pk__in=[])
    if dimension == "organisation":
        return Q(organisation_id=int(key or 0))
    if dimension == "agent":
        return Q(assignee__isnull=True) if not key else Q(assignee_id=int(key))
    if dimension == "escalation":
        return Q(pk__in=Escalation.objects.filter(level=int(key or 0)).values("case_id"))
    return None


def fact_rows(cases: QuerySet, period: Period | None, now: datetime,
              criteria: Q | None = None, *, calendars: _Calendars | None = None,
              places: dict | None = None) -> list[CaseRow]:
    """The cases of ``period`` (those matching ``criteria``) as report rows, from
    their stored facts, in the order of ``cases`` (by id unless it is ordered; give
    a period of None for a queryset already narrowed, a page of the drill-down):
    what the drill-down lists and the case table exports. ``places``: filled with
    each case's site's country and policy version, by id (for the simulator)."""
    qs = cases if period is None else period_cases(cases, period)
    if criteria is not None:
        qs = qs.filter(criteria)
    if not qs.query.order_by:
        qs = qs.order_by("id")
    escalations: dict[int, list[tuple[int, bool]]] = {}
    for case_id, level, acked in (Escalation.objects.filter(case__in=qs.order_by())
                                  .order_by("case_id", "raised_at", "id")
                                  .values_list("case_id", "level", "acknowledged_at")):
        escalations.setdefault(case_id, []).append((level, acked is not None))
    calendars = calendars or _Calendars()

    def calendar_of(version_id: int, name: str, zone: str):
        def get():
            return calendars.get(calendars.version(version_id), name, zone)
        return get

    out = []
    agents: dict = {}
    no_escalations = ()
    fields = ROW_FIELDS if places is None else (*ROW_FIELDS, "site__country")
    for v in fast_values(qs.values_list(*fields), ROW_TIMES):
        (pk, number, title, received_at, zone, calendar, org_id, org_name, org_kind,
         agent_id, username, first, last, status, priority, owed, missed, open_due,
         version_id) = v[:19]
        if places is not None:
            places[pk] = (v[39], version_id)
        agent = agents.get(agent_id)
        if agent is None:
            agent = agents[agent_id] = _agent(username, first, last)
        escalated = escalations.get(pk)
        escalated = no_escalations if escalated is None else tuple(escalated)
        # CaseRow's fields in order (positional: some 100,000 rows a year).
        if not v[19]:
            out.append(CaseRow(pk, number or "", title, received_at, zone, priority, calendar,
                               org_id, org_name, org_kind, agent_id, agent, status,
                               escalations=escalated, error=not_computed_message()))
            continue
        late = int(open_due is not None and open_due < now)
        get = calendar_of(version_id, calendar, zone)
        out.append(CaseRow(pk, number or "", title, received_at, zone, priority, calendar,
                           org_id, org_name, org_kind, agent_id, agent, status,
                           _clock(now, get, *v[19:29]), _clock(now, get, *v[29:39]),
                           owed + late, missed + late, escalated))
    return out
