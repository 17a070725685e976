"""The report's charts, drawn on the server with matplotlib as inline SVG.

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

Texts are translated by the caller's active language (gettext) and drawn as
SVG text (``svg.fonttype = none``), so the browser renders them in the page's
fonts and they can be selected and read aloud. matplotlib escapes them for
XML; a ``$`` is escaped here so that a name is never read as mathtext. The
Agg backend, a fresh :class:`~matplotlib.figure.Figure` per chart and no
pyplot, and the SVG written under a lock (its settings are global): safe in a
threaded server. matplotlib is imported on first use.
"""

from __future__ import annotations

import io
import re
import threading
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
TOP_ORGANISATIONS = 12
_RENDER_LOCK = threading.Lock()


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    description: str
    svg: SafeString
    header: list[str]
    rows: list[list]


def _tx(text: str) -> str:
    """A text drawn literally (a ``$`` would start mathtext)."""
    return str(text).replace("$", r"\$")


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


def _svg(fig, chart_id: str, title: str, description: str) -> SafeString:
    import matplotlib

    buf = io.StringIO()
    # rcParams are global: one rendering at a time (the server runs threads).
    with _RENDER_LOCK, matplotlib.rc_context({"svg.fonttype": "none",
                                              "svg.hashsalt": chart_id}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, count=1, flags=re.S)
    head = (f'<svg class="chart" role="img" aria-labelledby="{chart_id}-title {chart_id}-desc" '
            f'id="{chart_id}" ')
    text = re.sub(r'^<svg (.*?)width="[^"]*" height="[^"]*" ', lambda m: head + m.group(1),
                  text, count=1)
    close = text.index(">") + 1
    text = (text[:close] + f'<title id="{chart_id}-title">{escape(title)}</title>'
            f'<desc id="{chart_id}-desc">{escape(description)}</desc>' + text[close:])
    return mark_safe(text)  # noqa: S308 - matplotlib's own SVG; every text in it is escaped


def _figure(width: float, height: float):
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    return fig


def _style(ax) -> None:
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color="#dde2ea", linewidth=0.8)
    ax.set_axisbelow(True)


# ----------------------------------------------------------------- the charts
def compliance_over_time(report: Report) -> Chart:
    months = report.months
    priorities = report.priorities
    title = _("Compliance over time, by priority")
    description = _("Share of response and resolution targets met among the verdicts "
                    "reached, per month of receipt, one line per priority.")
    fig = _figure(9, 3.4)
    axes = fig.subplots(1, 2, sharey=True)
    x = list(range(len(months)))
    header = [_("Month"), _("Priority"), _("Response met %"), _("Resolution met %")]
    rows = []
    for month in months:
        for p in priorities:
            cell = report.monthly.get((month, p))
            if cell is None:
                continue
            rows.append([month_label(month, "F Y"), p, _pct(cell.response.compliance),
                         _pct(cell.resolution.compliance)])
    for ax, clock, name in ((axes[0], "response", _("Response")),
                            (axes[1], "resolution", _("Resolution"))):
        for n, p in enumerate(priorities):
            ys = []
            for month in months:
                cell = report.monthly.get((month, p))
                value = getattr(cell, clock).compliance if cell else None
                ys.append(float("nan") if value is None else value)
            ax.plot(x, ys, marker="o", markersize=4, linewidth=1.8, color=_colour(p, n),
                    label=_tx(p))
        ax.set_title(_tx(name), fontsize=11)
        ax.set_xticks(x, [_tx(month_label(m)) for m in months],
                      rotation=45 if len(months) > 6 else 0,
                      ha="right" if len(months) > 6 else "center")
        ax.set_ylim(-3, 103)
        _style(ax)
    axes[0].set_ylabel(_tx(_("Targets met (%)")))
    if priorities:
        axes[1].legend(title=_tx(_("Priority")), loc="lower right", fontsize=8,
                       title_fontsize=8, frameon=False)
    return Chart("chart-compliance", title, description,
                 _svg(fig, "chart-compliance", title, description), header, rows)


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
    fig = _figure(9, 2.6)
    n = max(1, len(dist))
    axes = fig.subplots(1, n, sharey=False, squeeze=False)[0]
    within = BIN_EDGES.index(1.0)  # bins before it are within the target
    for ax, (p, target, counts) in zip(axes, dist, strict=False):
        xs = list(range(len(counts)))
        colours = [MET if k < within else BREACHED for k in xs]
        ax.bar(xs, counts, color=colours, width=0.8)
        ax.axvline(within - 0.5, color="#1d2330", linestyle="--", linewidth=1)
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.set_title(_tx(f"{p} · " + (_("target %(t)s") % {"t": hours_label(target)}
                                      if target else "–")), fontsize=10)
        ticks = ["≤ " + hours_label(target * BIN_EDGES[k + 1])
                 if target and k + 1 < len(BIN_EDGES) - 1 else "" for k in xs]
        ticks[-1] = "> " + (hours_label(target * BIN_EDGES[-2]) if target else "")
        ax.set_xticks(xs, [_tx(t) for t in ticks], rotation=60, fontsize=7, ha="right")
        _style(ax)
    if len(dist) == 0:
        axes[0].text(0.5, 0.5, _tx(_("No first responses in this period.")),
                     ha="center", va="center", transform=axes[0].transAxes)
        axes[0].set_axis_off()
    else:
        axes[0].set_ylabel(_tx(_("Cases")))
    return Chart("chart-distribution", title, description,
                 _svg(fig, "chart-distribution", title, description), header, rows)


def breaches_by_organisation(report: Report) -> Chart:
    buckets = sorted((b for b in report.dimensions["organisation"] if b.breaches),
                     key=lambda b: (-b.breaches, b.label.casefold()))[:TOP_ORGANISATIONS]
    title = _("Breaches by organisation")
    description = _("The organisations with the most breached targets in the period: "
                    "response and resolution breaches, most first.")
    header = [_("Organisation"), _("Response breaches"), _("Resolution breaches"),
              _("Cases")]
    rows = [[b.label, b.response.breached, b.resolution.breached, b.cases] for b in buckets]
    fig = _figure(9, 1.2 + 0.32 * max(len(buckets), 2))
    ax = fig.subplots()
    names = [_tx(b.label if len(b.label) <= 40 else b.label[:39] + "…") for b in buckets][::-1]
    resp = [b.response.breached for b in buckets][::-1]
    res = [b.resolution.breached for b in buckets][::-1]
    ys = list(range(len(buckets)))
    if buckets:
        ax.barh(ys, resp, color="#d9631e", label=_tx(_("Response")))
        ax.barh(ys, res, left=resp, color=BREACHED, label=_tx(_("Resolution")))
        ax.set_yticks(ys, names, fontsize=8)
        ax.legend(loc="lower right", fontsize=8, frameon=False)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_xlabel(_tx(_("Breached targets")))
    else:
        ax.text(0.5, 0.5, _tx(_("No breaches in this period.")), ha="center", va="center",
                transform=ax.transAxes)
        ax.set_axis_off()
    ax.spines[["top", "right"]].set_visible(False)
    return Chart("chart-breaches", title, description,
                 _svg(fig, "chart-breaches", title, description), header, rows)


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{floatformat(x, 1)} %"


def all_charts(report: Report) -> list[Chart]:
    return [compliance_over_time(report), response_distribution(report),
            breaches_by_organisation(report)]
