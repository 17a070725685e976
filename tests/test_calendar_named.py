"""Named cases of the business calendar: DST, holidays, year ends, horizons, edges.

Expected instants are written as ISO 8601 strings with their offsets, so that
a test checks the instant, the zone's offset and the wall time at once (two
aware datetimes with the same ``tzinfo`` compare by wall time only).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from itertools import count
from zoneinfo import ZoneInfo

import holidays as holidays_lib
import numpy as np
import pytest

from oracle import Oracle
from slpdesk.sla import CalendarError, CalendarSpec, calendar_for, compile_calendar, load_policy

NY = ZoneInfo("America/New_York")
STOCKHOLM = ZoneInfo("Europe/Stockholm")
LONDON = ZoneInfo("Europe/London")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
KOLKATA = ZoneInfo("Asia/Kolkata")
HOUR = 3600

POLICY = load_policy()
MORNINGS = CalendarSpec(name="named-mornings", hours=(((time(0), time(12)),),) * 7)
ALWAYS = CalendarSpec(name="named-always", hours=(((time(0), time(0)),),) * 7)


def _global(zone: str = "America/New_York"):
    return calendar_for(POLICY, "global", zone)


def _uk(zone: str = "Europe/London"):
    return calendar_for(POLICY, "uk", zone)


def _iso(dt: datetime) -> str:
    return dt.isoformat()


def _day_intervals(cal, day: date) -> list[tuple[datetime, datetime]]:
    """The working intervals of the local ``day`` in the calendar's zone."""
    start = datetime.combine(day, time(0), tzinfo=cal.tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=cal.tz)
    return cal.intervals(start, end)


def _local_day(cal, day: date) -> list[tuple[str, str]]:
    """The working intervals of the local ``day`` in the calendar's zone, as ISO."""
    return [(_iso(a), _iso(b)) for a, b in _day_intervals(cal, day)]


def _seconds(intervals) -> int:
    return sum(int(b.timestamp() - a.timestamp()) for a, b in intervals)


# --------------------------------------------------------------------- worked examples
def test_it_gives_the_worked_examples_in_batch_too():
    """Worked examples (T3, C1) through the vectorised add_many, which batch
    recomputes use; the scalar path is in test_worked_examples.py."""
    cal = _global()
    received = [
        datetime(2026, 7, 3, 16, 30, tzinfo=NY),
        datetime(2026, 11, 25, 15, 0, tzinfo=NY),
        datetime(2026, 3, 7, 12, 0, tzinfo=NY),
    ]
    targets = [2 * HOUR, 8 * HOUR, 24 * HOUR]
    due = cal.add_many(np.array([int(r.timestamp()) for r in received]), np.array(targets))
    assert [_iso(datetime.fromtimestamp(int(t), NY)) for t in due] == [
        "2026-07-06T10:00:00-04:00",
        "2026-11-27T14:00:00-05:00",
        "2026-03-11T14:00:00-04:00",
    ]


def test_it_shows_the_working_time_of_the_worked_examples():
    """Worked examples 2 and 3 (T1): the business time they count, interval by
    interval, adds up to the target."""
    cal = _global()
    received = datetime(2026, 11, 25, 15, 0, tzinfo=NY)
    due = cal.add(received, 8 * HOUR)
    assert [(_iso(a), _iso(b)) for a, b in cal.intervals(received, due)] == [
        ("2026-11-25T15:00:00-05:00", "2026-11-25T17:00:00-05:00"),
        ("2026-11-27T08:00:00-05:00", "2026-11-27T14:00:00-05:00"),
    ]
    assert cal.between(received, due) == 8 * HOUR

    received = datetime(2026, 3, 7, 12, 0, tzinfo=NY)
    due = cal.add(received, 24 * HOUR)
    assert [(_iso(a), _iso(b)) for a, b in cal.intervals(received, due)] == [
        ("2026-03-09T08:00:00-04:00", "2026-03-09T17:00:00-04:00"),
        ("2026-03-10T08:00:00-04:00", "2026-03-10T17:00:00-04:00"),
        ("2026-03-11T08:00:00-04:00", "2026-03-11T14:00:00-04:00"),
    ]
    assert cal.between(received, due) == 24 * HOUR


# --------------------------------------------------------------------------------- DST
def test_it_crosses_spring_forward_in_new_york():
    """C5: DST begins Sunday 2026-03-08; Friday 16:00 EST + 2 h is Monday 09:00 EDT."""
    cal = _global()
    due = cal.add(datetime(2026, 3, 6, 16, 0, tzinfo=NY), 2 * HOUR)
    assert _iso(due) == "2026-03-09T09:00:00-04:00"
    assert _iso(due.astimezone(UTC)) == "2026-03-09T13:00:00+00:00"
    assert cal.between(datetime(2026, 3, 6, 8, 0, tzinfo=NY),
                       datetime(2026, 3, 9, 8, 0, tzinfo=NY)) == 9 * HOUR
    assert _local_day(cal, date(2026, 3, 9)) == [
        ("2026-03-09T08:00:00-04:00", "2026-03-09T17:00:00-04:00")
    ]


def test_it_crosses_fall_back_in_new_york():
    """C5: DST ends Sunday 2026-11-01; Friday 16:00 EDT + 2 h is Monday 09:00 EST."""
    cal = _global()
    due = cal.add(datetime(2026, 10, 30, 16, 0, tzinfo=NY), 2 * HOUR)
    assert _iso(due) == "2026-11-02T09:00:00-05:00"
    assert _iso(due.astimezone(UTC)) == "2026-11-02T14:00:00+00:00"
    assert cal.between(datetime(2026, 10, 30, 8, 0, tzinfo=NY),
                       datetime(2026, 11, 2, 8, 0, tzinfo=NY)) == 9 * HOUR


def test_it_crosses_both_dst_changes_in_stockholm():
    """C1, C5: a Stockholm site counts 08:00-17:00 Stockholm time, CET or CEST
    (DST 2026-03-29 and 2026-10-25)."""
    cal = _global("Europe/Stockholm")
    due = cal.add(datetime(2026, 3, 27, 15, 0, tzinfo=STOCKHOLM), 3 * HOUR)
    assert _iso(due) == "2026-03-30T09:00:00+02:00"
    assert _iso(due.astimezone(UTC)) == "2026-03-30T07:00:00+00:00"
    due = cal.add(datetime(2026, 10, 23, 15, 0, tzinfo=STOCKHOLM), 3 * HOUR)
    assert _iso(due) == "2026-10-26T09:00:00+01:00"
    assert _iso(due.astimezone(UTC)) == "2026-10-26T08:00:00+00:00"


def test_it_closes_a_stockholm_site_on_us_holidays_in_stockholm_days():
    """C1: the global calendar closes on US federal holidays, as whole local days of
    the site: Thanksgiving 2026-11-26 in Stockholm."""
    cal = _global("Europe/Stockholm")
    assert _local_day(cal, date(2026, 11, 26)) == []
    due = cal.add(datetime(2026, 11, 25, 16, 0, tzinfo=STOCKHOLM), 2 * HOUR)
    assert _iso(due) == "2026-11-27T09:00:00+01:00"


def test_it_keeps_the_uk_calendar_in_utc_all_year():
    """C2: the UK calendar is 09:00-17:00 UTC, so in summer a London site sees
    10:00-18:00 BST, and in winter 09:00-17:00 GMT. Results are in UTC."""
    cal = _uk("Europe/London")
    received = datetime(2026, 7, 13, 9, 30, tzinfo=LONDON)  # 08:30 UTC, before opening
    assert not cal.is_open(received)
    assert _iso(cal.next_open(received)) == "2026-07-13T09:00:00+00:00"
    due = cal.add(received, 8 * HOUR)
    assert _iso(due) == "2026-07-13T17:00:00+00:00"
    assert _iso(due.astimezone(LONDON)) == "2026-07-13T18:00:00+01:00"
    assert cal.is_open(datetime(2026, 7, 13, 17, 30, tzinfo=LONDON))
    assert not cal.is_open(datetime(2026, 7, 13, 18, 0, tzinfo=LONDON))

    winter = cal.add(datetime(2026, 1, 12, 9, 0, tzinfo=LONDON), 8 * HOUR)
    assert _iso(winter.astimezone(LONDON)) == "2026-01-12T17:00:00+00:00"


def test_it_ignores_the_site_zone_for_the_uk_calendar():
    """C2: whatever zone the site is in, the UK calendar computes in UTC."""
    received = datetime(2026, 7, 13, 12, 0, tzinfo=UTC)
    answers = {
        _iso(_uk(zone).add(received, 6 * HOUR))
        for zone in ("Europe/London", "Asia/Kolkata", "America/New_York")
    }
    assert answers == {"2026-07-14T10:00:00+00:00"}
    assert _uk("Asia/Kolkata").zone_name == "UTC"


def test_it_crosses_lord_howe_half_hour_dst():
    """C5: Lord Howe Island moves its clocks by 30 minutes (+10:30 / +11:00)."""
    cal = _global("Australia/Lord_Howe")
    due = cal.add(datetime(2026, 10, 2, 16, 0, tzinfo=LORD_HOWE), 2 * HOUR)
    assert _iso(due) == "2026-10-05T09:00:00+11:00"
    assert _iso(due.astimezone(UTC)) == "2026-10-04T22:00:00+00:00"
    due = cal.add(datetime(2026, 4, 3, 16, 0, tzinfo=LORD_HOWE), 2 * HOUR)
    assert _iso(due) == "2026-04-06T09:00:00+10:30"


@pytest.mark.parametrize(
    ("zone", "day", "hours"),
    [
        ("America/New_York", date(2026, 3, 8), 11),
        ("America/New_York", date(2026, 11, 1), 13),
        ("Europe/Stockholm", date(2026, 3, 29), 11),
        ("Europe/Stockholm", date(2026, 10, 25), 13),
        ("Australia/Lord_Howe", date(2026, 10, 4), 11.5),
        ("Australia/Lord_Howe", date(2026, 4, 5), 12.5),
        ("Asia/Kolkata", date(2026, 3, 8), 12),
    ],
)
def test_it_counts_real_time_when_dst_changes_during_opening_hours(zone, day, hours):
    """C5: a calendar open 00:00-12:00 every day has the DST change's hour (or half
    hour) less or more business time that day, in one whole interval."""
    cal = compile_calendar(MORNINGS, zone)
    intervals = _local_day(cal, day)
    assert len(intervals) == 1
    tz = ZoneInfo(zone)
    start = datetime.combine(day, time(0), tzinfo=tz)
    assert cal.between(start, datetime.combine(day, time(12), tzinfo=tz)) == hours * HOUR
    assert _seconds(cal.intervals(start, start + timedelta(days=1))) == hours * HOUR


def test_it_lands_exactly_on_a_dst_change_during_opening_hours():
    """C5, T3: deadlines that fall on the DST change itself, spelled as the zone
    spells that instant."""
    cal = compile_calendar(MORNINGS, "America/New_York")
    spring = cal.add(datetime(2026, 3, 8, 0, 0, tzinfo=NY), 2 * HOUR)
    assert _iso(spring) == "2026-03-08T03:00:00-04:00"
    assert _iso(spring.astimezone(UTC)) == "2026-03-08T07:00:00+00:00"
    fall = cal.add(datetime(2026, 11, 1, 0, 0, tzinfo=NY), 2 * HOUR)
    assert _iso(fall) == "2026-11-01T01:00:00-05:00"  # the second 01:00
    assert _iso(fall.astimezone(UTC)) == "2026-11-01T06:00:00+00:00"
    assert _iso(cal.add(datetime(2026, 11, 1, 0, 0, tzinfo=NY), 12 * HOUR)) == (
        "2026-11-01T11:00:00-05:00"
    )


def test_it_counts_a_24_hour_calendar_in_real_time():
    """C5: open 00:00-24:00 every day: a DST day has 23 or 25 business hours, and
    an hour in summer is a real hour."""
    cal = compile_calendar(ALWAYS, "America/New_York")
    assert cal.between(datetime(2026, 3, 8, tzinfo=NY), datetime(2026, 3, 9, tzinfo=NY)) == (
        23 * HOUR
    )
    assert cal.between(datetime(2026, 11, 1, tzinfo=NY), datetime(2026, 11, 2, tzinfo=NY)) == (
        25 * HOUR
    )
    due = cal.add(datetime(2026, 7, 1, 12, 0, tzinfo=NY), HOUR)
    assert _iso(due) == "2026-07-01T13:00:00-04:00"
    due = cal.add(datetime(2026, 3, 7, 12, 0, tzinfo=NY), 24 * HOUR)
    assert _iso(due) == "2026-03-08T13:00:00-04:00"


# ---------------------------------------------------------------- T3: open and close
def test_it_makes_a_deadline_at_closing_time_that_closing_time():
    """T3: a deadline that uses up a day exactly is 17:00, not the next opening."""
    cal = _global()
    monday_9 = datetime(2026, 6, 15, 9, 0, tzinfo=NY)
    assert _iso(cal.add(monday_9, 8 * HOUR)) == "2026-06-15T17:00:00-04:00"
    assert _iso(cal.add(datetime(2026, 6, 15, 8, 0, tzinfo=NY), 9 * HOUR)) == (
        "2026-06-15T17:00:00-04:00"
    )
    assert _iso(cal.add(monday_9, 8 * HOUR + 1)) == "2026-06-16T08:00:01-04:00"
    friday = datetime(2026, 6, 12, 9, 0, tzinfo=NY)
    assert _iso(cal.add(friday, 8 * HOUR)) == "2026-06-12T17:00:00-04:00"
    assert _iso(_uk().add(datetime(2026, 6, 15, 10, 0, tzinfo=UTC), 7 * HOUR)) == (
        "2026-06-15T17:00:00+00:00"
    )


def test_it_starts_a_clock_received_outside_hours_at_the_next_opening():
    """T3: before opening, after closing and at closing time the clock starts at
    the next opening."""
    cal = _global()
    early = datetime(2026, 6, 16, 6, 30, tzinfo=NY)
    assert _iso(cal.next_open(early)) == "2026-06-16T08:00:00-04:00"
    assert _iso(cal.add(early, HOUR)) == "2026-06-16T09:00:00-04:00"
    assert cal.between(early, datetime(2026, 6, 16, 8, 0, tzinfo=NY)) == 0
    late = datetime(2026, 6, 16, 17, 30, tzinfo=NY)
    assert _iso(cal.next_open(late)) == "2026-06-17T08:00:00-04:00"
    assert _iso(cal.add(late, HOUR)) == "2026-06-17T09:00:00-04:00"
    closing = datetime(2026, 6, 16, 17, 0, tzinfo=NY)
    assert _iso(cal.add(closing, HOUR)) == "2026-06-17T09:00:00-04:00"
    saturday = datetime(2026, 6, 20, 11, 0, tzinfo=NY)
    assert _iso(cal.next_open(saturday)) == "2026-06-22T08:00:00-04:00"


def test_it_skips_weekends():
    """C1, C2: Saturday and Sunday are closed."""
    cal = _global()
    assert _iso(cal.add(datetime(2026, 6, 12, 16, 0, tzinfo=NY), 2 * HOUR)) == (
        "2026-06-15T09:00:00-04:00"
    )
    assert cal.between(datetime(2026, 6, 13, tzinfo=NY), datetime(2026, 6, 15, tzinfo=NY)) == 0
    assert cal.between(datetime(2026, 6, 12, 8, 0, tzinfo=NY),
                       datetime(2026, 6, 15, 17, 0, tzinfo=NY)) == 18 * HOUR
    assert not cal.is_open(datetime(2026, 6, 13, 12, 0, tzinfo=NY))
    assert not cal.is_open(datetime(2026, 6, 14, 12, 0, tzinfo=NY))
    assert _iso(_uk().add(datetime(2026, 6, 12, 16, 0, tzinfo=UTC), 2 * HOUR)) == (
        "2026-06-15T10:00:00+00:00"
    )


# ---------------------------------------------------------------------------- holidays
@pytest.mark.parametrize(
    ("calendar", "day", "is_closed"),
    [
        ("global", date(2026, 7, 3), True),  # Independence Day (observed)
        ("global", date(2026, 11, 26), True),  # Thanksgiving
        ("global", date(2026, 6, 19), True),  # Juneteenth
        ("global", date(2026, 12, 25), True),  # Christmas Day
        ("global", date(2027, 12, 31), True),  # New Year's Day 2028 (observed)
        ("global", date(2026, 11, 27), False),  # the day after Thanksgiving
        ("global", date(2026, 4, 3), False),  # Good Friday is not a US holiday
        ("global", date(2026, 12, 28), False),  # Boxing Day (observed) is not either
        ("uk", date(2026, 12, 25), True),  # Christmas Day
        ("uk", date(2026, 12, 28), True),  # Boxing Day (observed)
        ("uk", date(2026, 4, 3), True),  # Good Friday
        ("uk", date(2026, 4, 6), True),  # Easter Monday (England)
        ("uk", date(2026, 8, 31), True),  # Summer bank holiday (England)
        ("uk", date(2026, 1, 2), False),  # a bank holiday in Scotland only
        ("uk", date(2026, 7, 3), False),  # a US holiday
        ("uk", date(2026, 11, 26), False),  # Thanksgiving
    ],
)
def test_it_closes_on_holidays_of_its_own_country(calendar, day, is_closed):
    """C1, C2: US federal holidays (observed dates) for global, bank holidays in
    England for uk, each a whole local day."""
    cal = _global() if calendar == "global" else _uk()
    open_seconds = 0 if is_closed else POLICY.calendar(calendar).business_day_seconds
    assert _seconds(_day_intervals(cal, day)) == open_seconds


def test_it_skips_independence_day_observed():
    """C1: Friday 2026-07-03 is Independence Day (observed); Thursday 16:00 + 2 h
    is Monday 09:00."""
    cal = _global()
    assert not cal.is_open(datetime(2026, 7, 3, 10, 0, tzinfo=NY))
    assert _iso(cal.add(datetime(2026, 7, 2, 16, 0, tzinfo=NY), 2 * HOUR)) == (
        "2026-07-06T09:00:00-04:00"
    )
    assert cal.between(datetime(2026, 7, 2, 8, 0, tzinfo=NY),
                       datetime(2026, 7, 6, 8, 0, tzinfo=NY)) == 9 * HOUR


def test_it_skips_thanksgiving_2027():
    """C1: Thanksgiving 2027 is Thursday 2027-11-25; Friday is a working day."""
    cal = _global()
    assert _iso(cal.add(datetime(2027, 11, 24, 16, 0, tzinfo=NY), 2 * HOUR)) == (
        "2027-11-26T09:00:00-05:00"
    )


def test_it_skips_christmas_and_boxing_day_observed_in_the_uk():
    """C2: 2026-12-25 (Friday) and Boxing Day observed Monday 2026-12-28 are closed."""
    cal = _uk()
    assert not cal.is_open(datetime(2026, 12, 28, 10, 0, tzinfo=UTC))
    assert _iso(cal.add(datetime(2026, 12, 24, 16, 0, tzinfo=UTC), 2 * HOUR)) == (
        "2026-12-29T10:00:00+00:00"
    )


# ------------------------------------------------------------ year ends and leap days
def test_it_crosses_the_year_end_2026_2027():
    """C5: Thursday 2026-12-31 16:00 + 2 h; 2027-01-01 is New Year's Day (both)."""
    assert _iso(_global().add(datetime(2026, 12, 31, 16, 0, tzinfo=NY), 2 * HOUR)) == (
        "2027-01-04T09:00:00-05:00"
    )
    assert _global().between(datetime(2026, 12, 31, 8, 0, tzinfo=NY),
                             datetime(2027, 1, 4, 17, 0, tzinfo=NY)) == 18 * HOUR
    assert _iso(_uk().add(datetime(2026, 12, 31, 16, 0, tzinfo=UTC), 2 * HOUR)) == (
        "2027-01-04T10:00:00+00:00"
    )


def test_it_crosses_the_year_end_2027_2028():
    """C1, C2, C5: New Year's Day 2028 is a Saturday: the US observes it on Friday
    2027-12-31, England on Monday 2028-01-03."""
    assert _iso(_global().add(datetime(2027, 12, 30, 16, 0, tzinfo=NY), 2 * HOUR)) == (
        "2028-01-03T09:00:00-05:00"
    )
    assert _iso(_uk().add(datetime(2027, 12, 31, 16, 0, tzinfo=UTC), 2 * HOUR)) == (
        "2028-01-04T10:00:00+00:00"
    )


def test_it_counts_the_leap_day_2028_02_29():
    """C5: Tuesday 2028-02-29 is a working day."""
    cal = _global()
    assert _iso(cal.add(datetime(2028, 2, 28, 16, 0, tzinfo=NY), 2 * HOUR)) == (
        "2028-02-29T09:00:00-05:00"
    )
    assert cal.is_open(datetime(2028, 2, 29, 12, 0, tzinfo=NY))
    assert cal.between(datetime(2028, 2, 28, tzinfo=NY), datetime(2028, 3, 1, tzinfo=NY)) == (
        18 * HOUR
    )
    # February 2028: 21 weekdays, Washington's Birthday on the 21st.
    assert cal.between(datetime(2028, 2, 1, tzinfo=NY), datetime(2028, 3, 1, tzinfo=NY)) == (
        20 * 9 * HOUR
    )
    assert _iso(_uk().add(datetime(2028, 2, 28, 16, 0, tzinfo=UTC), 2 * HOUR)) == (
        "2028-02-29T10:00:00+00:00"
    )


# ---------------------------------------------------------------- T2: business days
def test_it_resolves_p4_in_ten_business_days():
    """T2: 10 business days = 90 h on global (9 h days), 80 h on uk (8 h days):
    from a Monday opening to the Friday closing of the next week."""
    assert POLICY.target_seconds("P4", "resolution", "global") == 90 * HOUR
    assert POLICY.target_seconds("P4", "resolution", "uk") == 80 * HOUR
    assert _iso(_global().add(datetime(2026, 6, 1, 8, 0, tzinfo=NY), 90 * HOUR)) == (
        "2026-06-12T17:00:00-04:00"
    )
    assert _iso(_uk().add(datetime(2026, 6, 1, 9, 0, tzinfo=UTC), 80 * HOUR)) == (
        "2026-06-12T17:00:00+00:00"
    )
    # The spring bank holiday (Monday 2026-05-25) pushes it a day on.
    assert _iso(_uk().add(datetime(2026, 5, 18, 9, 0, tzinfo=UTC), 80 * HOUR)) == (
        "2026-06-01T17:00:00+00:00"
    )


def test_it_knows_the_standard_working_day():
    """T2: the standard day is the most common length of an open weekday."""
    assert POLICY.calendar("global").business_day_seconds == 9 * HOUR
    assert POLICY.calendar("uk").business_day_seconds == 8 * HOUR
    lunch = CalendarSpec(
        name="named-lunch", hours=(((time(8), time(12)), (time(13), time(17))),) * 5 + ((), ())
    )
    assert lunch.business_day_seconds == 8 * HOUR
    assert MORNINGS.business_day_seconds == 12 * HOUR
    assert ALWAYS.business_day_seconds == 24 * HOUR


# -------------------------------------------------------------- C4: extra closed dates
def test_it_closes_extra_closed_dates_as_whole_local_days():
    """C4: an administrator's closed dates close the whole day in the site's zone."""
    base = POLICY.calendar("global")
    spec = base.with_closed_dates({date(2026, 12, 24), date(2026, 12, 31)})
    assert spec.closed_dates == {date(2026, 12, 24), date(2026, 12, 31)}
    assert base.closed_dates == frozenset()

    cal = compile_calendar(spec, "America/New_York")
    assert not cal.is_open(datetime(2026, 12, 24, 10, 0, tzinfo=NY))
    assert _iso(cal.add(datetime(2026, 12, 23, 16, 0, tzinfo=NY), 2 * HOUR)) == (
        "2026-12-28T09:00:00-05:00"
    )
    assert _global().is_open(datetime(2026, 12, 24, 10, 0, tzinfo=NY))  # unchanged

    kolkata = compile_calendar(spec, "Asia/Kolkata")
    assert _local_day(kolkata, date(2026, 12, 24)) == []
    assert _local_day(kolkata, date(2026, 12, 23)) == [
        ("2026-12-23T08:00:00+05:30", "2026-12-23T17:00:00+05:30")
    ]


def test_it_closes_an_extra_date_from_midnight_to_midnight():
    """C4, C5: on a 24-hour calendar a closed date is exactly one local day, even a
    25-hour one."""
    cal = compile_calendar(ALWAYS.with_closed_dates({date(2026, 12, 24)}), "Asia/Kolkata")
    intervals = cal.intervals(datetime(2026, 12, 23, tzinfo=KOLKATA),
                              datetime(2026, 12, 26, tzinfo=KOLKATA))
    assert [(_iso(a), _iso(b)) for a, b in intervals] == [
        ("2026-12-23T00:00:00+05:30", "2026-12-24T00:00:00+05:30"),
        ("2026-12-25T00:00:00+05:30", "2026-12-26T00:00:00+05:30"),
    ]
    cal = compile_calendar(ALWAYS.with_closed_dates({date(2026, 11, 1)}), "America/New_York")
    assert cal.between(datetime(2026, 10, 31, tzinfo=NY), datetime(2026, 11, 3, tzinfo=NY)) == (
        48 * HOUR
    )


# --------------------------------------------------------------------------- horizon
def test_it_extends_its_horizon_on_demand():
    """C5: the table grows into the future and the past; no year silently ends."""
    spec = replace(POLICY.calendar("global"), name="global-horizon")  # a fresh table
    cal = compile_calendar(spec, "America/New_York")
    # 2040: Independence Day is Wednesday 2040-07-04.
    assert _iso(cal.add(datetime(2040, 7, 3, 16, 0, tzinfo=NY), 2 * HOUR)) == (
        "2040-07-05T09:00:00-04:00"
    )
    # 2012: Thanksgiving was Thursday 2012-11-22.
    assert _iso(cal.add(datetime(2012, 11, 21, 16, 0, tzinfo=NY), 2 * HOUR)) == (
        "2012-11-23T09:00:00-05:00"
    )
    # Saturday 2045-12-23; Monday 2045-12-25 is Christmas Day.
    assert _iso(cal.next_open(datetime(2045, 12, 23, 18, 0, tzinfo=NY))) == (
        "2045-12-26T08:00:00-05:00"
    )
    assert cal.is_open(datetime(2050, 6, 15, 10, 0, tzinfo=NY))
    assert not cal.is_open(datetime(2010, 7, 5, 10, 0, tzinfo=NY))  # July 4th observed
    # Growing changed nothing nearer home (worked example 1).
    assert _iso(cal.add(datetime(2026, 7, 3, 16, 30, tzinfo=NY), 2 * HOUR)) == (
        "2026-07-06T10:00:00-04:00"
    )


def test_it_agrees_with_the_oracle_far_from_today():
    """C5: in 2012 and 2040 the answers are the oracle's."""
    spec = replace(POLICY.calendar("global"), name="global-far")
    cal = compile_calendar(spec, "America/New_York")
    oracle = Oracle(spec.hours, NY, "US", years=range(2010, 2043))
    for start in (datetime(2012, 12, 21, 15, 17, 3, tzinfo=NY),
                  datetime(2040, 11, 9, 11, 0, tzinfo=NY),
                  datetime(2040, 12, 31, 16, 59, 59, tzinfo=NY)):
        for seconds in (1, HOUR, 9 * HOUR, 27 * HOUR):
            due = cal.add(start, seconds)
            assert int(due.timestamp()) == oracle.add(int(start.timestamp()), seconds)


def test_it_adds_long_durations_without_a_silent_end():
    """C5: a duration far longer than the compiled table still comes out exact."""
    cal = compile_calendar(replace(POLICY.calendar("uk"), name="uk-long"), "UTC")
    start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    seconds = 2500 * 8 * HOUR  # about ten years of business days
    due = cal.add(start, seconds)
    # Counted by hand with the holidays package: the 2500th weekday from Mon 2026-01-05
    # that is not a bank holiday in England is Tue 2035-11-20; it ends at 17:00 UTC.
    assert due == datetime(2035, 11, 20, 17, 0, tzinfo=UTC)
    assert cal.between(start, due) == seconds
    assert int(cal.add_many(np.array([int(start.timestamp())]), seconds)[0]) == int(
        due.timestamp()
    )


def _fresh_global(name: str):
    """A freshly compiled global calendar for New York (not shared with other tests),
    and the first and last year its table was built for."""
    cal = compile_calendar(replace(POLICY.calendar("global"), name=name), "America/New_York")
    return cal, cal.first_year, cal.last_year


def _last_working_day(year: int) -> date:
    closed = holidays_lib.country_holidays("US", years=[year, year + 1])
    day = date(year, 12, 31)
    while day.weekday() >= 5 or day in closed:
        day -= timedelta(days=1)
    return day


def test_it_answers_exactly_at_the_edges_of_its_table():
    """C5: around the first opening and the last close of the compiled years the
    answers are the oracle's (the table grows without a seam). Each question goes
    to a freshly compiled calendar, so that it meets the edge."""
    _, first_year, last_year = _fresh_global("global-edges")
    oracle = Oracle(POLICY.calendar("global").hours, NY, "US",
                    years=range(first_year - 2, last_year + 3))
    last_day = _last_working_day(last_year)
    starts = [
        datetime.combine(last_day, time(16, 0), tzinfo=NY),
        datetime.combine(last_day, time(16, 59, 59), tzinfo=NY),
        datetime.combine(last_day, time(17, 0), tzinfo=NY),
        datetime(first_year, 1, 1, 0, 0, tzinfo=NY),
        datetime(first_year - 1, 12, 31, 16, 0, tzinfo=NY),
    ]
    names = (f"global-edges-{k}" for k in count())
    for start in starts:
        epoch = int(start.timestamp())
        for seconds in (1, HOUR, 9 * HOUR):
            expected = oracle.add(epoch, seconds)
            due = _fresh_global(next(names))[0].add(start, seconds)
            assert int(due.timestamp()) == expected, (start, seconds)
            many = _fresh_global(next(names))[0].add_many(np.array([epoch]), seconds)
            assert int(many[0]) == expected, (start, seconds)
            end = datetime.fromtimestamp(expected, NY)
            assert _fresh_global(next(names))[0].between(start, end) == seconds


def test_it_keeps_the_fraction_at_the_last_close_of_its_table():
    """T3, C5: a fraction of a second that runs on past a close runs on into the next
    opening, also at the last close the compiled table holds (this raised an
    IndexError before the table grew for it)."""
    cal, _, last_year = _fresh_global("global-edge-fraction")
    last_day = _last_working_day(last_year)
    start = datetime.combine(last_day, time(16, 0, 0, 500_000), tzinfo=NY)
    due = cal.add(start, HOUR)
    assert cal.between(start, due) == HOUR
    assert due.microsecond == 500_000
    assert due.time() == time(8, 0, 0, 500_000)
    assert due.date() > last_day


# ------------------------------------------------------------------ bad input, edges
def _naive_calls(cal):
    naive = datetime(2026, 6, 15, 9, 0)
    aware = datetime(2026, 6, 15, 9, 0, tzinfo=NY)
    return {
        "add": lambda: cal.add(naive, HOUR),
        "add zero": lambda: cal.add(naive, 0),
        "between from": lambda: cal.between(naive, aware),
        "between to": lambda: cal.between(aware, naive),
        "next_open": lambda: cal.next_open(naive),
        "is_open": lambda: cal.is_open(naive),
        "intervals": lambda: cal.intervals(naive, aware),
    }


@pytest.mark.parametrize("call", list(_naive_calls(None)))
def test_it_refuses_naive_datetimes(call):
    """C5 (house rule: aware datetimes only): a naive datetime raises CalendarError."""
    with pytest.raises(CalendarError, match="naive"):
        _naive_calls(_global())[call]()


def test_it_refuses_negative_business_time():
    """T3: business time to add is never negative."""
    cal = _global()
    start = datetime(2026, 6, 15, 9, 0, tzinfo=NY)
    with pytest.raises(CalendarError, match="negative"):
        cal.add(start, -1)
    with pytest.raises(CalendarError, match="negative"):
        cal.add_many(np.array([int(start.timestamp())]), -1)
    with pytest.raises(CalendarError, match="negative"):
        cal.add_many(np.array([int(start.timestamp())] * 2), np.array([HOUR, -1]))


def test_it_keeps_the_fraction_of_a_sub_second_start():
    """T3 to the microsecond: a fraction counts when the clock starts inside hours,
    and runs on into the next opening when the whole seconds end at a close."""
    cal = _global()
    assert _iso(cal.add(datetime(2026, 6, 15, 9, 0, 0, 250_000, tzinfo=NY), HOUR)) == (
        "2026-06-15T10:00:00.250000-04:00"
    )
    assert _iso(cal.add(datetime(2026, 6, 15, 7, 30, 0, 500_000, tzinfo=NY), HOUR)) == (
        "2026-06-15T09:00:00-04:00"
    )
    start = datetime(2026, 6, 15, 16, 0, 0, 250_000, tzinfo=NY)
    due = cal.add(start, HOUR)
    assert _iso(due) == "2026-06-16T08:00:00.250000-04:00"
    assert cal.between(start, due) == HOUR
    assert cal.between(start, datetime(2026, 6, 15, 17, 0, tzinfo=NY)) == HOUR - 1
    assert cal.between(datetime(2026, 6, 15, 9, 0, 0, 900_000, tzinfo=NY),
                       datetime(2026, 6, 15, 9, 0, 2, 100_000, tzinfo=NY)) == 1


def test_it_tells_whether_it_is_open():
    """C6 (via the calendar): open from the opening instant up to, not including,
    the close."""
    cal = _global()
    monday = date(2026, 6, 15)

    def at(*hms):
        return datetime.combine(monday, time(*hms), tzinfo=NY)

    assert not cal.is_open(at(7, 59, 59))
    assert cal.is_open(at(8, 0, 0))
    assert cal.is_open(at(16, 59, 59))
    assert cal.is_open(at(16, 59, 59, 999_999))
    assert not cal.is_open(at(17, 0, 0))
    assert cal.is_open(datetime(2026, 6, 15, 12, 0, tzinfo=UTC))  # 08:00 in New York
    assert not cal.is_open(datetime(2026, 6, 15, 11, 59, tzinfo=UTC))


def test_it_tells_when_it_next_opens():
    """C6, T3: next_open is the instant itself while open, else the next opening,
    in the calendar's zone."""
    cal = _global()
    inside = datetime(2026, 6, 15, 10, 0, 0, 500_000, tzinfo=NY)
    assert cal.next_open(inside) == inside
    assert _iso(cal.next_open(datetime(2026, 6, 15, 14, 0, tzinfo=UTC))) == (
        "2026-06-15T10:00:00-04:00"
    )
    assert _iso(cal.next_open(datetime(2026, 6, 15, 17, 0, tzinfo=NY))) == (
        "2026-06-16T08:00:00-04:00"
    )
    assert _iso(cal.next_open(datetime(2026, 7, 3, 10, 0, tzinfo=NY))) == (
        "2026-07-06T08:00:00-04:00"
    )
    assert _iso(_uk().next_open(datetime(2026, 7, 13, 11, 30, tzinfo=LONDON))) == (
        "2026-07-13T10:30:00+00:00"
    )
    assert _iso(cal.next_close(datetime(2026, 6, 13, 10, 0, tzinfo=NY))) == (
        "2026-06-15T17:00:00-04:00"
    )


def test_it_lists_working_intervals_clipped_to_the_range():
    """T1: intervals() shows the business time of a range, clipped to it."""
    cal = _global()
    intervals = cal.intervals(datetime(2026, 6, 15, 12, 0, tzinfo=NY),
                              datetime(2026, 6, 17, 12, 0, tzinfo=NY))
    assert [(_iso(a), _iso(b)) for a, b in intervals] == [
        ("2026-06-15T12:00:00-04:00", "2026-06-15T17:00:00-04:00"),
        ("2026-06-16T08:00:00-04:00", "2026-06-16T17:00:00-04:00"),
        ("2026-06-17T08:00:00-04:00", "2026-06-17T12:00:00-04:00"),
    ]
    assert _seconds(intervals) == cal.between(datetime(2026, 6, 15, 12, 0, tzinfo=NY),
                                              datetime(2026, 6, 17, 12, 0, tzinfo=NY))
    assert cal.intervals(datetime(2026, 6, 13, tzinfo=NY), datetime(2026, 6, 15, tzinfo=NY)) == []
    mornings = compile_calendar(MORNINGS, "America/New_York")
    assert _local_day(mornings, date(2026, 11, 1)) == [
        ("2026-11-01T00:00:00-04:00", "2026-11-01T12:00:00-05:00")
    ]


# ------------------------------------------------------------------ C4: specs as data
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hours": ((),) * 6}, "7 weekdays"),
        ({"hours": (((time(17), time(8)),),) + ((),) * 6}, "mon 17:00-08:00 must open before"),
        ({"hours": (((time(8), time(12)), (time(11), time(17))),) + ((),) * 6}, "overlap"),
        ({"hours": ((),) * 7}, "never open"),
        ({"zone": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
        ({"holiday_country": "XX"}, "unknown holiday set 'XX'"),
        ({"holiday_country": "GB", "holiday_subdiv": "XYZ"}, "unknown holiday set 'GB'/'XYZ'"),
    ],
)
def test_it_refuses_a_bad_calendar_spec(kwargs, message):
    """C4: a calendar definition that cannot work raises CalendarError saying why."""
    fields = {"name": "bad", "hours": (((time(8), time(17)),),) * 5 + ((), ())} | kwargs
    with pytest.raises(CalendarError, match=message):
        CalendarSpec(**fields)


def test_it_needs_the_site_zone_for_a_site_calendar():
    """C1: the global calendar follows the site's zone, which must be a real one."""
    with pytest.raises(CalendarError, match="site's zone"):
        calendar_for(POLICY, "global")
    with pytest.raises(CalendarError, match="unknown time zone 'Mars/Olympus'"):
        calendar_for(POLICY, "global", "Mars/Olympus")
    assert _global("Asia/Kathmandu").zone_name == "Asia/Kathmandu"


# ------------------------------------------------ opening times on DST-change nights
NIGHT = CalendarSpec(name="named-night-desk", hours=(((time(2, 30), time(6)),),) * 7)


def test_it_opens_at_the_change_when_the_opening_time_is_skipped():
    """C5: a desk opening at 02:30 opens when the local clock passes 02:30; on
    the spring-forward night 02:00-03:00 does not exist, so it opens at 03:00 EDT
    (the change itself) and counts 3 real hours to 06:00."""
    cal = compile_calendar(NIGHT, "America/New_York")
    assert _local_day(cal, date(2026, 3, 8)) == [
        ("2026-03-08T03:00:00-04:00", "2026-03-08T06:00:00-04:00")]
    oracle = Oracle.for_spec(NIGHT, NY)
    s = int(datetime(2026, 3, 8, 0, 0, tzinfo=NY).timestamp())
    assert oracle.add(s, 60) == int(cal.add(datetime(2026, 3, 8, 0, 0, tzinfo=NY), 60).timestamp())


def test_it_takes_a_repeated_opening_time_at_its_first_occurrence():
    """C5 (our choice): on the fall-back night 01:00-02:00 happens twice; a desk
    opening at 01:30 opens at the first 01:30 (EDT) and stays open through the
    repeated hour: 01:30 EDT to 06:00 EST is 5.5 real hours."""
    spec = CalendarSpec(name="named-night-desk-2", hours=(((time(1, 30), time(6)),),) * 7)
    cal = compile_calendar(spec, "America/New_York")
    assert _local_day(cal, date(2026, 11, 1)) == [
        ("2026-11-01T01:30:00-04:00", "2026-11-01T06:00:00-05:00")]
    day = datetime(2026, 11, 1, 0, 0, tzinfo=NY)
    assert cal.between(day, day + timedelta(days=1)) == 5 * 3600 + 1800


def test_it_answers_consistently_while_another_thread_grows_the_table():
    """Each query reads one snapshot of the table, so growing it backward from
    another thread never mixes two tables in one answer."""
    import threading

    spec = CalendarSpec(name="named-threads", hours=(((time(8), time(17)),),) * 5 + ((), ()))
    cal = compile_calendar(spec, "America/New_York")
    monday = datetime(2026, 6, 1, 8, tzinfo=NY)
    evening = datetime(2026, 6, 1, 17, tzinfo=NY)
    wrong = []

    def grow():
        for year in range(2019, 1990, -1):
            cal.between(datetime(year, 6, 1, tzinfo=NY), monday)

    thread = threading.Thread(target=grow)
    thread.start()
    while thread.is_alive():
        if cal.between(monday, evening) != 9 * 3600:
            wrong.append(1)
    thread.join()
    assert not wrong


def test_it_refuses_years_outside_its_range_with_a_calendar_error():
    cal = _global()
    with pytest.raises(CalendarError):
        cal.add(datetime(2300, 1, 1, tzinfo=NY), 3600)
    with pytest.raises(CalendarError):
        cal.add_many(np.array([-10**15]), 3600)
    with pytest.raises(CalendarError):
        cal.add(datetime(2026, 1, 1, tzinfo=NY), 10**12)
