"""What if a draft policy had been in force: replay a period under it, side by side.

Every case received in the period is replayed from its event log twice, once
under its own policy version (what the desk says today) and once under the
draft (same events; the draft's targets, update intervals, calendars and
calendar rules), and the two reports are set side by side with the cases
whose outcome would change (:func:`slpdesk.reports.compute.compare`).

Used by the console (a draft pasted, uploaded or a stored policy version) and
by ``slpdesk policy simulate FILE --from DATE --to DATE``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from django.db.models import QuerySet

from slpdesk.sla import Policy, PolicyError, policy_from_text

from .compute import CaseRow, Change, Report, Tally, compare, tally_rows
from .data import Period, replay_period_folded

#: The largest draft the console accepts (the shipped policy is about 8 kB).
MAX_DRAFT_BYTES = 512 * 1024


def parse_draft(text: str, source: str = "draft") -> Policy:
    """The draft policy in ``text`` (TOML); raises :class:`PolicyError` naming the
    problem (the key, as ``slpdesk policy validate`` would)."""
    if len(text.encode("utf-8", "replace")) > MAX_DRAFT_BYTES:
        raise PolicyError(f"{source}: larger than {MAX_DRAFT_BYTES // 1024} kB")
    return policy_from_text(text, source)


@dataclass
class Simulation:
    """Current and draft reports over the same cases, and the cases that change."""

    draft: Policy
    current: Report
    proposed: Report
    changes: list[Change]

    def as_dict(self) -> dict:
        return {
            "draft": {"policy": self.draft.id, "version": self.draft.version},
            "current": self.current.as_dict(),
            "draft_report": self.proposed.as_dict(),
            "changed_cases": [c.as_dict() for c in self.changes],
        }


def simulate(cases: QuerySet, period: Period, draft: Policy, now: datetime, *,
             processes: int | None = None,
             progress: Callable[[int], None] | None = None,
             total: Callable[[int], None] | None = None) -> Simulation:
    """Replay ``cases`` of ``period`` under their own versions and under ``draft``,
    on ``processes`` cores (default: every one;
    :func:`~slpdesk.reports.data.replay_period_folded`): each process tallies its
    chunk of cases under both and compares them, and the chunks' tallies and
    changes are merged in case order - the same figures and changes as one pass.
    The current column is what the compliance report counts: each case's stored SLA
    facts (replayed only where they are not computed yet); the draft's column is
    replayed, and reuses the current row where the draft cannot change it."""
    parts = replay_period_folded(cases, period, now, (None, draft),
                                 partial(_fold, period), processes=processes,
                                 progress=progress, total=total, facts=True)
    return merge_parts(draft, period, parts)


def _fold(period: Period, rows: list[list[CaseRow]]) -> tuple[Tally, Tally, list[Change]]:
    """One chunk of cases replayed under both: its two tallies and its changes."""
    current, proposed = rows
    return (tally_rows(current, period.tz, period.first, period.last),
            tally_rows(proposed, period.tz, period.first, period.last),
            compare(current, proposed))


def merge_parts(draft: Policy, period: Period, parts) -> Simulation:
    """The simulation of consecutive chunks of cases (their folds, in case order)."""
    current, proposed = Tally(period.first, period.last), Tally(period.first, period.last)
    changes: list[Change] = []
    for cur, new, changed in parts:
        current.merge(cur)
        proposed.merge(new)
        changes.extend(changed)
    return Simulation(draft=draft, current=current.report(period.zone_name),
                      proposed=proposed.report(period.zone_name), changes=changes)
