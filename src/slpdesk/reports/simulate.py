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

from django.db.models import QuerySet

from slpdesk.sla import Policy, PolicyError, policy_from_text

from .compute import Change, Report, build_report, compare
from .data import Period, replay_period_parallel

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
    :func:`~slpdesk.reports.data.replay_period_parallel`)."""
    current, proposed = replay_period_parallel(cases, period, now, (None, draft),
                                               processes=processes, progress=progress,
                                               total=total)
    return Simulation(
        draft=draft,
        current=build_report(current, period.tz, period.first, period.last, period.zone_name),
        proposed=build_report(proposed, period.tz, period.first, period.last,
                              period.zone_name),
        changes=compare(current, proposed),
    )
