"""``slpdesk sla audit``: prove that every stored SLA column equals a replay.

Each case is replayed from its events, its policy version and the closure
record in effect (:func:`services.sla_state`) at the moment its columns were
written (``sla_computed_at``), and every column :func:`services.refresh_sla`
writes (:data:`services.SLA_COLUMNS`) is compared with what that replay gives
(:func:`services.sla_columns`): the due times, the stopped times and the next
SLA event, which do not depend on the moment of the replay, the facts the
reports add up (outcomes, open due times, business seconds, updates owed and
missed, the queue's order), and the states as of that moment (a clock that has
since become at risk or breached is no difference). A case whose columns are
not current differs: one whose recompute is waiting for the worker
(``sla_computed_at`` empty) or whose history has an SLA event after
``sla_computed_at``; it is replayed at the audit's ``now`` and its due and
stopped times are compared too.

The database is read in batches of :data:`BATCH` cases (keyset by id, the
case rows without their texts, the batch's SLA events and SLA notices in one
query each, the closures once), so 100,000 cases are never in memory at once.
A case found differing is read again on its own before it is reported, so a
change committed while the audit ran is not reported as a difference.

:meth:`CaseAudit.line` is the report's line; extend :func:`differences` with
more ``(field, stored, replayed)`` checks as the desk stores more per case.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import transaction

from slpdesk.sla import CalendarError, PolicyError, ReplayError

from . import services
from .badges import closures_by_calendar
from .models import Case, CaseEvent, PolicyVersion, SlaNotice

#: Cases read per batch.
BATCH = 1000
#: The columns compared for every case; the states and the next SLA event only for a
#: case whose columns are current (they are as of ``sla_computed_at``).
TIMES = ("response_due", "resolution_due", "next_update_due", "earliest_due",
         "response_stopped", "resolution_stopped", "next_update_stopped")
CASE_FIELDS = ("id", "number", "calendar", "time_zone", "policy_version", "updated_at",
               "sla_computed_at", *services.SLA_COLUMNS)
EVENT_FIELDS = ("case_id", "at", "type", "priority", "kind", "resolution")


@dataclass(frozen=True)
class Difference:
    """One stored value that is not what the replay gives."""

    field: str
    stored: object
    replayed: object


@dataclass(frozen=True)
class CaseAudit:
    """A case that differs, with each of its differences."""

    case_id: int
    number: str
    differences: tuple[Difference, ...]

    def line(self) -> str:
        """``SLP-000123 resolution_due stored 2026-06-01T21:00:00Z replayed
        2026-06-02T20:00:00Z`` (more differences follow after ``; ``)."""
        parts = [f"{d.field} stored {_text(d.stored)} replayed {_text(d.replayed)}"
                 for d in self.differences]
        return f"{self.number} " + "; ".join(parts)


@dataclass
class AuditResult:
    checked: int = 0
    differ: int = 0
    fixed: int = 0


def _text(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, datetime):
        text = value.astimezone(UTC).replace(tzinfo=None).isoformat()
        return text + "Z"
    return str(value)


def differences(case: Case, events: list, fired: set, closed: list, now: datetime
                ) -> list[Difference]:
    """What ``case``'s stored SLA columns say against a replay of ``events`` (the
    case's ``(at, type, priority, kind, resolution)`` rows in order), with ``fired``
    its SLA notices and ``closed`` its calendar's closures in effect."""
    events = services.sla_events(events)
    computed = case.sla_computed_at
    # Not current: waiting for the worker, or older than the last SLA event.
    stale = computed is None or (events and events[-1].at > computed)
    at = max(now, case.updated_at, events[-1].at if events else now) if stale else computed
    try:
        state = services.sla_state(case, at, closed, events)
        replayed = services.sla_columns(case, state, closed, fired, events=events, now=at)
    except (ReplayError, PolicyError, CalendarError) as exc:
        return [Difference("replay", "columns", f"refused: {exc}".replace("\n", " "))]
    found = [Difference("sla_computed_at", computed, at)] if stale else []
    for field in TIMES if stale else services.SLA_COLUMNS:
        stored = getattr(case, field)
        if stored != replayed[field]:
            found.append(Difference(field, stored, replayed[field]))
    return found


class _Reader:
    """Reads batches of cases with what their replay needs; policy versions once each,
    the closures once (:meth:`fresh` reads one case again with fresh closures)."""

    def __init__(self) -> None:
        self.versions: dict[int, PolicyVersion] = {}
        self.closed = closures_by_calendar()

    def check(self, cases: list[Case], now: datetime) -> list[CaseAudit]:
        ids = [c.pk for c in cases]
        missing = {c.policy_version_id for c in cases} - set(self.versions)
        if missing:
            self.versions.update(PolicyVersion.objects.in_bulk(missing))
        events: dict[int, list] = defaultdict(list)
        for case_id, *row in (CaseEvent.objects.filter(case_id__in=ids,
                                                       type__in=CaseEvent.SLA_TYPES)
                              .order_by("case_id", "at", "id").values_list(*EVENT_FIELDS)):
            events[case_id].append(row)
        fired: dict[int, set] = defaultdict(set)
        for case_id, *key in SlaNotice.objects.filter(case_id__in=ids).values_list(
                "case_id", "kind", "clock", "due"):
            fired[case_id].add(tuple(key))
        out = []
        for case in cases:
            case.policy_version = self.versions[case.policy_version_id]
            found = differences(case, events[case.pk], fired[case.pk],
                                self.closed.get(case.calendar, []), now)
            if found:
                out.append(CaseAudit(case.pk, case.number or str(case.pk), tuple(found)))
        return out

    def fresh(self, pk: int, now: datetime) -> CaseAudit | None:
        """Audit one case again, everything read now, in one transaction."""
        with transaction.atomic():
            self.closed = closures_by_calendar()
            cases = list(Case.objects.filter(pk=pk).only(*CASE_FIELDS))
            found = self.check(cases, now) if cases else []
        return found[0] if found else None


def audit(now: datetime, *, number: str | None = None, fix: bool = False,
          report: Callable[[CaseAudit], object] = lambda _: None,
          progress: Callable[[int], object] = lambda _: None,
          batch: int = BATCH) -> AuditResult:
    """Audit every case (or the one numbered ``number``), calling ``report`` for each
    that differs and ``progress(k)`` after each ``k`` cases checked. With ``fix``,
    each differing case is recomputed through :func:`services.refresh_sla`, the
    function every change uses. Raises ``Case.DoesNotExist`` for an unknown
    ``number``."""
    result = AuditResult()
    reader = _Reader()
    base = Case.objects.only(*CASE_FIELDS).order_by("pk")
    if number is not None:
        base = base.filter(pk=Case.objects.get(number=number).pk)
    last = 0
    while True:
        cases = list(base.filter(pk__gt=last)[:batch])
        if not cases:
            break
        last = cases[-1].pk
        for found in reader.check(cases, now):
            found = reader.fresh(found.case_id, now)  # not a change made meanwhile
            if found is None:
                continue
            result.differ += 1
            report(found)
            if fix:
                _fix(found.case_id, now)
                result.fixed += 1
        result.checked += len(cases)
        progress(len(cases))
    return result


def _fix(pk: int, now: datetime) -> None:
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=pk)
        # Another machine's clock may be a little behind the case's last change.
        services.refresh_sla(case, max(now, case.updated_at))


def count(number: str | None = None) -> int:
    """How many cases an audit checks (for a progress bar)."""
    return 1 if number is not None else Case.objects.count()
