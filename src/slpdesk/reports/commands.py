"""``slpdesk report`` and ``slpdesk policy simulate``: the report's figures on the
command line, as text or JSON.

Both take the cases received from ``--from`` to ``--to`` (dates, both
included, in ``--tz``; default UTC): ``report`` sums their stored SLA facts
(:mod:`.facts`), ``policy simulate`` replays them under their own version and a
draft policy file, with a progress bar (tqdm) on standard error when it is a
terminal, or with ``--progress``. Called by
:mod:`slpdesk.cli` once Django is set up; bad input raises ``ValueError``
subclasses that the CLI prints as one line (exit 2).
"""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from datetime import date

from django.utils import timezone

from slpdesk.sla import PolicyError, get_zone, load_policy

from .compute import DIMENSIONS, Counts, Report
from .data import Period, staff_cases
from .facts import report_from_facts
from .simulate import simulate


class CommandError(ValueError):
    """Bad input on the command line (the CLI prints it and exits with 2)."""


def parse_period(first: str, last: str, zone: str) -> Period:
    tz = get_zone(zone)
    dates = []
    for text, what in ((first, "--from"), (last, "--to")):
        try:
            dates.append(date.fromisoformat(text))
        except (TypeError, ValueError):
            raise CommandError(f"{what}: {text!r} is not a date (2026-07-01)") from None
    if dates[1] < dates[0]:
        raise CommandError("--to: the period ends before it starts")
    return Period(dates[0], dates[1], tz, zone)


@contextmanager
def progress_bar(enabled: bool, desc: str = "replaying"):
    """``(total, update)`` callbacks driving a tqdm bar on standard error."""
    from tqdm import tqdm

    bar = None

    def total(n: int) -> None:
        nonlocal bar
        bar = tqdm(total=n, file=sys.stderr, unit="case", desc=desc,
                   disable=not enabled, leave=False, dynamic_ncols=True)

    def update(k: int) -> None:
        if bar is not None:
            bar.update(k)

    try:
        yield total, update
    finally:
        if bar is not None:
            bar.close()


def _show_progress(args) -> bool:
    return bool(args.progress or sys.stderr.isatty())


def run_report(args) -> int:
    period = parse_period(args.first, args.last, args.tz)
    now = timezone.now()
    report = report_from_facts(staff_cases(), period, now)
    if args.format == "json":
        _json(report.as_dict())
    else:
        sys.stdout.write(report_text(report))
    return 0


def run_simulate(args) -> int:
    period = parse_period(args.first, args.last, args.tz)
    try:
        draft = load_policy(args.file)
    except PolicyError as exc:
        raise CommandError(str(exc)) from None
    now = timezone.now()
    with progress_bar(_show_progress(args)) as (total, update):
        result = simulate(staff_cases(), period, draft, now, progress=update, total=total)
    if args.format == "json":
        _json(result.as_dict())
    else:
        sys.stdout.write(simulation_text(result))
    return 0


def _json(doc: dict) -> None:
    json.dump(doc, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


# ------------------------------------------------------------------- text
def _p(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}%"


def _h(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    minutes = seconds // 60
    return f"{minutes // 60}h{minutes % 60:02d}"


def _counts(c: Counts) -> list[str]:
    return [str(c.met), str(c.breached), str(c.not_applicable), str(c.open), _p(c.compliance)]


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[k])) for r in [header, *rows]) for k in range(len(header))]
    lines = []
    for r in [header, *rows]:
        cells = [str(v).ljust(widths[0]) if k == 0 else str(v).rjust(widths[k])
                 for k, v in enumerate(r)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


TITLES = {"priority": "By priority", "month": "By month", "region": "By region (calendar)",
          "organisation": "By organisation", "kind": "By kind of organisation",
          "agent": "By agent"}


def report_text(report: Report) -> str:
    head = ["", "cases", "resp met", "breached", "n/a", "open", "compliance",
            "resol met", "breached", "n/a", "open", "compliance"]
    out = [f"SLA compliance report: cases received {report.first} to {report.last} "
           f"({report.zone})\n\n"]
    t = report.totals
    rows = [["All cases", str(t.cases), *_counts(t.response), *_counts(t.resolution)]]
    out.append(_table(head, rows))
    for dim in DIMENSIONS:
        out.append(f"\n{TITLES[dim]}\n")
        rows = [[b.label or ("(unassigned)" if dim == "agent" else b.key), str(b.cases),
                 *_counts(b.response), *_counts(b.resolution)]
                for b in report.dimensions[dim]]
        out.append(_table(head, rows) if rows else "(no cases)\n")
    out.append("\nBusiness time (hours:minutes of business time)\n")
    out.append(_table(
        ["priority", "responses", "median", "p90", "target", "resolutions", "median", "p90",
         "target"],
        [[x.priority, str(x.response.n), _h(x.response.median), _h(x.response.p90),
          _h(x.response.target), str(x.resolution.n), _h(x.resolution.median),
          _h(x.resolution.p90), _h(x.resolution.target)] for x in report.times]))
    out.append("\nStatus updates\n")
    out.append(_table(["priority", "owed", "on time", "missed", "on time %"],
                      [[u.key or "all", str(u.owed), str(u.on_time), str(u.missed),
                        _p(u.on_time_pct)] for u in report.updates]))
    out.append("\nEscalations by level\n")
    out.append(_table(["level", "escalations", "acknowledged", "cases"],
                      [[str(e.level), str(e.escalations), str(e.acknowledged), str(e.cases)]
                       for e in report.escalations]) if report.escalations else "(none)\n")
    if report.errors:
        out.append(f"\n{len(report.errors)} cases could not be replayed:\n")
        out.extend(f"  {n}: {e}\n" for n, e in report.errors)
    return "".join(out)


def simulation_text(result) -> str:
    cur, new = result.current, result.proposed
    out = [f"What if {result.draft.id} {result.draft.version} had been in force: cases "
           f"received {cur.first} to {cur.last} ({cur.zone})\n\n"]
    rows = [
        ["cases", str(cur.cases), str(new.cases)],
        ["response compliance", _p(cur.totals.response.compliance),
         _p(new.totals.response.compliance)],
        ["responses breached", str(cur.totals.response.breached),
         str(new.totals.response.breached)],
        ["resolution compliance", _p(cur.totals.resolution.compliance),
         _p(new.totals.resolution.compliance)],
        ["resolutions breached", str(cur.totals.resolution.breached),
         str(new.totals.resolution.breached)],
        ["status updates owed", str(cur.update_total().owed), str(new.update_total().owed)],
        ["status updates missed", str(cur.update_total().missed),
         str(new.update_total().missed)],
        ["cannot be replayed", str(len(cur.errors)), str(len(new.errors))],
    ]
    new_prio = {b.key: b for b in new.dimensions["priority"]}
    for b in cur.dimensions["priority"]:
        o = new_prio.get(b.key)
        if o is not None:
            rows.append([f"{b.key} response compliance", _p(b.response.compliance),
                         _p(o.response.compliance)])
            rows.append([f"{b.key} resolution compliance", _p(b.resolution.compliance),
                         _p(o.resolution.compliance)])
    out.append(_table(["", "today", "draft"], rows))
    out.append(f"\n{len(result.changes)} cases would change\n")
    if result.changes:
        out.append(_table(
            ["case", "priority", "response", "resolution", "updates missed"],
            [[c.current.number, c.current.priority,
              f"{c.current.response.outcome} -> {c.draft.response.outcome}",
              f"{c.current.resolution.outcome} -> {c.draft.resolution.outcome}",
              f"{c.current.updates_missed} -> {c.draft.updates_missed}"
              + (f" ({c.draft.error})" if c.draft.error else "")]
             for c in result.changes]))
    return "".join(out)
