"""The report's charts, drawn on the server as plain inline SVG (no JavaScript).

Three charts, each with a title and a description for screen readers
(``role="img"``, ``<title>``, ``<desc>``) and the same numbers as a table
that the page shows under the chart:

* compliance over time: per priority, the share of response and resolution
  verdicts kept, month by month;
* business time to first response against the target: per priority, how many
  responses took up to a quarter, half, three quarters, all, one and a half
  times, twice or more than twice the target;
* breaches by organisation: the organisations with the most breached
  response and resolution targets.

The SVG is written here element by element (a few hundred elements for a
year: lines, bars, circles and texts in a ``viewBox``, so it scales with the
page): drawing a year's report takes about a millisecond and no plotting
library is loaded in the web process. Texts are translated by the caller's
active language (gettext), escaped for XML and drawn as SVG text in the page's
fonts, so they can be selected and read aloud.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from django.template.defaultfilters import floatformat
from django.utils import dateformat
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from .compute import BIN_EDGES, Report

PRIORITY_COLOURS = {"P1": "#a3261d", "P2": "#d9631e", "P3": "#b8931a", "P4": "#5d6b80"}
OTHER_COLOURS = ("#2a6fdb", "#3c9a5f", "#8e44ad", "#16a085")
MET, BREACHED = "#3c9a5f", "#c0392b"
INK, MUTED, GRID = "#1d2330", "#5f6673", "#dde2ea"
TOP_ORGANISATIONS = 12
WIDTH = 900  # the viewBox's width; the page scales it to the column


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    description: str
    svg: SafeString
    header: list[str]
    rows: list[list]


def _colour(priority: str, n: int) -> str:
    return PRIORITY_COLOURS.get(priority) or OTHER_COLOURS[n % len(OTHER_COLOURS)]


def month_label(month: str, fmt: str | None = None) -> str:
    """``2026-07`` as ``Jul 2026`` in the active language (Swedish: ``jul 2026``)."""
    y, m = (int(x) for x in month.split("-"))
    return dateformat.format(date(y, m, 1), fmt or _("M Y"))


def hours_label(seconds: float) -> str:
    hours = seconds / 3600
    if hours < 1:
        return _("%(minutes)d min") % {"minutes": round(seconds / 60)}
    return _("%(hours)s h") % {"hours": f"{hours:g}" if hours == int(hours) else f"{hours:.1f}"}


# ------------------------------------------------------------------ drawing
def _n(x: float) -> str:
    """A coordinate, short."""
    return f"{x:.1f}".rstrip("0").rstrip(".")


class _Svg:
    """The elements of one chart, in drawing order."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def text(self, x: float, y: float, text: str, *, anchor: str = "start", size: int = 12,
             weight: str = "", fill: str = INK, rotate: float = 0) -> None:
        extra = f' font-weight="{weight}"' if weight else ""
        if rotate:
            extra += f' transform="rotate({_n(rotate)} {_n(x)} {_n(y)})"'
        self.parts.append(f'<text x="{_n(x)}" y="{_n(y)}" text-anchor="{anchor}" '
                          f'font-size="{size}" fill="{fill}"{extra}>{escape(text)}</text>')

    def line(self, x1: float, y1: float, x2: float, y2: float, colour: str = GRID,
             width: float = 1, dash: str = "") -> None:
        extra = f' stroke-dasharray="{dash}"' if dash else ""
        self.parts.append(f'<line x1="{_n(x1)}" y1="{_n(y1)}" x2="{_n(x2)}" y2="{_n(y2)}" '
                          f'stroke="{colour}" stroke-width="{_n(width)}"{extra}/>')

    def rect(self, x: float, y: float, w: float, h: float, colour: str) -> None:
        self.parts.append(f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(max(w, 0))}" '
                          f'height="{_n(max(h, 0))}" fill="{colour}"/>')

    def polyline(self, points: list[tuple[float, float]], colour: str) -> None:
        self.parts.append('<polyline fill="none" stroke="{}" stroke-width="1.8" points="{}"/>'
                          .format(colour, " ".join(f"{_n(x)},{_n(y)}" for x, y in points)))

    def dot(self, x: float, y: float, colour: str) -> None:
        self.parts.append(f'<circle cx="{_n(x)}" cy="{_n(y)}" r="3.5" fill="{colour}"/>')

    def render(self, chart_id: str, title: str, description: str, height: float) -> SafeString:
        head = (f'<svg class="chart" role="img" aria-labelledby="{chart_id}-title '
                f'{chart_id}-desc" id="{chart_id}" xmlns="http://www.w3.org/2000/svg" '
                f'viewBox="0 0 {WIDTH} {_n(height)}" font-family="inherit">'
                f'<title id="{chart_id}-title">{escape(title)}</title>'
                f'<desc id="{chart_id}-desc">{escape(description)}</desc>')
        # Every text above and in the parts is escaped (django.utils.html.escape).
        return mark_safe(head + "".join(self.parts) + "</svg>")  # noqa: S308


def _ticks(top: float) -> list[int]:
    """Whole-number axis ticks from 0 to at least ``top``, 1, 2 or 5 times a power of
    ten apart, at most five steps."""
    top = max(top, 1)
    step = 1
    while math.ceil(top / step) > 5:
        step = step * 5 // 2 if str(step)[0] == "2" else step * 2
    return list(range(0, step * math.ceil(top / step) + 1, step))


def _empty(svg: _Svg, y: float, text: str) -> None:
    svg.text(WIDTH / 2, y, text, anchor="middle", size=13, fill=MUTED)


# ----------------------------------------------------------------- the charts
def compliance_over_time(report: Report) -> Chart:
    months = report.months
    priorities = report.priorities
    title = _("Compliance over time, by priority")
    description = _("Share of response and resolution targets met among the verdicts "
                    "reached, per month of receipt, one line per priority.")
    header = [_("Month"), _("Priority"), _("Response met %"), _("Resolution met %")]
    rows = []
    for month in months:
        for p in priorities:
            cell = report.monthly.get((month, p))
            if cell is None:
                continue
            rows.append([month_label(month, "F Y"), p, _pct(cell.response.compliance),
                         _pct(cell.resolution.compliance)])
    slanted = len(months) > 6
    height = 330 if slanted else 300
    top, bottom = 36, height - (80 if slanted else 50)
    svg = _Svg()
    svg.text(14, (top + bottom) / 2, _("Targets met (%)"), anchor="middle", size=12,
             rotate=-90)
    panel_w = (WIDTH - 70 - 20) / 2
    for k, (clock, name) in enumerate((("response", _("Response")),
                                       ("resolution", _("Resolution")))):
        left = 60 + k * (panel_w + 20)
        right = left + panel_w - 10
        svg.text((left + right) / 2, 20, name, anchor="middle", size=14)
        for pct in (0, 25, 50, 75, 100):
            y = bottom - (bottom - top) * pct / 100
            svg.line(left, y, right, y)
            if k == 0:
                svg.text(left - 6, y + 4, str(pct), anchor="end", size=11, fill=MUTED)
        svg.line(left, bottom, right, bottom, INK)
        step = (right - left) / max(len(months), 1)
        xs = [left + step * (j + 0.5) for j in range(len(months))]
        for x, month in zip(xs, months, strict=True):
            if slanted:
                svg.text(x, bottom + 14, month_label(month), anchor="end", size=11,
                         rotate=-45)
            else:
                svg.text(x, bottom + 18, month_label(month), anchor="middle", size=11)
        for n, p in enumerate(priorities):
            colour = _colour(p, n)
            run: list[tuple[float, float]] = []
            for x, month in zip(xs, months, strict=True):
                cell = report.monthly.get((month, p))
                value = getattr(cell, clock).compliance if cell else None
                if value is None:  # a gap in the line
                    if len(run) > 1:
                        svg.polyline(run, colour)
                    run = []
                    continue
                y = bottom - (bottom - top) * value / 100
                run.append((x, y))
                svg.dot(x, y, colour)
            if len(run) > 1:
                svg.polyline(run, colour)
        if k == 1 and priorities:
            svg.text(right - 60, bottom - 12 - 16 * len(priorities), _("Priority"), size=11,
                     fill=MUTED)
            for n, p in enumerate(priorities):
                y = bottom - 8 - 16 * (len(priorities) - 1 - n)
                svg.line(right - 60, y - 4, right - 44, y - 4, _colour(p, n), 2.5)
                svg.text(right - 40, y, p, size=11)
    return Chart("chart-compliance", title, description,
                 svg.render("chart-compliance", title, description, height), header, rows)


def _bin_labels() -> list[str]:
    out = []
    for k in range(1, len(BIN_EDGES)):
        lo, hi = BIN_EDGES[k - 1], BIN_EDGES[k]
        if hi == float("inf"):
            out.append(_("over %(x)s×") % {"x": f"{lo:g}"})
        else:
            out.append(_("up to %(x)s×") % {"x": f"{hi:g}"})
    return out


def response_distribution(report: Report) -> Chart:
    dist = report.distribution()
    title = _("Business time to first response against the target")
    description = _("For each priority, how many first responses took up to a quarter, half, "
                    "three quarters or all of the response target, and how many took longer "
                    "(up to one and a half times, twice, or more than twice the target).")
    labels = _bin_labels()
    header = [_("Priority"), _("Response target"), *[_("%(bin)s the target") % {"bin": b}
                                                      for b in labels]]
    rows = [[p, hours_label(t) if t else "–", *counts] for p, t, counts in dist]
    height = 260
    svg = _Svg()
    if not dist:
        _empty(svg, height / 2, _("No first responses in this period."))
    else:
        svg.text(14, 110, _("Cases"), anchor="middle", size=12, rotate=-90)
    top, bottom = 34, 180
    within = BIN_EDGES.index(1.0)  # bins before it are within the target
    panel_w = (WIDTH - 40) / max(len(dist), 1)
    for k, (p, target, counts) in enumerate(dist):
        left = 40 + k * panel_w + 34
        right = left + panel_w - 44
        svg.text((left + right) / 2, 18, f"{p} · " + (
            _("target %(t)s") % {"t": hours_label(target)} if target else "–"),
            anchor="middle", size=13)
        ticks = _ticks(max(counts))
        for tick in ticks:
            y = bottom - (bottom - top) * tick / ticks[-1]
            svg.line(left, y, right, y)
            svg.text(left - 5, y + 4, f"{tick:,}".replace(",", "\u202f"), anchor="end",
                     size=10, fill=MUTED)
        svg.line(left, bottom, right, bottom, INK)
        step = (right - left) / len(counts)
        for j, count in enumerate(counts):
            x = left + step * j
            h = (bottom - top) * count / ticks[-1]
            svg.rect(x + step * 0.1, bottom - h, step * 0.8, h, MET if j < within else BREACHED)
            if target and j + 1 < len(BIN_EDGES) - 1:
                tick = "≤ " + hours_label(target * BIN_EDGES[j + 1])
            elif j == len(counts) - 1:
                tick = "> " + (hours_label(target * BIN_EDGES[-2]) if target else "")
            else:
                tick = ""
            if tick:
                svg.text(x + step / 2 + 3, bottom + 10, tick, anchor="end", size=9,
                         rotate=-60)
        x = left + step * within
        svg.line(x, top - 4, x, bottom, INK, 1, "4 3")
    return Chart("chart-distribution", title, description,
                 svg.render("chart-distribution", title, description, height), header, rows)


def breaches_by_organisation(report: Report) -> Chart:
    buckets = sorted((b for b in report.dimensions["organisation"] if b.breaches),
                     key=lambda b: (-b.breaches, b.label.casefold()))[:TOP_ORGANISATIONS]
    title = _("Breaches by organisation")
    description = _("The organisations with the most breached targets in the period: "
                    "response and resolution breaches, most first.")
    header = [_("Organisation"), _("Response breaches"), _("Resolution breaches"),
              _("Cases")]
    rows = [[b.label, b.response.breached, b.resolution.breached, b.cases] for b in buckets]
    svg = _Svg()
    if not buckets:
        height = 90
        _empty(svg, height / 2, _("No breaches in this period."))
        return Chart("chart-breaches", title, description,
                     svg.render("chart-breaches", title, description, height), header, rows)
    bar, top, left, right = 24, 14, 270, WIDTH - 30
    bottom = top + bar * len(buckets)
    height = bottom + 62
    ticks = _ticks(max(b.breaches for b in buckets))
    scale = (right - left) / ticks[-1]
    for tick in ticks:
        x = left + tick * scale
        svg.line(x, top, x, bottom)
        svg.text(x, bottom + 16, f"{tick:,}".replace(",", "\u202f"), anchor="middle",
                 size=10, fill=MUTED)
    for k, b in enumerate(buckets):
        y = top + bar * k
        name = b.label if len(b.label) <= 40 else b.label[:39] + "…"
        svg.text(left - 8, y + bar / 2 + 4, name, anchor="end", size=11)
        svg.rect(left, y + 3, b.response.breached * scale, bar - 6, "#d9631e")
        svg.rect(left + b.response.breached * scale, y + 3, b.resolution.breached * scale,
                 bar - 6, BREACHED)
    svg.line(left, top, left, bottom, INK)
    svg.text((left + right) / 2, bottom + 34, _("Breached targets"), anchor="middle", size=12)
    for k, (name, colour) in enumerate(((_("Response"), "#d9631e"),
                                        (_("Resolution"), BREACHED))):
        x = right - 200 + 100 * k
        svg.rect(x, bottom + 44, 12, 12, colour)
        svg.text(x + 17, bottom + 54, name, size=11)
    return Chart("chart-breaches", title, description,
                 svg.render("chart-breaches", title, description, height), header, rows)


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{floatformat(x, 1)} %"


def all_charts(report: Report) -> list[Chart]:
    return [compliance_over_time(report), response_distribution(report),
            breaches_by_organisation(report)]
