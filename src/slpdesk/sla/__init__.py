"""slpdesk's SLA engine: business calendars, the policy as data, and clock replay.

Pure Python (no Django). The public API::

    from slpdesk.sla import load_policy, calendar_for, replay
    policy = load_policy()                  # the shipped default; load_policy(path) for another
    cal = calendar_for(policy, "global", "America/New_York")
    cal.add(start, seconds)                 # aware datetime in, aware datetime out
    cal.between(a, b)                       # business seconds in [a, b)
    cal.add_many(starts_epoch, seconds)     # vectorised over int64 epoch seconds
    replay(events, policy, cal, now)        # SlaState of one case
"""

from .calendar import (
    SITE_ZONE,
    BusinessCalendar,
    CalendarError,
    CalendarSpec,
    compile_calendar,
    get_zone,
    holiday_language,
    public_holidays,
)
from .clocks import ClockState, Event, ReplayError, SlaState, replay, update_figures
from .policy import (
    Duration,
    Policy,
    PolicyError,
    load_policy,
    parse_policy,
    policy_from_text,
    shipped_policy_text,
)


def calendar_for(policy: Policy, name: str, time_zone: str | None = None) -> BusinessCalendar:
    """The compiled calendar ``name`` of ``policy`` for a site in ``time_zone``.

    ``time_zone`` is the site's IANA zone; calendars with a fixed zone (the UK
    calendar computes in UTC) ignore it. Compiled calendars are cached.
    """
    return compile_calendar(policy.calendar(name), time_zone)


__all__ = [
    "SITE_ZONE",
    "BusinessCalendar",
    "CalendarError",
    "CalendarSpec",
    "ClockState",
    "Duration",
    "Event",
    "Policy",
    "PolicyError",
    "ReplayError",
    "SlaState",
    "calendar_for",
    "compile_calendar",
    "get_zone",
    "holiday_language",
    "public_holidays",
    "load_policy",
    "parse_policy",
    "policy_from_text",
    "replay",
    "shipped_policy_text",
    "update_figures",
]
