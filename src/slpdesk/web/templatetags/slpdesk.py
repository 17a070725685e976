"""Formatting shared by the portal and the console: times in a zone with the zone
shown, business durations, SLA badges, policy texts in the viewer's language.

Load with ``{% load slpdesk %}``.
"""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import dateformat, timezone, translation
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from slpdesk.sla import CalendarError, get_zone

register = template.Library()


def in_zone(value: datetime, zone: str | None = None) -> datetime:
    """``value`` in the IANA ``zone``, or in the viewer's zone when none is given."""
    if zone:
        try:
            return value.astimezone(get_zone(zone))
        except CalendarError:
            pass
    return timezone.localtime(value)


@register.filter
def local(value: datetime | None, zone: str | None = None) -> str:
    """``Mon 30 Nov 2026 14:05 CET``: the time in ``zone`` (default: the viewer's),
    with the day and month in the active language and the zone's abbreviation."""
    if value is None:
        return "–"
    return dateformat.format(in_zone(value, zone), _("D j M Y H:i T"))


@register.filter
def local_date(value: datetime | None, zone: str | None = None) -> str:
    if value is None:
        return "–"
    return dateformat.format(in_zone(value, zone), _("D j M Y"))


@register.filter
def local_time(value: datetime | None, zone: str | None = None) -> str:
    if value is None:
        return "–"
    return dateformat.format(in_zone(value, zone), _("H:i T"))


@register.simple_tag
def viewer_and_site(value: datetime | None, site_zone: str):
    """A time in the viewer's zone, with the site's time beside it (issue 13): ``Mon 7
    Dec 2026 03:00 EST (at the site: Mon 7 Dec 2026 09:00 CET)``. When both read the
    same (the viewer works in the site's zone), the time once."""
    if value is None:
        return "–"
    mine, theirs = local(value), local(value, site_zone)
    if mine == theirs:
        return format_html('<time datetime="{}">{}</time>', iso(value), mine)
    return format_html('<time datetime="{}">{}</time> <span class="small muted site-time">{}'
                       '</span>', iso(value), mine,
                       _("(at the site: %(when)s)") % {"when": theirs})


@register.filter
def iso(value: datetime | None) -> str:
    """Machine-readable UTC time for ``<time datetime=…>``."""
    return "" if value is None else value.astimezone(get_zone("UTC")).isoformat()


@register.filter
def business(seconds: int | None) -> str:
    """Business time as ``2 h 05 min``; always in hours, because a business day's
    length differs between calendars. The sign is for the caller to say."""
    if seconds is None:
        return "–"
    minutes = abs(int(seconds)) // 60
    hours, minutes = divmod(minutes, 60)
    if hours:
        text = _("%(hours)d h %(minutes)02d min") % {"hours": hours, "minutes": minutes}
    else:
        text = _("%(minutes)d min") % {"minutes": minutes}
    return text


def state_label(state: str) -> str:
    # Looked up at render time so the active language applies.
    return {
        "running": pgettext("sla state", "On time"),
        "at_risk": pgettext("sla state", "At risk"),
        "breached": pgettext("sla state", "Breached"),
        "paused": pgettext("sla state", "Paused"),
        "met": pgettext("sla state", "Met"),
        "pending": pgettext("sla state", "Not started"),
        "not_applicable": pgettext("sla state", "Not applicable"),
    }.get(state, state)


def clock_label(clock: str) -> str:
    return {
        "response": _("Response"),
        "resolution": _("Resolution"),
        "next_update": _("Status update"),
    }.get(clock, "")


register.filter("state_label", state_label)
register.filter("clock_label", clock_label)


@register.simple_tag
def badge(b, zone: str | None = None, show_clock: bool = True):
    """An SLA badge: state, which clock, and business time left or over."""
    if b is None:
        return ""
    parts = []
    if show_clock and b.clock:
        parts.append(clock_label(b.clock))
    parts.append(state_label(b.state))
    if b.remaining is not None:
        # The state says which side of the due instant it is (the engine decided).
        if b.state == "breached":
            parts.append(_("%(time)s over") % {"time": business(b.remaining)})
        else:
            parts.append(_("%(time)s left") % {"time": business(b.remaining)})
    title = _("Due %(when)s") % {"when": local(b.due, zone)} if b.due else ""
    return format_html('<span class="badge badge-{}" title="{}" data-state="{}">{}</span>',
                       b.state, title, b.state, " · ".join(parts))


@register.filter
def text(value, lang: str | None = None) -> str:
    """A policy text (``slpdesk.sla.policy.Text``) in the active language."""
    if value is None:
        return ""
    return value.get(lang or translation.get_language() or "en")


@register.filter
def examples(priority, lang: str | None = None):
    return priority.examples(lang or translation.get_language() or "en")


@register.filter
def zone_name(zone: str) -> str:
    """``Europe/Stockholm`` → ``Europe/Stockholm (CET)`` at the current instant."""
    try:
        abbr = timezone.now().astimezone(get_zone(zone)).strftime("%Z")
    except CalendarError:
        return zone
    return f"{zone} ({abbr})" if abbr and abbr not in zone else zone
