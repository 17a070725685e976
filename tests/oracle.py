"""A brute-force business-time oracle: walks time minute by minute.

Independent of ``slpdesk.sla.calendar``'s interval table: it asks, for each
instant, the local weekday, date and time of day from
``datetime.fromtimestamp(t, zone)`` and whether that is inside opening hours
and not a closed day. Whole-second inputs only. Working status is assumed to
be constant within a whole UTC minute, which holds for opening hours given in
whole minutes in every zone whose offset is a whole number of minutes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import holidays as holidays_lib

MAX_WALK_DAYS = 400


class Oracle:
    def __init__(self, hours, zone, holiday_country=None, holiday_subdiv=None,
                 closed_dates=(), years=range(2020, 2035)):
        """``hours``: 7 tuples (Mon..Sun) of (open, close) ``time`` pairs; a close
        of ``time(0)`` means midnight at the end of the day."""
        self.hours = [
            [(_secs(a), _secs(b) or 86400) for a, b in day] for day in hours
        ]
        self.zone = zone
        closed = set(closed_dates)
        if holiday_country:
            closed |= set(holidays_lib.country_holidays(
                holiday_country, subdiv=holiday_subdiv, years=years).keys())
        self.closed = closed

    @classmethod
    def for_spec(cls, spec, zone):
        return cls(spec.hours, zone, spec.holiday_country, spec.holiday_subdiv,
                   spec.closed_dates)

    def is_working(self, t: int) -> bool:
        local = datetime.fromtimestamp(t, self.zone)
        d: date = local.date()
        if d in self.closed:
            return False
        s = local.hour * 3600 + local.minute * 60 + local.second
        return any(a <= s < b for a, b in self.hours[local.weekday()])

    def between(self, a: int, b: int) -> int:
        """Working seconds in [a, b) (epoch seconds, a <= b)."""
        total = 0
        t = a
        while t < b and t % 60:
            total += self.is_working(t)
            t += 1
        while t + 60 <= b:
            if self.is_working(t):
                total += 60
            t += 60
        while t < b:
            total += self.is_working(t)
            t += 1
        return total

    def add(self, s: int, seconds: int) -> int:
        """Earliest t >= s with between(s, t) == seconds (epoch seconds)."""
        remaining = seconds
        t = s
        limit = s + MAX_WALK_DAYS * 86400
        while remaining and t % 60:
            if self.is_working(t):
                remaining -= 1
            t += 1
        while remaining:
            if t > limit:
                raise AssertionError("oracle walked too far")
            if self.is_working(t):
                if remaining < 60:
                    return t + remaining
                remaining -= 60
            t += 60
        return t

    def add_dt(self, start: datetime, seconds: int) -> datetime:
        return datetime.fromtimestamp(self.add(int(start.timestamp()), seconds), UTC)


def _secs(t: time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second
