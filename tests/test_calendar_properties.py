"""Property tests of the compiled business calendar against the brute-force oracle.

The oracle (``tests/oracle.py``) walks time minute by minute and asks the local
weekday, date and time of day of every instant; the engine answers with binary
searches over a compiled interval table. They must agree to the second (C5) in
every zone, including zones whose offset is not a whole hour and zones whose
daylight-saving change is 30 minutes or falls inside the working window.

Durations are kept to about three business days so that the oracle stays fast.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oracle import Oracle
from slpdesk.sla import CalendarSpec, calendar_for, compile_calendar, load_policy

ZONES = (
    "America/New_York",
    "Europe/Stockholm",
    "Europe/London",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "America/St_Johns",
    "UTC",
    "Pacific/Chatham",
    "America/Santiago",  # DST changes at midnight
    "Africa/Casablanca",  # DST suspended during Ramadan
)
LO = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp())
HI = int(datetime(2028, 12, 31, tzinfo=UTC).timestamp())
DAY = 86400
HOUR = 3600

# The oracle walks minutes (a few ms an example): it gets fewer examples than the
# properties that only ask the engine.
ORACLE = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
ENGINE = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

LUNCH_DAY = ((time(8), time(12)), (time(13), time(17)))
LUNCH = CalendarSpec(  # Mon-Fri with a lunch break, US holidays, a few company closures
    name="test-lunch",
    hours=(LUNCH_DAY,) * 5 + ((), ()),
    holiday_country="US",
    closed_dates=frozenset({date(2026, 12, 24), date(2027, 12, 24), date(2025, 8, 15)}),
)
MORNINGS = CalendarSpec(  # every day 00:00-12:00: most DST switches fall inside it
    name="test-mornings", hours=(((time(0), time(12)),),) * 7
)
ALWAYS = CalendarSpec(  # 00:00-24:00 every day
    name="test-always", hours=(((time(0), time(0)),),) * 7
)
NIGHTS = CalendarSpec(  # 22:00-06:00 every night: intervals touch across midnight
    name="test-nights", hours=(((time(0), time(6)), (time(22), time(0))),) * 7
)
ALL_SPECS = ("global", "uk", LUNCH, MORNINGS, ALWAYS, NIGHTS)  # names: the shipped policy's


@cache
def _policy():
    return load_policy()


def _policy_spec(name: str) -> CalendarSpec:
    return _policy().calendar(name)


@cache
def _calendar(spec: CalendarSpec, zone: str):
    return compile_calendar(spec, zone)


@cache
def _oracle(spec: CalendarSpec, zone: str) -> Oracle:
    return Oracle.for_spec(spec, ZoneInfo(spec.zone_for(zone)))


@cache
def _transitions(zone: str) -> tuple[int, ...]:
    """The UTC-offset changes of ``zone`` in 2025-2028 (epoch seconds)."""
    tz = ZoneInfo(zone)

    def offset(t: int) -> timedelta:
        return datetime.fromtimestamp(t, tz).utcoffset()

    found = []
    t = LO
    while t < HI:
        if offset(t) != offset(t + DAY):
            lo, hi = t, t + DAY
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if offset(mid) == offset(lo):
                    lo = mid
                else:
                    hi = mid
            found.append(hi)
        t += DAY
    return tuple(found)


BOUNDARY_TIMES = tuple(
    time(h, m, s)
    for h, m, s in [
        (0, 0, 0), (1, 30, 0), (2, 0, 0), (2, 30, 0), (2, 45, 0), (3, 0, 0), (5, 59, 59),
        (6, 0, 0), (7, 59, 59), (8, 0, 0), (8, 0, 1), (9, 0, 0), (11, 59, 59), (12, 0, 0),
        (12, 30, 0), (13, 0, 0), (16, 0, 0), (16, 59, 59), (17, 0, 0), (17, 0, 1),
        (21, 59, 59), (22, 0, 0), (23, 59, 59),
    ]
)


@st.composite
def starts(draw, zone: str) -> int:
    """Whole-second epoch starts in 2025-2028, biased towards the interesting ones:
    near opening and closing times, and in the days around a DST change."""
    kind = draw(st.sampled_from(("any", "boundary", "dst")))
    if kind == "dst" and _transitions(zone):
        t = draw(st.sampled_from(_transitions(zone)))
        return t + draw(st.integers(-4 * DAY, 2 * DAY))
    if kind in ("boundary", "dst"):
        tz = ZoneInfo(zone)
        day = draw(st.dates(date(2025, 1, 2), date(2028, 12, 30)))
        at = draw(st.sampled_from(BOUNDARY_TIMES))
        fold = draw(st.integers(0, 1))
        return int(datetime.combine(day, at, tzinfo=tz).replace(fold=fold).timestamp())
    return draw(st.integers(LO, HI))


def durations(max_seconds: int = 3 * 9 * HOUR):
    return st.one_of(
        st.integers(0, max_seconds),
        st.integers(0, max_seconds // HOUR).map(lambda h: h * HOUR),
        st.sampled_from([0, 1, 59, 60, 3599, HOUR, 4 * HOUR, 8 * HOUR, 9 * HOUR, 18 * HOUR]),
    )


@st.composite
def cases(draw, specs=("global", "uk"), max_seconds: int = 3 * 9 * HOUR):
    """A calendar spec, a site zone, a start (epoch) and a duration."""
    spec = draw(st.sampled_from(specs))
    if isinstance(spec, str):
        spec = _policy_spec(spec)
    zone = draw(st.sampled_from(ZONES))
    start = draw(starts(spec.zone_for(zone)))
    return spec, zone, start, draw(durations(max_seconds))


# Aware datetimes that share a tzinfo compare by wall time (fold ignored), so the
# properties compare instants through timestamp().


def _assert_in_zone(dt: datetime, zone: str) -> None:
    """``dt`` is in ``zone`` and spelled canonically (the wall time that zone
    shows at that instant, with its offset)."""
    assert dt.tzinfo is not None and getattr(dt.tzinfo, "key", None) == zone
    canonical = datetime.fromtimestamp(dt.timestamp(), ZoneInfo(zone))
    assert (dt.replace(tzinfo=None), dt.utcoffset()) == (
        canonical.replace(tzinfo=None), canonical.utcoffset()
    )


def _before(dt: datetime, **delta) -> datetime:
    """``dt`` minus ``delta`` of real time (aware arithmetic would use wall time)."""
    return (dt.astimezone(UTC) - timedelta(**delta)).astimezone(dt.tzinfo)


def _check_add_against_oracle(spec: CalendarSpec, zone: str, start: int, seconds: int):
    cal = _calendar(spec, zone)
    cal_zone = spec.zone_for(zone)
    due = cal.add(datetime.fromtimestamp(start, ZoneInfo(zone)), seconds)
    assert int(due.timestamp()) == _oracle(spec, zone).add(start, seconds)
    assert due.microsecond == 0
    _assert_in_zone(due, cal_zone)


def _check_between_against_oracle(spec: CalendarSpec, zone: str, a: int, b: int):
    cal = _calendar(spec, zone)
    tz = ZoneInfo(zone)
    da, db = datetime.fromtimestamp(a, tz), datetime.fromtimestamp(b, tz)
    expected = _oracle(spec, zone).between(a, b)
    assert cal.between(da, db) == expected
    assert cal.between(db, da) == -expected


# ---------------------------------------------------------------- the policy's calendars
@ORACLE
@given(cases())
def test_it_adds_like_the_oracle(case):
    """C5, T3: add() is exact to the second in any zone, across DST, holidays and
    weekends, and is the earliest instant with that much business time."""
    _check_add_against_oracle(*case)


@ORACLE
@given(cases(), st.integers(0, 5 * DAY))
def test_it_measures_like_the_oracle(case, length):
    """C5, T1: between() counts the business seconds in [a, b) like the oracle."""
    spec, zone, start, _ = case
    _check_between_against_oracle(spec, zone, start, start + length)


@ENGINE
@given(cases())
def test_it_measures_back_what_it_added(case):
    """T3: between(s, add(s, x)) == x, and one second less is not enough."""
    spec, zone, start, seconds = case
    cal = _calendar(spec, zone)
    s = datetime.fromtimestamp(start, ZoneInfo(zone))
    due = cal.add(s, seconds)
    assert due.timestamp() >= s.timestamp()
    assert cal.between(s, due) == seconds
    if seconds:
        assert cal.between(s, _before(due, seconds=1)) == seconds - 1


@ENGINE
@given(cases(specs=ALL_SPECS), st.integers(0, 3 * DAY))
def test_it_is_monotonic_in_the_start(case, later_by):
    """T3: a clock that starts later is never due earlier."""
    spec, zone, start, seconds = case
    cal = _calendar(spec, zone)
    tz = ZoneInfo(zone)
    first = cal.add(datetime.fromtimestamp(start, tz), seconds)
    second = cal.add(datetime.fromtimestamp(start + later_by, tz), seconds)
    assert first.timestamp() <= second.timestamp()


@ENGINE
@given(cases(specs=ALL_SPECS), durations())
def test_it_is_monotonic_in_the_duration(case, more):
    """T3: more business time is due strictly later (add is strictly increasing)."""
    spec, zone, start, seconds = case
    cal = _calendar(spec, zone)
    s = datetime.fromtimestamp(start, ZoneInfo(zone))
    shorter, longer = cal.add(s, seconds), cal.add(s, seconds + more)
    assert shorter.timestamp() <= longer.timestamp()
    if more:
        assert shorter.timestamp() < longer.timestamp()


@ENGINE
@given(cases(specs=ALL_SPECS), st.integers(0, 3 * DAY), st.integers(0, 3 * DAY))
def test_it_measures_additively(case, ab, bc):
    """T1: between(a, b) + between(b, c) == between(a, c) for a <= b <= c."""
    spec, zone, start, _ = case
    cal = _calendar(spec, zone)
    tz = ZoneInfo(zone)
    a = datetime.fromtimestamp(start, tz)
    b = datetime.fromtimestamp(start + ab, tz)
    c = datetime.fromtimestamp(start + ab + bc, tz)
    assert cal.between(a, b) >= 0
    assert cal.between(a, b) + cal.between(b, c) == cal.between(a, c)


@ENGINE
@given(
    st.sampled_from(("global", "uk")),
    st.sampled_from(ZONES),
    st.lists(st.integers(LO, HI), min_size=1, max_size=20),
    st.data(),
)
def test_it_adds_many_like_one_at_a_time(name, zone, epochs, data):
    """C5: the vectorised add_many agrees with the scalar add, for one duration and
    for an array of them."""
    cal = calendar_for(_policy(), name, zone)
    tz = ZoneInfo(zone)
    seconds = data.draw(durations())
    got = cal.add_many(np.array(epochs, dtype=np.int64), seconds)
    assert got.tolist() == [int(cal.add(datetime.fromtimestamp(e, tz), seconds).timestamp())
                            for e in epochs]

    each = data.draw(st.lists(durations(), min_size=len(epochs), max_size=len(epochs)))
    got = cal.add_many(np.array(epochs, dtype=np.int64), np.array(each, dtype=np.int64))
    assert got.tolist() == [
        int(cal.add(datetime.fromtimestamp(e, tz), d).timestamp())
        for e, d in zip(epochs, each, strict=True)
    ]


@ENGINE
@given(cases(specs=ALL_SPECS), st.integers(1, 999_999))
def test_it_keeps_the_fraction_of_a_sub_second_start(case, us):
    """T3 to the microsecond: between(s, add(s, x)) == x for a start with a fraction
    of a second, and add() is the earliest such instant."""
    spec, zone, start, seconds = case
    cal = _calendar(spec, zone)
    s = datetime.fromtimestamp(start, ZoneInfo(zone)).replace(microsecond=us)
    due = cal.add(s, seconds)
    assert due.timestamp() >= s.timestamp()
    assert cal.between(s, due) == seconds
    if seconds:
        assert cal.between(s, _before(due, microseconds=1)) == seconds - 1


# -------------------------------------------------- calendars built from a CalendarSpec
@ORACLE
@given(cases(specs=(LUNCH,)))
def test_it_adds_like_the_oracle_with_a_lunch_break(case):
    """C4, C5: two spans a day (08:00-12:00, 13:00-17:00), holidays and extra
    closed dates."""
    _check_add_against_oracle(*case)


@ORACLE
@given(cases(specs=(LUNCH,)), st.integers(0, 5 * DAY))
def test_it_measures_like_the_oracle_with_a_lunch_break(case, length):
    """C4, C5: between() with a lunch break agrees with the oracle."""
    spec, zone, start, _ = case
    _check_between_against_oracle(spec, zone, start, start + length)


@ORACLE
@given(cases(specs=(MORNINGS, ALWAYS, NIGHTS)))
def test_it_adds_like_the_oracle_when_dst_changes_during_opening_hours(case):
    """C5: a DST switch inside the working window (00:00-12:00, 00:00-24:00 and
    22:00-06:00 every day) lengthens or shortens that day's business time."""
    _check_add_against_oracle(*case)


@ORACLE
@given(cases(specs=(MORNINGS, ALWAYS, NIGHTS)), st.integers(0, 3 * DAY))
def test_it_measures_like_the_oracle_when_dst_changes_during_opening_hours(case, length):
    """C5: between() over a DST switch inside the working window."""
    spec, zone, start, _ = case
    _check_between_against_oracle(spec, zone, start, start + length)


@ENGINE
@given(cases(specs=(LUNCH, MORNINGS, ALWAYS, NIGHTS)))
def test_it_measures_back_what_it_added_on_any_calendar(case):
    """T3 on the custom calendars: between(s, add(s, x)) == x, earliest instant."""
    spec, zone, start, seconds = case
    cal = _calendar(spec, zone)
    s = datetime.fromtimestamp(start, ZoneInfo(zone))
    due = cal.add(s, seconds)
    _assert_in_zone(due, zone)
    assert cal.between(s, due) == seconds
    if seconds:
        assert cal.between(s, _before(due, seconds=1)) == seconds - 1


@ENGINE
@given(
    st.sampled_from((LUNCH, MORNINGS, ALWAYS, NIGHTS)),
    st.sampled_from(ZONES),
    st.lists(st.integers(LO, HI), min_size=1, max_size=20),
    st.data(),
)
def test_it_adds_many_like_one_at_a_time_on_any_calendar(spec, zone, epochs, data):
    """C5: add_many agrees with add on the custom calendars too."""
    cal = _calendar(spec, zone)
    tz = ZoneInfo(zone)
    each = data.draw(st.lists(durations(), min_size=len(epochs), max_size=len(epochs)))
    got = cal.add_many(np.array(epochs, dtype=np.int64), np.array(each, dtype=np.int64))
    assert got.tolist() == [
        int(cal.add(datetime.fromtimestamp(e, tz), d).timestamp())
        for e, d in zip(epochs, each, strict=True)
    ]


@ENGINE
@given(cases(specs=("global", "uk", LUNCH, MORNINGS, NIGHTS)))
def test_it_opens_where_the_oracle_says(case):
    """T3: is_open() is the oracle's working status; next_open() is the first
    working instant at or after the start (where a clock starts counting)."""
    spec, zone, start, _ = case
    cal = _calendar(spec, zone)
    oracle = _oracle(spec, zone)
    s = datetime.fromtimestamp(start, ZoneInfo(zone))
    assert cal.is_open(s) == oracle.is_working(start)
    opens = cal.next_open(s)
    _assert_in_zone(opens, spec.zone_for(zone))
    t = int(opens.timestamp())
    assert t >= start
    assert oracle.is_working(t)
    assert oracle.between(start, t) == 0
