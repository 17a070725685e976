"""Support-hours calendar feeds: ``GET /calendars/<calendar>.ics?zone=<IANA>&lang=sv|en``
(issue 15, item 4). No log-in: the hours and holidays are public (C1, C2, C4).

An iCalendar (RFC 5545) document, written with the ``icalendar`` library
(folding, escaping, VTIMEZONE), covering the next 12 months from today in the
feed's zone:

* **Opening hours**: one weekly recurring event per opening interval of a weekday.
  A calendar in the site's zone (``global``) opens in the requested ``zone``: the
  events carry ``TZID`` with a VTIMEZONE, so 08:00 stays 08:00 local across DST. A
  calendar in a fixed zone (``uk``: UTC) opens in that zone whatever is asked.
  Closed days on an open weekday are left out of the recurrence (``EXDATE``).
* **Holidays and closures**: every public holiday of the calendar's holiday set and
  every closed date (the policy's and the closures in effect,
  :class:`~slpdesk.desk.models.CalendarClosure`) as an all-day event; holiday names in
  the requested language where the ``holidays`` package has it, else its default.

UIDs are stable (calendar, zone, weekday and opening time; or the date), so a
subscribed client updates events rather than duplicating them.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import holidays as holidays_lib
from django.conf import settings
from django.http import HttpResponse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET
from icalendar import Calendar, Event

from slpdesk.desk.models import CalendarClosure, PolicyVersion
from slpdesk.sla import SITE_ZONE, CalendarError, get_zone

#: How far ahead a feed reaches.
DAYS_AHEAD = 365
UID_DOMAIN = "calendars.slpdesk"
CACHE_SECONDS = 3600


def _error(status: int, text: str) -> HttpResponse:
    response = HttpResponse(text + "\n", status=status, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "no-store"
    return response


def _holiday_language(country_set, lang: str) -> str | None:
    """``lang`` or a regional form of it the holiday set names in; None: its default."""
    supported = getattr(country_set, "supported_languages", ()) or ()
    if lang in supported:
        return lang
    return next((code for code in supported if code.startswith(lang + "_")), None)


def holiday_names(spec, first: date, last: date, lang: str) -> dict[date, str]:
    """The calendar's public holidays from ``first`` to ``last`` with their names."""
    if not spec.holiday_country:
        return {}
    years = range(first.year, last.year + 1)
    kwargs = dict(subdiv=spec.holiday_subdiv, years=years,
                  categories=spec.holiday_categories or None)
    probe = holidays_lib.country_holidays(spec.holiday_country, **kwargs)
    language = _holiday_language(probe, lang)
    named = (holidays_lib.country_holidays(spec.holiday_country, language=language, **kwargs)
             if language else probe)
    return {d: name for d, name in sorted(named.items()) if first <= d <= last}


def build_feed(policy, name: str, zone: str, lang: str, now: datetime,
               closures: list[tuple[date, str]]) -> bytes:
    """The feed of calendar ``name`` of ``policy`` for a site in ``zone``, in ``lang``,
    from ``now``'s date; ``closures`` are the (date, reason) in effect."""
    spec = policy.calendar(name)
    cal_zone = spec.zone_for(zone)
    tz = get_zone(cal_zone)
    today = now.astimezone(tz).date()
    last = today + timedelta(days=DAYS_AHEAD)
    stamp = now.astimezone(get_zone("UTC"))
    title = policy.calendar_names.get(name).get(lang)
    with translation.override(lang):
        cal = Calendar()
        cal.add("prodid", "-//slpdesk//support hours//EN")
        cal.add("version", "2.0")
        cal.add("calscale", "GREGORIAN")
        cal.add("method", "PUBLISH")
        cal.add("x-wr-calname", _("Support hours: %(calendar)s") % {"calendar": title})
        cal.add("x-wr-timezone", cal_zone)
        cal.add("refresh-interval", timedelta(days=1), parameters={"VALUE": "DURATION"})

        holidays = holiday_names(spec, today, last, lang)
        closed = {d: "" for d in spec.closed_dates if today <= d <= last}
        closed.update({d: reason for d, reason in closures if today <= d <= last})
        shut = set(holidays) | set(closed)
        until = datetime.combine(last + timedelta(days=1), datetime.min.time(),
                                 tzinfo=tz).astimezone(get_zone("UTC"))
        for weekday, spans in enumerate(spec.hours):
            first = today + timedelta(days=(weekday - today.weekday()) % 7)
            for opens, closes in spans:
                start = datetime.combine(first, opens, tzinfo=tz)
                end_day = first + timedelta(days=1) if closes == closes.min else first
                end = datetime.combine(end_day, closes, tzinfo=tz)
                ev = Event()
                ev.add("uid", f"hours-{name}-{cal_zone}-{weekday}-{opens:%H%M}@{UID_DOMAIN}"
                       .replace("/", "_"))
                ev.add("dtstamp", stamp)
                ev.add("summary", _("Support open (%(calendar)s)") % {"calendar": title})
                ev.add("dtstart", start)
                ev.add("dtend", end)
                ev.add("rrule", {"freq": "weekly", "until": until})
                skipped = [datetime.combine(d, opens, tzinfo=tz) for d in sorted(shut)
                           if d.weekday() == weekday]
                if skipped:
                    ev.add("exdate", skipped)
                ev.add("transp", "TRANSPARENT")
                cal.add_component(ev)
        # A closure on a public holiday is shown as well: both say why support is shut.
        for kind, day, summary in sorted(
                [("holiday", d, n) for d, n in holidays.items()]
                + [("closure", d, _("Support closed: %(reason)s") % {"reason": r} if r
                    else _("Support closed")) for d, r in closed.items()],
                key=lambda item: (item[1], item[0])):
            ev = Event()
            ev.add("uid", f"{kind}-{name}-{day:%Y%m%d}@{UID_DOMAIN}")
            ev.add("dtstamp", stamp)
            ev.add("summary", summary)
            ev.add("dtstart", day)
            ev.add("dtend", day + timedelta(days=1))
            ev.add("categories", [_("Holiday") if kind == "holiday" else _("Closure")])
            ev.add("transp", "TRANSPARENT")
            cal.add_component(ev)
        cal.add_missing_timezones()
    return cal.to_ical()


@require_GET
def feed(request, calendar: str):
    now = timezone.now()
    policy = PolicyVersion.objects.in_force(now).load()
    if calendar not in policy.calendars:
        return _error(404, _("There is no support calendar %(name)s. Calendars: %(names)s.")
                      % {"name": calendar, "names": ", ".join(policy.calendars)})
    lang = request.GET.get("lang") or translation.get_language() or settings.LANGUAGE_CODE
    codes = [code for code, _name in settings.LANGUAGES]
    if lang not in codes:
        return _error(400, _("lang must be one of %(codes)s.") % {"codes": ", ".join(codes)})
    spec = policy.calendar(calendar)
    zone = request.GET.get("zone", "").strip()
    if not zone and spec.zone == SITE_ZONE:
        return _error(400, _("This calendar keeps the hours of the site's time zone: add "
                             "?zone= with an IANA time zone, e.g. Europe/Stockholm."))
    if zone:
        try:
            get_zone(zone)
        except CalendarError:
            return _error(400, _("%(zone)s is not an IANA time zone (e.g. Europe/Stockholm).")
                          % {"zone": zone})
    closures = list(CalendarClosure.objects.in_effect().filter(calendar=calendar)
                    .values_list("date", "reason"))
    body = build_feed(policy, calendar, zone or spec.zone, lang, now, closures)
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{calendar}.ics"'
    response["Cache-Control"] = f"public, max-age={CACHE_SECONDS}"
    response["Vary"] = "Accept-Language"
    return response
