"""The worked examples of the spec (global calendar, site in America/New_York)."""

from datetime import datetime
from zoneinfo import ZoneInfo

from slpdesk.sla import calendar_for, load_policy

NY = ZoneInfo("America/New_York")
UTC = ZoneInfo("UTC")


def _cal():
    return calendar_for(load_policy(), "global", "America/New_York")


def test_it_starts_p1_after_independence_day_observed():
    cal, policy = _cal(), load_policy()
    received = datetime(2026, 7, 3, 16, 30, tzinfo=NY)
    assert cal.next_open(received) == datetime(2026, 7, 6, 8, 0, tzinfo=NY)
    assert cal.add(received, policy.target_seconds("P1", "response", "global")) == datetime(
        2026, 7, 6, 10, 0, tzinfo=NY)
    assert cal.add(received, policy.target_seconds("P1", "resolution", "global")) == datetime(
        2026, 7, 6, 16, 0, tzinfo=NY)


def test_it_skips_thanksgiving_for_p2():
    cal = _cal()
    due = cal.add(datetime(2026, 11, 25, 15, 0, tzinfo=NY), 8 * 3600)
    assert due == datetime(2026, 11, 27, 14, 0, tzinfo=NY)


def test_it_crosses_spring_dst_for_p3():
    cal = _cal()
    due = cal.add(datetime(2026, 3, 7, 12, 0, tzinfo=NY), 24 * 3600)
    assert due == datetime(2026, 3, 11, 14, 0, tzinfo=NY)
    assert due.astimezone(UTC) == datetime(2026, 3, 11, 18, 0, tzinfo=UTC)
    assert due.utcoffset().total_seconds() == -4 * 3600
