"""A day-by-day business-time loop of the kind other helpdesks use (comparison only).

Written from scratch for this benchmark after the prose description of frappe
helpdesk's ``calc_time`` in shared/reference/business-time-libraries.md (section
7.2); no GPL/AGPL code was read or copied. The shape: while business time
remains, look at the current calendar day; a holiday or a day without hours
jumps to the next midnight; otherwise take ``begin = max(open, now)`` and
``left = max(close, now) - begin``, jump to the next midnight if nothing is
left, else consume ``min(remaining, left)`` and move the clock forward.

Deliberate choices, so that the comparison is fair to the loop:

* **Naive local datetimes** (site wall-clock time, no tzinfo), as frappe
  stores them. Arithmetic is wall-clock: exact for windows that never contain
  a DST switch (08:00-17:00 New York), off by the DST hour when one does.
  Inputs are converted to naive local time before timing, outputs converted
  back (``replace(tzinfo=zone)``) only for the correctness check.
* Plain stdlib ``timedelta`` (frappe's ``add_to_date`` goes through
  ``dateutil.relativedelta`` and argument parsing, which is slower), and a
  ``frozenset`` of holidays (frappe tests membership in a list).
* One opening window per weekday, whole-second starts.

The result follows the same "earliest instant" convention as slpdesk and the
oracle: a deadline that uses up a day exactly is that day's closing time.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

_NEXT_DAY = timedelta(days=1)
_MIDNIGHT = time(0)


class DayLoop:
    """Deadline = start + business seconds, one loop iteration per calendar day."""

    def __init__(self, hours, holidays):
        """``hours``: 7 tuples (Mon..Sun) of ``(open, close)`` ``time`` pairs, at most
        one per day (a close of ``time(0)`` is midnight); ``holidays``: closed dates."""
        windows: list[tuple[int, int] | None] = []
        for spans in hours:
            if len(spans) > 1:
                raise ValueError("the day loop supports one opening window per day")
            if spans:
                (opens, closes), = spans
                windows.append((_secs(opens), _secs(closes) or 86400))
            else:
                windows.append(None)
        self.windows = tuple(windows)
        self.holidays: frozenset[date] = frozenset(holidays)

    def add(self, start: datetime, seconds: int) -> datetime:
        """The earliest naive local time at which ``seconds`` business seconds
        have elapsed since the naive local ``start``."""
        windows = self.windows
        holidays = self.holidays
        result = start
        remaining = seconds
        while remaining > 0:
            day = result.date()
            window = windows[day.weekday()]
            if window is None or day in holidays:
                result = datetime.combine(day + _NEXT_DAY, _MIDNIGHT)
                continue
            now = result.hour * 3600 + result.minute * 60 + result.second
            opens, closes = window
            begin = max(opens, now)
            left = max(closes, now) - begin
            if not left:
                result = datetime.combine(day + _NEXT_DAY, _MIDNIGHT)
                continue
            taken = min(remaining, left)
            result += timedelta(seconds=begin - now + taken)
            remaining -= taken
        return result


def _secs(t: time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


class HelpdeskLoop(DayLoop):
    """The same loop with what helpdesks built on frappe actually pay for: dates
    moved with ``dateutil.relativedelta`` (as frappe's ``add_to_date`` does) and
    holidays tested for membership in a list (a Holiday List's rows).

    This is the "day-by-day loop of the kind other helpdesks use" of the issue's
    target; :class:`DayLoop` is a leaner loop than any helpdesk ships, kept
    beside it to show where a loop's floor is.
    """

    def __init__(self, hours, holidays):
        super().__init__(hours, holidays)
        self.holiday_list = sorted(holidays)

    def add(self, start: datetime, seconds: int) -> datetime:
        from dateutil.relativedelta import relativedelta

        windows = self.windows
        holidays = self.holiday_list
        result = start
        remaining = seconds
        while remaining > 0:
            day = result.date()
            window = windows[day.weekday()]
            if window is None or day in holidays:
                result = datetime.combine(day + relativedelta(days=1), _MIDNIGHT)
                continue
            now = result.hour * 3600 + result.minute * 60 + result.second
            opens, closes = window
            begin = max(opens, now)
            left = max(closes, now) - begin
            if not left:
                result = datetime.combine(day + relativedelta(days=1), _MIDNIGHT)
                continue
            taken = min(remaining, left)
            result = result + relativedelta(seconds=begin - now + taken)
            remaining -= taken
        return result
