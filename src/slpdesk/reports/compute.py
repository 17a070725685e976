"""The figures of the compliance report, computed from plain rows: a pure module.

A :class:`CaseRow` is one case of the period with the outcome of its clocks
as ``slpdesk.sla.replay`` left them (see :mod:`slpdesk.reports.data`, which
reads the database and replays). Nothing here reads the database, formats
text or translates: :func:`build_report` turns rows into numbers, and
:func:`select` finds the rows behind any one number (each figure of the
report links to them).

Definitions (the report says them in words too):

* A clock's **outcome** is ``met``, ``breached`` (stopped after its due time,
  or still running past it, K6), ``not_applicable`` (no target: not covered,
  excluded, a bug or defect's resolution, K4, E2-E6) or ``open`` (running,
  at risk, paused or not started yet: no verdict yet).
* **Percentages** are of all cases in the group, so the four outcomes add up
  to 100 %; **compliance** is met ÷ (met + breached), the share of verdicts
  that were kept.
* **Business time** to first response / to resolution is the business time
  the clock counted (pauses while waiting on the customer left out) on the
  case's own calendar, for clocks that stopped with a verdict (met or
  breached). Median and 90th percentile interpolate linearly between the
  sorted values (as ``numpy.percentile`` and Excel's PERCENTILE.INC do).
* **Status updates owed** are the update intervals (K5) that came to an end:
  ended by support's next public message, or overdue at ``now`` or at the
  exclusion; **given on time** are those ended at or before their due time;
  **missed** is replay's ``missed``.
* Cases belong to the period, and to a month, by when they were received,
  taken in the viewer's time zone.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, tzinfo

OUTCOMES = ("met", "breached", "not_applicable", "open")
CLOCKS = ("response", "resolution")
#: The groupings of the report, in the order it shows them.
DIMENSIONS = ("priority", "month", "region", "organisation", "kind", "agent")
#: Bins of the distribution of business time to response, as fractions of the target.
BIN_EDGES = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, math.inf)

_VERDICT = {"met": "met", "breached": "breached", "not_applicable": "not_applicable"}


@dataclass(frozen=True, slots=True)
class Clock:
    """One clock of a case as replay left it (``slpdesk.sla.ClockState``, trimmed)."""

    state: str
    seconds: int = 0  # business seconds the clock counted
    target: int | None = None
    started: datetime | None = None
    due: datetime | None = None
    stopped: datetime | None = None

    @property
    def outcome(self) -> str:
        """met, breached, not_applicable, or open (no verdict yet)."""
        return _VERDICT.get(self.state, "open")

    @property
    def measured(self) -> bool:
        """Stopped with a verdict after it started: its business time counts in the
        median and 90th percentile."""
        return (self.state in ("met", "breached") and self.stopped is not None
                and self.started is not None)


NO_CLOCK = Clock("not_applicable")


@dataclass(frozen=True, slots=True)
class CaseRow:
    """One case of the period and what replay says of its clocks."""

    id: int
    number: str
    title: str
    received_at: datetime
    time_zone: str
    priority: str  # the effective priority at the end of the replay
    region: str  # the support calendar's name
    organisation_id: int
    organisation: str
    kind: str  # the organisation's kind
    agent_id: int | None
    agent: str
    status: str
    response: Clock = NO_CLOCK
    resolution: Clock = NO_CLOCK
    updates_owed: int = 0
    updates_missed: int = 0
    escalations: tuple[tuple[int, bool], ...] = ()  # (level, acknowledged)
    error: str = ""  # why the case could not be replayed (then it counts nowhere)

    @property
    def updates_on_time(self) -> int:
        return max(0, self.updates_owed - self.updates_missed)

    def clock(self, name: str) -> Clock:
        return self.response if name == "response" else self.resolution

    def outcome_key(self) -> tuple:
        """What the simulator compares: the two verdicts and the updates missed."""
        return (self.error, self.response.outcome, self.resolution.outcome,
                self.updates_missed)


# --------------------------------------------------------------------- groups
def month_of(at: datetime, tz: tzinfo) -> str:
    """``2026-07``: the month of the instant ``at`` in the zone ``tz``."""
    local = at.astimezone(tz)
    return f"{local.year:04d}-{local.month:02d}"


def months_between(first: date, last: date) -> list[str]:
    """Every month from ``first`` to ``last`` (both included) as ``YYYY-MM``."""
    out = []
    y, m = first.year, first.month
    while (y, m) <= (last.year, last.month):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def dimension_key(row: CaseRow, dimension: str, tz: tzinfo) -> str:
    """The group of ``row`` under ``dimension`` (a string, as links carry it)."""
    if dimension == "priority":
        return row.priority
    if dimension == "month":
        return month_of(row.received_at, tz)
    if dimension == "region":
        return row.region
    if dimension == "organisation":
        return str(row.organisation_id)
    if dimension == "kind":
        return row.kind
    if dimension == "agent":
        return "" if row.agent_id is None else str(row.agent_id)
    raise ValueError(f"unknown dimension {dimension!r}")


# --------------------------------------------------------------------- figures
@dataclass
class Counts:
    """Outcomes of one clock over a group of cases."""

    met: int = 0
    breached: int = 0
    not_applicable: int = 0
    open: int = 0

    def add(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)

    @property
    def total(self) -> int:
        return self.met + self.breached + self.not_applicable + self.open

    def pct(self, outcome: str) -> float | None:
        """The share of ``outcome`` among all cases of the group, in per cent."""
        return 100.0 * getattr(self, outcome) / self.total if self.total else None

    @property
    def compliance(self) -> float | None:
        """met ÷ (met + breached), in per cent; None without any verdict."""
        decided = self.met + self.breached
        return 100.0 * self.met / decided if decided else None

    def as_dict(self) -> dict:
        d = {o: getattr(self, o) for o in OUTCOMES}
        d["total"] = self.total
        d["percent"] = {o: _round(self.pct(o)) for o in OUTCOMES}
        d["compliance"] = _round(self.compliance)
        return d


@dataclass
class Bucket:
    """One group of a dimension (one priority, one month, one organisation...)."""

    key: str
    label: str
    cases: int = 0
    response: Counts = field(default_factory=Counts)
    resolution: Counts = field(default_factory=Counts)

    def add(self, row: CaseRow) -> None:
        self.cases += 1
        self.response.add(row.response.outcome)
        self.resolution.add(row.resolution.outcome)

    @property
    def breaches(self) -> int:
        return self.response.breached + self.resolution.breached

    def as_dict(self) -> dict:
        return {"key": self.key, "label": self.label, "cases": self.cases,
                "response": self.response.as_dict(), "resolution": self.resolution.as_dict()}


@dataclass(frozen=True)
class Stat:
    """Median and 90th percentile of business seconds over ``n`` measured clocks."""

    n: int
    median: int | None
    p90: int | None
    target: int | None  # the target most of them had

    def as_dict(self) -> dict:
        return {"n": self.n, "median_seconds": self.median, "p90_seconds": self.p90,
                "target_seconds": self.target}


@dataclass(frozen=True)
class Times:
    priority: str
    response: Stat
    resolution: Stat

    def as_dict(self) -> dict:
        return {"priority": self.priority, "response": self.response.as_dict(),
                "resolution": self.resolution.as_dict()}


@dataclass
class Updates:
    """Status updates (K5) over a group of cases."""

    key: str
    owed: int = 0
    on_time: int = 0
    missed: int = 0

    def add(self, row: CaseRow) -> None:
        self.owed += row.updates_owed
        self.missed += row.updates_missed
        self.on_time += row.updates_on_time

    @property
    def on_time_pct(self) -> float | None:
        return 100.0 * self.on_time / self.owed if self.owed else None

    def as_dict(self) -> dict:
        return {"key": self.key, "owed": self.owed, "on_time": self.on_time,
                "missed": self.missed, "on_time_percent": _round(self.on_time_pct)}


@dataclass
class EscalationFigure:
    level: int
    escalations: int = 0
    acknowledged: int = 0
    cases: int = 0

    def as_dict(self) -> dict:
        return {"level": self.level, "escalations": self.escalations,
                "acknowledged": self.acknowledged, "cases": self.cases}


@dataclass
class Report:
    """Every figure of the compliance report for one period."""

    first: date
    last: date
    zone: str
    cases: int
    totals: Bucket
    dimensions: dict[str, list[Bucket]]
    times: list[Times]
    updates: list[Updates]  # per priority, then the total (key "")
    escalations: list[EscalationFigure]
    #: (month, priority) -> outcomes, for the chart of compliance over time.
    monthly: dict[tuple[str, str], Bucket]
    #: priority -> business seconds to first response of every measured clock.
    response_samples: dict[str, list[int]]
    errors: list[tuple[str, str]]  # (case number, why it could not be replayed)

    @property
    def months(self) -> list[str]:
        return months_between(self.first, self.last)

    @property
    def priorities(self) -> list[str]:
        return [b.key for b in self.dimensions["priority"]]

    def update_total(self) -> Updates:
        return self.updates[-1]

    def distribution(self) -> list[tuple[str, int | None, list[int]]]:
        """Per priority: the response target and how many measured responses fall in
        each bin of :data:`BIN_EDGES` (fractions of the target)."""
        out = []
        for t in self.times:
            target = t.response.target
            counts = [0] * (len(BIN_EDGES) - 1)
            if target:
                # Each distinct number of seconds once (a year has some 100,000 samples
                # of a few thousand values).
                for seconds, n in Counter(self.response_samples.get(t.priority, ())).items():
                    counts[_bin(seconds / target)] += n
            out.append((t.priority, target, counts))
        return out

    def as_dict(self) -> dict:
        return {
            "period": {"from": self.first.isoformat(), "to": self.last.isoformat(),
                       "time_zone": self.zone},
            "cases": self.cases,
            "totals": self.totals.as_dict(),
            "by": {dim: [b.as_dict() for b in buckets]
                   for dim, buckets in self.dimensions.items()},
            "business_time": [t.as_dict() for t in self.times],
            "status_updates": [u.as_dict() for u in self.updates],
            "escalations": [e.as_dict() for e in self.escalations],
            "not_replayed": [{"case": n, "error": e} for n, e in self.errors],
        }


def _bin(fraction: float) -> int:
    """The bin of :data:`BIN_EDGES` a fraction of the target falls in: the first whose
    upper edge it does not pass (a response at exactly the target is within it)."""
    for k in range(1, len(BIN_EDGES)):
        if fraction <= BIN_EDGES[k]:
            return k - 1
    return len(BIN_EDGES) - 2


def _bucket(key: str, label: str, t: list[int]) -> Bucket:
    return Bucket(key, label, t[0], Counts(*t[1:5]), Counts(*t[5:9]))


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 1)


def percentile(values: Sequence[int], q: float) -> float | None:
    """The ``q`` quantile (0..1) of ``values``, interpolating linearly between the
    sorted values (``numpy.percentile``'s default); None for no values."""
    if not values:
        return None
    v = sorted(values)
    pos = (len(v) - 1) * q
    lo = math.floor(pos)
    hi = math.ceil(pos)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


def _stat(seconds: list[int], targets: Counter) -> Stat:
    target = targets.most_common(1)[0][0] if targets else None
    med, p90 = percentile(seconds, 0.5), percentile(seconds, 0.9)
    return Stat(len(seconds), None if med is None else round(med),
                None if p90 is None else round(p90), target)


class Tally:
    """The counts every figure of the report is made of, fed one case at a time
    (:func:`build_report`) or one group of like cases at a time with their number
    (:mod:`slpdesk.reports.facts`, from SQL), then made into a :class:`Report`."""

    def __init__(self, first: date, last: date) -> None:
        self.first, self.last = first, last
        # Flat lists (cases, then the four outcomes of each clock), made into
        # Buckets at the end: a year of 100,000 cases is 800,000 tallies.
        self.tallies: dict[str, dict[str, list[int]]] = {dim: {} for dim in DIMENSIONS}
        self.names: dict[str, dict[str, str]] = {"organisation": {}, "agent": {}}
        for month in months_between(first, last):
            self.tallies["month"][month] = [0] * 9
        self.total = [0] * 9
        self.monthly: dict[tuple[str, str], list[int]] = {}
        self.seconds: dict[tuple[str, str], list[int]] = defaultdict(list)
        self.targets: dict[tuple[str, str], Counter] = defaultdict(Counter)
        self.updates: dict[str, Updates] = {}
        self.levels: dict[int, EscalationFigure] = {}
        self.errors: list[tuple[str, str]] = []
        self.cases = 0
        # Case by case (:func:`tally_rows`): the cases escalated to each level.
        self.level_cases: dict[int, set[int]] = defaultdict(set)

    def merge(self, other: Tally) -> None:
        """Fold in the tally of the cases that follow (a later chunk of the same
        period, in case order): the result is the tally of both, exactly as if
        counted in one pass (samples and first-seen targets stay in case order)."""
        for dim, by_key in other.tallies.items():
            mine = self.tallies[dim]
            for key, t in by_key.items():
                into = mine.setdefault(key, [0] * 9)
                for k, v in enumerate(t):
                    into[k] += v
        for dim, names in other.names.items():
            self.names[dim].update(names)
        for k, v in enumerate(other.total):
            self.total[k] += v
        for key, t in other.monthly.items():
            into = self.monthly.setdefault(key, [0] * 9)
            for k, v in enumerate(t):
                into[k] += v
        for key, values in other.seconds.items():
            self.seconds[key].extend(values)
        for key, counter in other.targets.items():
            for value, n in counter.items():
                self.targets[key][value] += n
        for key, u in other.updates.items():
            mine = self.updates.setdefault(key, Updates(key))
            mine.owed += u.owed
            mine.on_time += u.on_time
            mine.missed += u.missed
        for level, fig in other.levels.items():
            mine = self.levels.setdefault(level, EscalationFigure(level))
            mine.escalations += fig.escalations
            mine.acknowledged += fig.acknowledged
            mine.cases += fig.cases
        for level, ids in other.level_cases.items():
            self.level_cases[level] |= ids
        self.errors.extend(other.errors)
        self.cases += other.cases

    def add(self, *, priority: str, month: str, region: str, organisation: str,
            organisation_name: str, kind: str, agent: str, agent_name: str,
            response: str, resolution: str, n: int = 1, owed: int = 0, on_time: int = 0,
            missed: int = 0) -> None:
        """``n`` cases alike in every group and outcome, with their status updates."""
        self.names["organisation"][organisation] = organisation_name
        self.names["agent"][agent] = agent_name
        self.add_groups((("region", region), ("organisation", organisation), ("kind", kind),
                         ("agent", agent)), response, resolution, n)
        self.add_cases(priority=priority, month=month, response=response,
                       resolution=resolution, n=n, owed=owed, on_time=on_time, missed=missed)

    def add_groups(self, groups, response: str, resolution: str, n: int) -> None:
        """``n`` cases with these outcomes in each ``(dimension, key)`` of ``groups``
        (the groups other than priority and month; :meth:`add_cases` counts the
        cases themselves)."""
        ro = 1 + _INDEX[response]
        so = 5 + _INDEX[resolution]
        for dim, key in groups:
            t = self.tallies[dim].get(key)
            if t is None:
                t = self.tallies[dim][key] = [0] * 9
            t[0] += n
            t[ro] += n
            t[so] += n

    def add_cases(self, *, priority: str, month: str, response: str, resolution: str,
                  n: int = 1, owed: int = 0, on_time: int = 0, missed: int = 0) -> None:
        """``n`` cases of ``priority`` received in ``month`` with these outcomes and
        status updates: the totals, the priority, month and monthly groups."""
        self.add_groups((("priority", priority), ("month", month)), response, resolution, n)
        ro = 1 + _INDEX[response]
        so = 5 + _INDEX[resolution]
        self.cases += n
        for t in (self.total, self.monthly.setdefault((month, priority), [0] * 9)):
            t[0] += n
            t[ro] += n
            t[so] += n
        u = self.updates.get(priority)
        if u is None:
            u = self.updates[priority] = Updates(priority)
        u.owed += owed
        u.on_time += on_time
        u.missed += missed

    def measure(self, priority: str, clock: str, seconds: int, target: int | None,
                n: int = 1) -> None:
        """``n`` clocks that stopped with a verdict after ``seconds`` of business time."""
        self.seconds[(priority, clock)].extend([seconds] * n)
        if target:
            self.targets[(priority, clock)][target] += n

    def escalations(self, level: int, escalations: int, acknowledged: int, cases: int
                    ) -> None:
        fig = self.levels.setdefault(level, EscalationFigure(level))
        fig.escalations += escalations
        fig.acknowledged += acknowledged
        fig.cases += cases

    def report(self, zone_name: str = "") -> Report:
        for level, ids in self.level_cases.items():
            self.levels[level].cases = len(ids)
        totals = _bucket("", "", self.total)
        monthly = {k: _bucket(f"{k[0]} {k[1]}", "", t) for k, t in self.monthly.items()}
        groups = {dim: {key: _bucket(key, self.names.get(dim, {}).get(key, key), t)
                        for key, t in by_key.items()} for dim, by_key in self.tallies.items()}
        dimensions = {}
        for dim, buckets in groups.items():
            items = list(buckets.values())
            if dim in ("organisation", "agent"):
                items.sort(key=lambda b: (b.label == "", b.label.casefold(), b.key))
            elif dim != "month":
                items.sort(key=lambda b: b.key)
            dimensions[dim] = items
        priorities = [b.key for b in dimensions["priority"]]
        times = [Times(p, *(_stat(self.seconds.get((p, clock), []),
                                  self.targets.get((p, clock), Counter()))
                            for clock in CLOCKS))
                 for p in priorities]
        total_updates = Updates("")
        for u in self.updates.values():
            total_updates.owed += u.owed
            total_updates.on_time += u.on_time
            total_updates.missed += u.missed
        return Report(
            first=self.first, last=self.last, zone=zone_name, cases=self.cases,
            totals=totals, dimensions=dimensions, times=times,
            updates=[self.updates[p] for p in priorities] + [total_updates],
            escalations=[self.levels[k] for k in sorted(self.levels)],
            monthly=monthly,
            response_samples={p: list(self.seconds.get((p, "response"), []))
                              for p in priorities},
            errors=self.errors,
        )


_INDEX = {o: k for k, o in enumerate(OUTCOMES)}


def build_report(rows: Iterable[CaseRow], tz: tzinfo, first: date, last: date,
                 zone_name: str = "") -> Report:
    """Every figure of the report over ``rows`` (the cases received from ``first`` to
    ``last``, both included, in the zone ``tz``)."""
    return tally_rows(rows, tz, first, last).report(zone_name)


def tally_rows(rows: Iterable[CaseRow], tz: tzinfo, first: date, last: date) -> Tally:
    """The counts of :func:`build_report` over ``rows``; tallies of consecutive chunks
    of rows :meth:`~Tally.merge` into the tally of all of them.

    What :meth:`Tally.add` and :meth:`Tally.measure` would count row by row, in a
    tighter loop (the simulator tallies two columns of a year's 100,000 rows): each
    row's groups and outcome codes are gathered in row order and counted per
    grouping at once (``Counter``), so every group, name, sample and target is
    met in the same order as counting row by row."""
    tally = Tally(first, last)
    level_cases = tally.level_cases
    index, verdict = _INDEX, _VERDICT
    months = months_between(first, last)
    starts = [_month_start(m, tz) for m in months[1:]]
    lo, hi = _month_start(months[0], tz), _month_start(_following(months[-1]), tz)
    names_org, names_agent = tally.names["organisation"], tally.names["agent"]
    seconds, targets = tally.seconds, tally.targets
    priorities, month_keys, regions, orgs, kinds, agents, ros, sos = ([] for _ in range(8))
    updates: dict[str, list[int]] = {}
    n = 0
    for row in rows:
        if row.error:
            tally.errors.append((row.number, row.error))
            continue
        n += 1
        priority = row.priority
        at = row.received_at
        month = months[bisect_right(starts, at)] if lo <= at < hi else month_of(at, tz)
        org = str(row.organisation_id)
        agent = "" if row.agent_id is None else str(row.agent_id)
        names_org[org] = row.organisation
        names_agent[agent] = row.agent
        response, resolution = row.response, row.resolution
        priorities.append(priority)
        month_keys.append(month)
        regions.append(row.region)
        orgs.append(org)
        kinds.append(row.kind)
        agents.append(agent)
        ros.append(index[verdict.get(response.state, "open")])
        sos.append(index[verdict.get(resolution.state, "open")])
        owed, missed = row.updates_owed, row.updates_missed
        u = updates.get(priority)
        if u is None:
            u = updates[priority] = [0, 0, 0]
        u[0] += owed
        u[1] += owed - missed if owed > missed else 0
        u[2] += missed
        for clock, c in (("response", response), ("resolution", resolution)):
            if c.state in ("met", "breached") and c.stopped is not None \
                    and c.started is not None:
                seconds[(priority, clock)].append(c.seconds)
                if c.target:
                    targets[(priority, clock)][c.target] += 1
        for level, acknowledged in row.escalations:
            tally.escalations(level, 1, int(acknowledged), 0)
            level_cases[level].add(row.id)
    tallies = tally.tallies
    for dim, keys in (("region", regions), ("organisation", orgs), ("kind", kinds),
                      ("agent", agents), ("priority", priorities), ("month", month_keys)):
        _count(tallies[dim], Counter(zip(keys, ros, sos, strict=True)))
    _count({"": tally.total}, Counter(zip([""] * n, ros, sos, strict=True)))
    _count(tally.monthly, Counter(zip(zip(month_keys, priorities, strict=True), ros, sos,
                                      strict=True)))
    for priority, (owed, on_time, missed) in updates.items():
        tally.updates[priority] = Updates(priority, owed, on_time, missed)
    tally.cases = n
    return tally


def _count(into: dict[str, list[int]], counted: Counter) -> None:
    """Add ``counted`` (``(key, response code, resolution code)`` -> cases) to the
    flat lists of :class:`Tally`, keys met in the order counted."""
    for (key, ro, so), n in counted.items():
        t = into.get(key)
        if t is None:
            t = into[key] = [0] * 9
        t[0] += n
        t[1 + ro] += n
        t[5 + so] += n


def _month_start(month: str, tz: tzinfo) -> datetime:
    """The first instant of ``month`` (``2026-07``) in the zone ``tz``, in UTC (as the
    report's SQL compares it)."""
    y, m = map(int, month.split("-"))
    return datetime.combine(date(y, m, 1), time(0), tzinfo=tz).astimezone(UTC)


def _following(month: str) -> str:
    y, m = map(int, month.split("-"))
    return f"{y + (m == 12):04d}-{m % 12 + 1:02d}"


# --------------------------------------------------------------- drilling down
#: What a figure's link may ask for: clock -> outcomes.
SELECTIONS = {
    "response": (*OUTCOMES, "measured"),
    "resolution": (*OUTCOMES, "measured"),
    "updates": ("owed", "on_time", "missed"),
}


def select(rows: Iterable[CaseRow], tz: tzinfo, *, dimension: str = "", key: str = "",
           clock: str = "", outcome: str = "") -> list[CaseRow]:
    """The rows behind one figure: those in group ``key`` of ``dimension`` (or an
    escalation ``level``) whose ``clock`` had ``outcome``. Empty criteria match all;
    rows that could not be replayed match only when nothing else is asked."""
    out = []
    for row in rows:
        if row.error:
            if not (dimension or clock):
                out.append(row)
            continue
        if dimension == "escalation":
            if not any(str(level) == key for level, _ in row.escalations):
                continue
        elif dimension and dimension_key(row, dimension, tz) != key:
            continue
        if clock in ("response", "resolution") and outcome:
            c = row.clock(clock)
            if outcome == "measured" and not c.measured:
                continue
            if outcome != "measured" and c.outcome != outcome:
                continue
        elif clock == "updates":
            value = {"owed": row.updates_owed, "on_time": row.updates_on_time,
                     "missed": row.updates_missed}.get(outcome, row.updates_owed)
            if not value:
                continue
        out.append(row)
    return out


# ------------------------------------------------------------------ comparing
@dataclass(frozen=True)
class Change:
    """A case whose outcome the draft policy would change."""

    current: CaseRow
    draft: CaseRow

    @property
    def clocks(self) -> list[str]:
        """Which of response, resolution, updates (or the replay itself) differ."""
        out = []
        if self.current.error != self.draft.error:
            out.append("replay")
        if self.current.response.outcome != self.draft.response.outcome:
            out.append("response")
        if self.current.resolution.outcome != self.draft.resolution.outcome:
            out.append("resolution")
        if self.current.updates_missed != self.draft.updates_missed:
            out.append("updates")
        return out

    def as_dict(self) -> dict:
        def side(r: CaseRow) -> dict:
            return {"response": r.response.outcome, "response_due": _iso(r.response.due),
                    "resolution": r.resolution.outcome,
                    "resolution_due": _iso(r.resolution.due),
                    "updates_missed": r.updates_missed, "error": r.error or None}
        return {"case": self.current.number, "priority": self.current.priority,
                "changed": self.clocks, "current": side(self.current),
                "draft": side(self.draft)}


def _iso(dt: datetime | None) -> str | None:
    return None if dt is None else dt.isoformat()


def compare(current: Iterable[CaseRow], draft: Iterable[CaseRow]) -> list[Change]:
    """The cases whose response or resolution verdict, missed updates or replay
    (a draft that cannot replay a case) differ between two runs over the same
    cases, in the order of ``current``."""
    by_id = {row.id: row for row in draft}
    out = []
    for row in current:
        other = by_id.get(row.id)
        if other is not None and other is not row and other.outcome_key() != row.outcome_key():
            out.append(Change(row, other))
    return out
