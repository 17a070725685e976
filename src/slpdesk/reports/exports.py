"""CSV and XLSX of the report and of the cases behind it.

Every text cell goes through :func:`neutralise`: a spreadsheet takes a cell
that begins with ``=``, ``+``, ``-`` or ``@`` (or a tab, carriage return or
another control character before one) as a formula, so such a cell gets a
leading apostrophe and is shown as the text it is (CSV injection). Numbers
stay numbers. Times are in the viewer's zone: ISO 8601 with the offset in
CSV, local date-times in XLSX (which has no zones), the zone named in the
header.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime, tzinfo

from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from .compute import DIMENSIONS, OUTCOMES, CaseRow, Counts, Report

#: Characters that make a spreadsheet read a cell as a formula.
FORMULA_START = ("=", "+", "-", "@")


def neutralise(value):
    """``value`` made safe for a spreadsheet cell: a text beginning with ``= + - @``
    or a control character gets a leading apostrophe; anything else is as it is."""
    if isinstance(value, str) and value and (
            value[0] in FORMULA_START or ord(value[0]) < 32 or value[0] == "\x7f"):
        return "'" + value
    return value


Table = tuple[str, list[str], list[list]]  # (title, header, rows)


def _hours(seconds: int | None):
    return None if seconds is None else round(seconds / 3600, 2)


def _pct(x: float | None):
    return None if x is None else round(x, 1)


def _counts_header(prefix: str) -> list[str]:
    names = {"met": pgettext("sla state", "Met"), "breached": pgettext("sla state", "Breached"),
             "not_applicable": pgettext("sla state", "Not applicable"),
             "open": _("No verdict yet")}
    out = []
    for o in OUTCOMES:
        out += [f"{prefix}: {names[o]}", f"{prefix}: {names[o]} %"]
    return [*out, f"{prefix}: " + _("compliance %")]


def _counts(c: Counts) -> list:
    out = []
    for o in OUTCOMES:
        out += [getattr(c, o), _pct(c.pct(o))]
    return [*out, _pct(c.compliance)]


def report_tables(report: Report, labels: dict[str, dict[str, str]]) -> list[Table]:
    """The report as tables; ``labels[dimension][key]`` names a group (a month, a
    region, a kind) in the viewer's language."""
    head = [_("Group"), _("Cases"), *_counts_header(_("Response")),
            *_counts_header(_("Resolution"))]
    t = report.totals
    tables: list[Table] = [(_("All cases"), head, [[_("All cases"), t.cases,
                                                     *_counts(t.response),
                                                     *_counts(t.resolution)]])]
    titles = dimension_titles()
    for dim in DIMENSIONS:
        names = labels.get(dim, {})
        rows = [[names.get(b.key) or b.label or b.key, b.cases, *_counts(b.response),
                 *_counts(b.resolution)] for b in report.dimensions[dim]]
        tables.append((titles[dim], head, rows))
    tables.append((_("Business time (hours)"), [
        _("Priority"), _("Responses measured"), _("Response median"), _("Response 90th percentile"),
        _("Response target"), _("Resolutions measured"), _("Resolution median"),
        _("Resolution 90th percentile"), _("Resolution target")],
        [[x.priority, x.response.n, _hours(x.response.median), _hours(x.response.p90),
          _hours(x.response.target), x.resolution.n, _hours(x.resolution.median),
          _hours(x.resolution.p90), _hours(x.resolution.target)] for x in report.times]))
    tables.append((_("Status updates"), [
        _("Priority"), _("Owed"), _("Given on time"), _("Missed"), _("On time %")],
        [[u.key or _("All priorities"), u.owed, u.on_time, u.missed, _pct(u.on_time_pct)]
         for u in report.updates]))
    tables.append((_("Escalations"), [
        _("Level"), _("Escalations"), _("Acknowledged"), _("Cases")],
        [[e.level, e.escalations, e.acknowledged, e.cases] for e in report.escalations]))
    return tables


def dimension_titles() -> dict[str, str]:
    return {"priority": _("By priority"), "month": _("By month"),
            "region": _("By region (support calendar)"), "organisation": _("By organisation"),
            "kind": _("By kind of organisation"), "agent": _("By agent")}


def case_table(rows: Iterable[CaseRow], tz: tzinfo, zone_name: str,
               labels: dict[str, dict[str, str]]) -> Table:
    """One line per case with its clock figures (hours are business hours)."""
    zone = f" ({zone_name})"
    header = [
        _("Case"), _("Title"), _("Received") + zone, _("Priority"), _("Region"),
        _("Organisation"), _("Kind of organisation"), _("Agent"), _("Status"),
        _("Response"), _("Response due") + zone, _("First response") + zone,
        _("Business hours to first response"), _("Response target (hours)"),
        _("Resolution"), _("Resolution due") + zone, _("Resolved") + zone,
        _("Business hours to resolution"), _("Resolution target (hours)"),
        _("Status updates owed"), _("Status updates missed"), _("Escalation level"),
        _("Not replayed because"),
    ]
    out = []
    for r in rows:
        out.append([
            r.number, r.title, r.received_at.astimezone(tz), r.priority,
            labels.get("region", {}).get(r.region, r.region), r.organisation,
            labels.get("kind", {}).get(r.kind, r.kind), r.agent, r.status,
            r.response.state, _local(r.response.due, tz), _local(r.response.stopped, tz),
            _hours(r.response.seconds) if r.response.started else None,
            _hours(r.response.target),
            r.resolution.state, _local(r.resolution.due, tz), _local(r.resolution.stopped, tz),
            _hours(r.resolution.seconds) if r.resolution.started else None,
            _hours(r.resolution.target),
            r.updates_owed, r.updates_missed,
            max((level for level, _ack in r.escalations), default=0), r.error,
        ])
    return (_("Cases"), header, out)


def _local(dt: datetime | None, tz: tzinfo):
    return None if dt is None else dt.astimezone(tz)


# ------------------------------------------------------------------ writers
def _csv_value(value):
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.replace(microsecond=0).isoformat()
    return neutralise(value)


def to_csv(tables: list[Table]) -> bytes:
    """The tables one after another, each under its title and a blank line apart;
    UTF-8 with a byte-order mark, so that spreadsheets read å, ä and ö right."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    for n, (title, header, rows) in enumerate(tables):
        if len(tables) > 1:
            if n:
                writer.writerow([])
            writer.writerow([neutralise(title)])
        writer.writerow([neutralise(h) for h in header])
        for row in rows:
            writer.writerow([_csv_value(v) for v in row])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def to_xlsx(tables: list[Table]) -> bytes:
    """One sheet per table, with the header row frozen."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, WriteOnlyCell
    from openpyxl.styles import Font

    def cell(ws, value, bold=False):
        if isinstance(value, datetime):
            value = value.replace(tzinfo=None, microsecond=0)
        elif isinstance(value, str):
            value = ILLEGAL_CHARACTERS_RE.sub("", neutralise(value))
        c = WriteOnlyCell(ws, value=value)
        if bold:
            c.font = Font(bold=True)
        if isinstance(value, datetime):
            c.number_format = "yyyy-mm-dd hh:mm:ss"
        return c

    wb = Workbook(write_only=True)
    used: set[str] = set()
    for title, header, rows in tables:
        ws = wb.create_sheet(_sheet_title(title, used))
        ws.freeze_panes = "A2"
        ws.append([cell(ws, h, bold=True) for h in header])
        for row in rows:
            ws.append([cell(ws, v) for v in row])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _sheet_title(title: str, used: set[str]) -> str:
    """A sheet name Excel accepts: at most 31 characters, none of ``[]:*?/\\``, unique."""
    base = "".join("_" if ch in "[]:*?/\\" else ch for ch in title)[:31].strip("'") or "Sheet"
    name, n = base, 2
    while name.lower() in used:
        suffix = f" {n}"
        name, n = base[:31 - len(suffix)] + suffix, n + 1
    used.add(name.lower())
    return name
