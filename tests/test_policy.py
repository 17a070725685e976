"""The service level policy as data: the shipped CONNECT policy, and bad files.

Every problem in a policy file must come back as a PolicyError that names the
file, the key and the problem, so that an administrator can fix it.
"""

from __future__ import annotations

from datetime import date, datetime, time
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from slpdesk.sla import Duration, PolicyError, calendar_for, load_policy
from slpdesk.sla.calendar import SITE_ZONE
from slpdesk.sla.policy import parse_duration

HOUR = 3600
SHIPPED = resources.files("slpdesk.sla").joinpath("policies/connect.toml").read_text("utf-8")

# Spec section 3, in business hours; P4 resolution is 10 business days (T2).
TARGETS = {
    "P1": {"response": 2, "resolution": 8, "update_interval": 2},
    "P2": {"response": 8, "resolution": 24, "update_interval": 8},
    "P3": {"response": 24, "resolution": 48, "update_interval": 24},
    "P4": {"response": 48, "resolution": {"global": 90, "uk": 80}, "update_interval": 48},
}


def _variant(tmp_path: Path, *replacements: tuple[str, str]) -> Path:
    """The shipped policy with the first ``old`` of each ``(old, new)`` replaced by
    ``new``, written to a file."""
    text = SHIPPED
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _error(path: Path) -> str:
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    return message


# ------------------------------------------------------------------- shipped policy
@pytest.mark.parametrize("priority", sorted(TARGETS))
@pytest.mark.parametrize("calendar", ["global", "uk"])
def test_it_ships_the_section_3_targets(priority, calendar):
    """T1, T2: the shipped policy has the spec's targets, in business time of
    either calendar."""
    policy = load_policy()
    for target, hours in TARGETS[priority].items():
        if isinstance(hours, dict):
            hours = hours[calendar]
        assert policy.target_seconds(priority, target, calendar) == hours * HOUR, target


def test_it_gives_p4_resolution_in_business_days():
    """T2: "2 weeks" is written as 10 business days, not as hours."""
    p4 = load_policy().priority("P4")
    assert p4.resolution == Duration(10, "d")
    assert str(p4.resolution) == "10d"


def test_it_names_the_priorities_in_both_languages():
    """Section 2: P1 Urgent/Brådskande, P2 Critical/Kritisk, P3 Medium, P4 Low/Låg."""
    policy = load_policy()
    assert list(policy.priorities) == ["P1", "P2", "P3", "P4"]
    names = {code: (p.name.en, p.name.sv) for code, p in policy.priorities.items()}
    assert names == {
        "P1": ("Urgent", "Brådskande"),
        "P2": ("Critical", "Kritisk"),
        "P3": ("Medium", "Medium"),
        "P4": ("Low", "Låg"),
    }
    p2 = policy.priority("P2")
    assert p2.name.get("sv-SE") == "Kritisk"
    assert p2.name.get("en-GB") == "Critical"
    assert len(p2.examples("sv")) == len(p2.examples("en")) == 2
    for p in policy.priorities.values():
        assert p.summary.en and p.summary.sv
        assert p.examples("en") and p.examples("sv")


def test_it_ships_the_policy_settings():
    """K6, V1, C3, E4, X2, X3: at risk below 25 %, 30 days' notice, the current and
    previous release, three escalation levels."""
    policy = load_policy()
    assert (policy.id, policy.version) == ("connect", "1")
    assert policy.at_risk_fraction == 0.25
    assert policy.notice_days == 30
    assert policy.supported_releases == 2
    assert policy.default_calendar == "global"
    assert [lv.level for lv in policy.escalation_levels] == [1, 2, 3]
    assert policy.escalation_subject == "Escalation Request"
    assert policy.escalation_direct_priorities == ("P1", "P2")
    assert {x.code for x in policy.out_of_scope} == {"sdk", "custom-toolpath", "post-processor"}


@pytest.mark.parametrize(
    ("country", "calendar"),
    [("GB", "uk"), ("gb", "uk"), ("SE", "global"), ("US", "global"), ("", "global")],
)
def test_it_picks_the_calendar_by_country(country, calendar):
    """C3: sites in the United Kingdom use uk, all others the default, global."""
    assert load_policy().calendar_for_country(country) == calendar


def test_it_ships_the_two_calendars():
    """C1, C2: global is Mon-Fri 08:00-17:00 in the site's zone with US holidays;
    uk is Mon-Fri 09:00-17:00 UTC with bank holidays in England."""
    policy = load_policy()
    workweek = ((time(8), time(17)),)
    g = policy.calendar("global")
    assert g.zone == SITE_ZONE
    assert g.hours == (workweek,) * 5 + ((), ())
    assert (g.holiday_country, g.holiday_subdiv) == ("US", None)
    uk = policy.calendar("uk")
    assert uk.zone == "UTC"
    assert uk.hours == (((time(9), time(17)),),) * 5 + ((), ())
    assert (uk.holiday_country, uk.holiday_subdiv) == ("GB", "ENG")
    assert policy.calendar_names["uk"].sv == "Storbritannien (UTC)"


def test_it_refuses_unknown_priorities_and_calendars():
    """P1, C3: asking for a priority or calendar the policy lacks says which exist."""
    policy = load_policy()
    with pytest.raises(PolicyError, match="unknown priority 'P5' \\(expected one of P1, P2"):
        policy.priority("P5")
    with pytest.raises(PolicyError, match="unknown calendar 'eu'"):
        policy.calendar("eu")
    with pytest.raises(PolicyError, match="unknown calendar 'eu'"):
        policy.target_seconds("P1", "response", "eu")


def test_it_loads_the_shipped_file_by_path(tmp_path):
    """C4: a policy file is plain data; the shipped one loads from any path."""
    path = tmp_path / "connect.toml"
    path.write_text(SHIPPED, encoding="utf-8")
    assert load_policy(path) == load_policy()


# --------------------------------------------------------------------- parsing pieces
@pytest.mark.parametrize(
    ("text", "duration"),
    [("8h", Duration(8, "h")), ("30m", Duration(30, "m")), ("10d", Duration(10, "d")),
     (" 2 h ", Duration(2, "h"))],
)
def test_it_parses_durations(text, duration):
    """T1, T2: business hours, minutes and days."""
    assert parse_duration(text) == duration


@pytest.mark.parametrize("text", ["0h", "-1h", "2w", "1.5h", "h", "", "8 hours", 8])
def test_it_refuses_bad_durations(text):
    """T1: anything but a positive whole number of h, m or d is refused."""
    with pytest.raises(PolicyError, match="is not a duration"):
        parse_duration(text)


def test_it_loads_variants_that_are_fine(tmp_path):
    """C4: closed dates as TOML dates or strings, a lunch break, midnight closing
    and a business-day length of its own."""
    path = _variant(
        tmp_path,
        ('hours = { mon = ["08:00-17:00"], tue',
         'hours = { mon = ["08:00-12:00", "13:00-17:00"], sun = ["20:00-24:00"], tue'),
        ("closed_dates = []",
         'closed_dates = [2026-12-24, "2026-12-31"]\nbusiness_day_hours = 7.5'),
    )
    policy = load_policy(path)
    spec = policy.calendar("global")
    assert spec.closed_dates == {date(2026, 12, 24), date(2026, 12, 31)}
    assert spec.hours[0] == ((time(8), time(12)), (time(13), time(17)))
    assert spec.hours[6] == ((time(20), time(0)),)
    assert policy.target_seconds("P4", "resolution", "global") == 75 * HOUR

    ny = ZoneInfo("America/New_York")
    cal = calendar_for(policy, "global", "America/New_York")
    assert not cal.is_open(datetime(2026, 12, 24, 10, 0, tzinfo=ny))
    assert not cal.is_open(datetime(2026, 12, 14, 12, 30, tzinfo=ny))  # Monday lunch
    assert cal.is_open(datetime(2026, 12, 13, 23, 59, tzinfo=ny))  # Sunday evening


# ------------------------------------------------------------------------- bad files
BAD_FILES = {
    "bad duration": (
        'resolution = "10d"', 'resolution = "two weeks"',
        "priorities.P4.resolution: 'two weeks' is not a duration",
    ),
    "zero duration": (
        'resolution = "10d"', 'resolution = "0d"',
        "priorities.P4.resolution: '0d' is not a duration",
    ),
    "duration as a number": (
        'response = "2h"', "response = 2",
        "priorities.P1.response: 2 is not a duration",
    ),
    "unknown calendar in a rule": (
        'countries = ["GB"]\ncalendar = "uk"', 'countries = ["GB"]\ncalendar = "eu"',
        "calendar_rules[0].calendar: unknown calendar 'eu'",
    ),
    "unknown default calendar": (
        'default_calendar = "global"', 'default_calendar = "world"',
        "policy.default_calendar: unknown calendar 'world'",
    ),
    "unknown calendar of a phone line": (
        'calendar = "us-phone"', 'calendar = "us-fone"',
        "phone_lines[0].calendar: unknown calendar 'us-fone'",
    ),
    "missing policy key": (
        "at_risk_fraction = 0.25", "", "policy.at_risk_fraction: missing",
    ),
    "missing target": (
        'update_interval = "8h"', "", "priorities.P2.update_interval: missing",
    ),
    "missing zone": ('zone = "UTC"', "", "calendars.uk.zone: missing"),
    "missing translation": (
        'name = { en = "Urgent", sv = "Brådskande" }', 'name = { en = "Urgent" }',
        "priorities.P1.name.sv: missing",
    ),
    "span not like 08:00-17:00": (
        'mon = ["08:00-17:00"]', 'mon = ["8-17"]',
        "calendars.global.hours.mon[0]: '8-17' is not like \"08:00-17:00\"",
    ),
    "span with a time that does not exist": (
        'mon = ["08:00-17:00"]', 'mon = ["08:00-25:00"]',
        "calendars.global.hours.mon[0]: '08:00-25:00' is not a time span",
    ),
    "span that closes before it opens": (
        'mon = ["08:00-17:00"]', 'mon = ["17:00-08:00"]',
        "calendars.global: calendar 'global': mon 17:00-08:00 must open before it closes",
    ),
    "overlapping spans": (
        'mon = ["08:00-17:00"]', 'mon = ["08:00-12:00", "11:00-17:00"]',
        "calendars.global: calendar 'global': mon opening hours overlap",
    ),
    "hours not a list": (
        'mon = ["08:00-17:00"]', 'mon = "08:00-17:00"',
        "calendars.global.hours.mon: must be a list of strings",
    ),
    "unknown weekday": (
        'hours = { mon = ["09:00-17:00"]', 'hours = { monday = ["09:00-17:00"]',
        "calendars.uk.hours: unknown weekday 'monday' (use mon..sun)",
    ),
    "unknown holiday country": (
        'holidays = { country = "US" }', 'holidays = { country = "XX" }',
        "calendars.global: calendar 'global': unknown holiday set 'XX'/None",
    ),
    "unknown holiday subdivision": (
        'subdiv = "ENG"', 'subdiv = "XYZ"',
        "calendars.uk: calendar 'uk': unknown holiday set 'GB'/'XYZ'",
    ),
    "unknown time zone": (
        'zone = "UTC"', 'zone = "Mars/Olympus"',
        "calendars.uk: unknown time zone 'Mars/Olympus'",
    ),
    "never-open calendar": (
        'hours = { mon = ["09:00-17:00"], tue = ["09:00-17:00"], wed = ["09:00-17:00"], '
        'thu = ["09:00-17:00"], fri = ["09:00-17:00"] }',
        "hours = { mon = [], sat = [] }",
        "calendars.uk: calendar 'uk': it is never open",
    ),
    "bad closed date": (
        "closed_dates = []", 'closed_dates = ["2026-02-30"]',
        "calendars.global.closed_dates[0]: not a date (write 2026-12-24)",
    ),
    "closed date as a number": (
        "closed_dates = []", "closed_dates = [20261224]",
        "calendars.global.closed_dates[0]: not a date",
    ),
    "closed dates not a list": (
        "closed_dates = []", 'closed_dates = "2026-12-24"',
        "calendars.global.closed_dates: must be a list of dates",
    ),
    "business day longer than a day": (
        "closed_dates = []", "closed_dates = []\nbusiness_day_hours = 25",
        "calendars.global.business_day_hours: must be a number of hours, 0 to 24",
    ),
    "business day as text": (
        "closed_dates = []", 'closed_dates = []\nbusiness_day_hours = "9h"',
        "calendars.global.business_day_hours: must be a number of hours, 0 to 24",
    ),
    "at-risk fraction of 1": (
        "at_risk_fraction = 0.25", "at_risk_fraction = 1.0",
        "policy.at_risk_fraction: must be at least 0 and below 1",
    ),
    "negative at-risk fraction": (
        "at_risk_fraction = 0.25", "at_risk_fraction = -0.1",
        "policy.at_risk_fraction: must be at least 0 and below 1",
    ),
    "at-risk fraction as text": (
        "at_risk_fraction = 0.25", 'at_risk_fraction = "25%"',
        "policy.at_risk_fraction: must be a number",
    ),
    "negative notice": (
        "notice_days = 30", "notice_days = -1", "policy.notice_days: must not be negative",
    ),
    "notice as a float": (
        "notice_days = 30", "notice_days = 30.5", "policy.notice_days: must be a whole number",
    ),
    "no supported release": (
        "supported_releases = 2", "supported_releases = 0",
        "policy.supported_releases: must be at least 1",
    ),
    "escalation levels out of order": (
        "level = 2", "level = 3", "escalation_levels[1].level: expected 2, found 3",
    ),
    "unknown direct escalation priority": (
        'direct_to_top_priorities = ["P1", "P2"]', 'direct_to_top_priorities = ["P1", "P0"]',
        "escalation.direct_to_top_priorities: unknown priority 'P0'",
    ),
    "bad priority code": (
        "[priorities.P1]", '[priorities."P 1"]',
        "priorities.P 1: a priority code is 1-16 letters, digits, - or _",
    ),
}


@pytest.mark.parametrize(("old", "new", "message"), BAD_FILES.values(), ids=list(BAD_FILES))
def test_it_names_the_key_and_the_problem_of_a_bad_file(tmp_path, old, new, message):
    """C4: a bad policy file is refused with the file, the key and the problem."""
    assert message in _error(_variant(tmp_path, (old, new)))


def test_it_refuses_invalid_toml(tmp_path):
    """C4: a file that is not TOML says so."""
    path = _variant(tmp_path, ("[policy]", "[policy"))
    assert "not valid TOML" in _error(path)
    path.write_bytes(b"\xff\xfe not utf-8")
    assert "not valid TOML" in _error(path)


def test_it_refuses_a_missing_file(tmp_path):
    """C4: a file that cannot be read says so."""
    assert "cannot read" in _error(tmp_path / "nowhere.toml")


def test_it_refuses_an_empty_file(tmp_path):
    """C4: the first missing table is named."""
    path = tmp_path / "empty.toml"
    path.write_text("", encoding="utf-8")
    assert "policy: missing" in _error(path)


# --------------------------------------------------- found in review (regressions)
def test_it_refuses_an_unknown_key_instead_of_dropping_a_rule(tmp_path):
    """A typo ('holiday' for 'holidays') must not silently drop the UK holidays."""
    path = _variant(tmp_path, ('holidays = { country = "GB"', 'holiday = { country = "GB"'))
    assert "calendars.uk.holiday: unknown key" in _error(path)
    path = _variant(tmp_path, ("[[calendar_rules]]", "[[calendar_rule]]"))
    assert "calendar_rule: unknown key" in _error(path)


def test_it_refuses_a_date_time_as_a_closed_date(tmp_path):
    path = _variant(tmp_path, ("closed_dates = []", "closed_dates = [2026-07-07T00:00:00]"))
    assert "calendars.global.closed_dates[0]: not a date" in _error(path)
