"""Support-hours calendar feeds (issue 15, item 4), read back with the ``icalendar``
library and checked against hours, holidays and closures worked out by hand.

Read on Sunday 1 March 2026, 12:00 UTC: the feed runs to 1 March 2027. The global
calendar is Mon-Fri 08:00-17:00 in the site's zone with US federal holidays; the UK
calendar Mon-Fri 09:00-17:00 UTC with the bank holidays of England. Stockholm moves
to summer time on Sunday 29 March 2026 (UTC+1 -> UTC+2).
"""

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr
from django.test import Client
from icalendar import Calendar

from slpdesk.desk.models import CalendarClosure, User
from slpdesk.sla.calendar import CalendarSpec
from slpdesk.web.calendar_feed import holiday_names

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
STOCKHOLM = ZoneInfo("Europe/Stockholm")
WEEK = tuple([(time(8), time(17))] for _ in range(5)) + ((), ())


@pytest.fixture(autouse=True)
def frozen(monkeypatch):
    monkeypatch.setattr("django.utils.timezone.now", lambda: NOW)


def fetch(url: str, **params):
    response = Client().get(url, params)
    return response, (Calendar.from_ical(response.content)
                      if response.status_code == 200 else None)


def events(cal) -> list:
    return [c for c in cal.walk("VEVENT")]


def all_day(cal) -> list[tuple[date, str]]:
    return [(ev.decoded("dtstart"), str(ev["SUMMARY"])) for ev in events(cal)
            if not isinstance(ev.decoded("dtstart"), datetime)]


def weekly(cal) -> list:
    return [ev for ev in events(cal) if isinstance(ev.decoded("dtstart"), datetime)]


def test_opening_hours_in_the_sites_zone_across_the_dst_change(db):
    response, cal = fetch("/calendars/global.ics", zone="Europe/Stockholm", lang="en")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Cache-Control"] == "public, max-age=3600"
    assert str(cal["PRODID"]) == "-//slpdesk//support hours//EN"
    assert str(cal["VERSION"]) == "2.0"
    assert [tz["TZID"] for tz in cal.walk("VTIMEZONE")] == ["Europe/Stockholm"]
    hours = weekly(cal)
    assert len(hours) == 5  # one a weekday, Monday to Friday
    monday = next(ev for ev in hours if ev.decoded("dtstart").weekday() == 0)
    start = monday.decoded("dtstart")
    assert start == datetime(2026, 3, 2, 8, 0, tzinfo=STOCKHOLM)
    assert monday.decoded("dtend") == datetime(2026, 3, 2, 17, 0, tzinfo=STOCKHOLM)
    rule = rrulestr(monday["RRULE"].to_ical().decode(), dtstart=start)
    after_change = rule.after(datetime(2026, 3, 29, tzinfo=STOCKHOLM))
    # 08:00 in Stockholm: 07:00 UTC in winter, 06:00 UTC from 29 March.
    assert start.astimezone(UTC) == datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
    assert after_change.astimezone(UTC) == datetime(2026, 3, 30, 6, 0, tzinfo=UTC)
    # The rule ends with the feed's year.
    assert list(rule)[-1].date() == date(2027, 3, 1)


def test_holidays_and_closures_as_all_day_events(db):
    CalendarClosure.objects.create(calendar="global", date=date(2026, 6, 19),
                                   reason="Midsommarafton")
    removed = CalendarClosure.objects.create(calendar="global", date=date(2026, 6, 22),
                                             reason="Nope")
    removed.removed_at = NOW
    removed.save(update_fields=["removed_at"])
    _, cal = fetch("/calendars/global.ics", zone="Europe/Stockholm", lang="sv")
    days = all_day(cal)
    # US federal holidays from 1 March 2026 to 1 March 2027 (observed dates: 4 July
    # 2026 is a Saturday), and the closure in effect on Juneteenth.
    assert sorted(days) == [
        (date(2026, 5, 25), "Memorial Day"),
        (date(2026, 6, 19), "Juneteenth National Independence Day"),
        (date(2026, 6, 19), "Supporten stängd: Midsommarafton"),
        (date(2026, 7, 3), "Independence Day (observed)"),
        (date(2026, 7, 4), "Independence Day"),  # a Saturday, listed by the set too
        (date(2026, 9, 7), "Labor Day"),
        (date(2026, 10, 12), "Columbus Day"),
        (date(2026, 11, 11), "Veterans Day"),
        (date(2026, 11, 26), "Thanksgiving Day"),
        (date(2026, 12, 25), "Christmas Day"),  # the US set has no Swedish names
        (date(2027, 1, 1), "New Year's Day"),
        (date(2027, 1, 18), "Martin Luther King Jr. Day"),
        (date(2027, 2, 15), "Washington's Birthday"),
    ]
    christmas = next(ev for ev in events(cal) if ev.decoded("dtstart") == date(2026, 12, 25))
    assert christmas.decoded("dtend") == date(2026, 12, 26)
    assert str(christmas["UID"]) == "holiday-global-20261225@calendars.slpdesk"
    # The Friday opening hours skip Christmas Day and the closure.
    friday = next(ev for ev in weekly(cal) if ev.decoded("dtstart").weekday() == 4)
    skipped = {d.dt for d in friday["EXDATE"].dts}
    assert datetime(2026, 12, 25, 8, 0, tzinfo=STOCKHOLM) in skipped
    assert datetime(2026, 6, 19, 8, 0, tzinfo=STOCKHOLM) in skipped
    monday = next(ev for ev in weekly(cal) if ev.decoded("dtstart").weekday() == 0)
    assert datetime(2026, 6, 22, 8, 0, tzinfo=STOCKHOLM) not in {
        d.dt for d in monday["EXDATE"].dts}
    assert str(cal["X-WR-CALNAME"]) == "Supporttider: Global (platsens lokala tid)"


def test_the_uk_calendar_keeps_utc_hours_and_english_bank_holidays(db):
    response, cal = fetch("/calendars/uk.ics", lang="en")
    assert response.status_code == 200
    monday = next(ev for ev in weekly(cal) if ev.decoded("dtstart").weekday() == 0)
    assert monday.decoded("dtstart") == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    days = all_day(cal)
    assert (date(2026, 12, 25), "Christmas Day") in days
    assert (date(2026, 4, 3), "Good Friday") in days
    _, swedish = fetch("/calendars/uk.ics", lang="sv")  # no Swedish names: English
    assert (date(2026, 12, 25), "Christmas Day") in all_day(swedish)
    # The zone of the asker changes nothing for a calendar kept in UTC.
    _, again = fetch("/calendars/uk.ics", zone="Asia/Tokyo", lang="en")
    assert sorted(str(ev["UID"]) for ev in events(again)) == \
        sorted(str(ev["UID"]) for ev in events(cal))


def test_swedish_holiday_names_where_the_package_has_them():
    # Midsummer Eve and Christmas Eve are days off in fact, not by law (de facto).
    spec = CalendarSpec(name="se", hours=WEEK, zone="Europe/Stockholm", holiday_country="SE",
                        holiday_categories=("public", "de_facto"))
    names = holiday_names(spec, date(2026, 6, 1), date(2026, 12, 31), "sv")
    assert names[date(2026, 6, 19)] == "Midsommarafton"
    assert names[date(2026, 12, 24)] == "Julafton"
    assert names[date(2026, 12, 25)] == "Juldagen"
    english = holiday_names(spec, date(2026, 6, 1), date(2026, 12, 31), "en")
    assert english[date(2026, 6, 19)] == "Midsummer Eve"


def test_uids_are_stable(db):
    _, first = fetch("/calendars/global.ics", zone="America/New_York", lang="en")
    _, second = fetch("/calendars/global.ics", zone="America/New_York", lang="en")
    uids = [str(ev["UID"]) for ev in events(first)]
    assert uids == [str(ev["UID"]) for ev in events(second)]
    assert len(set(uids)) == len(uids)


@pytest.mark.parametrize(("url", "params", "status", "text"), [
    ("/calendars/nowhere.ics", {"zone": "UTC"}, 404,
     "There is no support calendar nowhere. Calendars: global, uk, us-phone.\n"),
    ("/calendars/global.ics", {"zone": "Mars/Olympus"}, 400,
     "Mars/Olympus is not an IANA time zone (e.g. Europe/Stockholm).\n"),
    ("/calendars/global.ics", {}, 400,
     "This calendar keeps the hours of the site's time zone: add ?zone= with an IANA "
     "time zone, e.g. Europe/Stockholm.\n"),
    ("/calendars/uk.ics", {"lang": "de"}, 400, "lang must be one of en, sv.\n"),
])
def test_bad_requests_get_one_clear_line(db, url, params, status, text):
    response = Client().get(url, {"lang": "en", **params} if "lang" not in params else params)
    assert response.status_code == status
    assert response.content.decode() == text


def test_the_portal_links_each_site_to_its_feed(cast):
    c = Client()
    c.force_login(cast.alice)
    page = c.get("/portal/").content.decode()
    assert 'href="/calendars/global.ics?zone=America%2FNew_York&amp;lang=en"' in page
    User.objects.filter(pk=cast.alice.pk).update(language="sv")
    page = c.get("/portal/", HTTP_ACCEPT_LANGUAGE="sv").content.decode()
    assert "lang=sv" in page
