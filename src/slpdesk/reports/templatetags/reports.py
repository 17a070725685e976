"""Template helpers of the reports: percentages, and links from a figure to its cases.

Load with ``{% load reports %}``.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from html import escape as html_escape  # Django's escape without its lazy wrapper
from urllib.parse import urlencode

from django import template
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.formats import get_format
from django.utils.html import format_html
from django.utils.safestring import mark_safe

register = template.Library()
_TENTH = Decimal("0.1")


@register.filter
def pct(value) -> str:
    """``12,5 %`` in the active language's number format; ``–`` for no value. As
    ``floatformat(value, 1)`` (the value's shortest decimal form rounded half up to
    one decimal, the language's decimal separator, no grouping) for the shares of
    0 to 100 the report shows, at a fraction of its cost: a year's report shows
    some 3,500."""
    return _share(value, get_format("DECIMAL_SEPARATOR"))


def _share(value, separator: str) -> str:
    if value is None:
        return "–"
    text = str(Decimal(repr(float(value))).quantize(_TENTH, ROUND_HALF_UP))
    return f"{text.replace('.', separator)} %"


@register.filter
def share(counts, outcome: str):
    """The share of ``outcome`` in a :class:`~slpdesk.reports.compute.Counts`."""
    return counts.pct(outcome)


@register.filter
def count_of(counts, outcome: str) -> int:
    return getattr(counts, outcome)


def cases_url(query: dict, base: str | None = None, **criteria) -> str:
    params = {**query, **{k: v for k, v in criteria.items() if v not in (None, "")}}
    return f"{base or cases_base()}?{urlencode(params)}"


def cases_base() -> str:
    """The address of the case lists (``reports:cases``), reversed once per prefix."""
    return _cases_base(get_script_prefix(), get_urlconf())


@lru_cache(maxsize=16)
def _cases_base(prefix: str, urlconf) -> str:
    return reverse("reports:cases", urlconf=urlconf)


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
    link to its cases, as :func:`figure` writes it) and share, then the compliance.
    Written here, not by an included template: a year's report has some 700 such
    rows (so the row's address is encoded and escaped once, not once a cell)."""
    row = html_escape(cases_url(context["query"], dim=dim, key=key, clock=clock))
    row += "" if row.endswith("?") else "&amp;"
    separator = get_format("DECIMAL_SEPARATOR")
    cells = []
    for outcome in context["outcomes"]:
        count = getattr(counts, outcome)
        if count:
            number = f'<a href="{row}{_outcome_query(outcome)}">{count}</a>'
        else:
            number = f'<span class="zero">{count}</span>'
        share = html_escape(_share(counts.pct(outcome), separator))
        cells.append(f'<td class="num out-{html_escape(outcome)}">{number}'
                     f'<span class="pct">{share}</span></td>')
    share = html_escape(_share(counts.compliance, separator))
    cells.append(f'<td class="num compliance">{share}</td>')
    return mark_safe("".join(cells))  # noqa: S308 - every value above is escaped


@lru_cache(maxsize=16)
def _outcome_query(outcome: str) -> str:
    return html_escape(urlencode({"outcome": outcome}))
