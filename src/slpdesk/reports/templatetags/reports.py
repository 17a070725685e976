"""Template helpers of the reports: percentages, and links from a figure to its cases.

Load with ``{% load reports %}``.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django import template
from django.template.defaultfilters import floatformat
from django.urls import reverse
from django.utils.html import format_html, format_html_join

register = template.Library()


@register.filter
def pct(value) -> str:
    """``12,5 %`` in the active language's number format; ``–`` for no value."""
    if value is None:
        return "–"
    return f"{floatformat(value, 1)} %"


@register.filter
def share(counts, outcome: str):
    """The share of ``outcome`` in a :class:`~slpdesk.reports.compute.Counts`."""
    return counts.pct(outcome)


@register.filter
def count_of(counts, outcome: str) -> int:
    return getattr(counts, outcome)


def cases_url(query: dict, base: str | None = None, **criteria) -> str:
    params = {**query, **{k: v for k, v in criteria.items() if v not in (None, "")}}
    return f"{base or reverse('reports:cases')}?{urlencode(params)}"


@register.simple_tag(takes_context=True)
def figure(context, count, dim="", key="", clock="", outcome=""):
    """``count`` as a link to the cases behind it (same period); a zero is plain."""
    if not count:
        return format_html('<span class="zero">{}</span>', count)
    url = cases_url(context["query"], dim=dim, key=key, clock=clock, outcome=outcome)
    return format_html('<a href="{}">{}</a>', url, count)


@register.simple_tag(takes_context=True)
def export_url(context, what, fmt, **criteria):
    params = {**context["query"], **{k: v for k, v in criteria.items() if v}}
    return f"{reverse('reports:export', args=[what, fmt])}?{urlencode(params)}"


@register.simple_tag(takes_context=True)
def counts_cells(context, counts, clock: str, dim="", key=""):
    """The cells of one clock's outcomes in a row of figures: each outcome's number (a
    link to its cases, :func:`figure`) and share, then the compliance. Written here,
    not by an included template: a year's report has some 700 such rows."""
    base = reverse("reports:cases")
    query = context["query"]
    cells = []
    for outcome in context["outcomes"]:
        count = getattr(counts, outcome)
        if count:
            number = format_html('<a href="{}">{}</a>', cases_url(
                query, base, dim=dim, key=key, clock=clock, outcome=outcome), count)
        else:
            number = format_html('<span class="zero">{}</span>', count)
        cells.append((outcome, number, pct(counts.pct(outcome))))
    return format_html('{}<td class="num compliance">{}</td>', format_html_join(
        "", '<td class="num out-{}">{}<span class="pct">{}</span></td>', cells),
        pct(counts.compliance))
