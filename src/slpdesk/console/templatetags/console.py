"""Labels and colours for the console's SLA timeline. Load with ``{% load console %}``."""

from __future__ import annotations

from django import template
from django.utils import dateformat, timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from slpdesk.console.timeline import FILLS

register = template.Library()


@register.filter
def segment_label(kind: str) -> str:
    """What a timeline segment means, in the active language."""
    return {
        "running": _("Counting (business hours)"),
        "overdue": _("Counting after the due time"),
        "closed": _("Outside business hours"),
        "paused": _("Paused: waiting on the customer"),
        "resolved": _("Resolved (not counted)"),
    }.get(kind, kind)


@register.filter
def segment_fill(kind: str) -> str:
    """The SVG fill of a segment kind (a colour or the hatch pattern)."""
    return FILLS.get(kind, "#ccc")


@register.filter
def verdict_label(verdict: str) -> str:
    return {
        "met": pgettext("sla state", "Met"),
        "breached": pgettext("sla state", "Breached"),
        "not_applicable": pgettext("sla state", "Not applicable"),
    }.get(verdict, "")


@register.filter
def verdict_mark(verdict: str) -> str:
    return {"met": "✓", "breached": "✗"}.get(verdict, "•")


@register.filter
def verdict_colour(verdict: str) -> str:
    return {"met": "#1e7b45", "breached": "#a3261d"}.get(verdict, "#4a5568")


@register.filter
def tick_label(tick) -> str:
    """A short axis label in the viewer's zone: ``Sat 11 Jul`` at midnight, else ``14:00``."""
    at = timezone.localtime(tick.at)
    return dateformat.format(at, _("D j M") if tick.daily else _("H:i"))
