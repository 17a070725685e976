"""Business calendars compiled into UTC working intervals (spec C1-C5, T1-T3).

A :class:`CalendarSpec` is data: weekly opening hours, a time-zone rule and a
holiday set. :func:`compile_calendar` turns a spec plus a concrete IANA zone
into a :class:`BusinessCalendar`: a sorted table of working intervals in UTC
epoch seconds with the cumulative business seconds before each one. Adding
business time and measuring it are then two binary searches, whatever the
length of the target, and daylight-saving changes are exact by construction
(each interval's ends are real instants).

Semantics (the "earliest instant" convention of T3):

* ``between(a, b)`` is the business time in ``[a, b)``;
* ``add(s, d)`` is the earliest instant ``t >= s`` with ``between(s, t) == d``;
  so 09:00 + 8 h on an 08:00-17:00 day is 17:00 the same day, not 08:00 the next;
* ``next_open(s)`` is the first business instant at or after ``s`` (where a
  clock that starts outside business hours starts counting).

Holidays and extra closed dates are whole local days in the calendar's zone.
The table covers a range of years and grows on demand in both directions, so
there is no year at which answers silently stop.
"""

from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import holidays as holidays_lib
import numpy as np

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SITE_ZONE = "site"  # time-zone rule: use the zone of the case's site

# The years the clock answers for. Wide enough for any case history and any
# deadline; bounded so that a wild input cannot make a table of centuries.
MIN_YEAR = 1900
MAX_YEAR = 2199
_MIN_EPOCH = int(datetime(MIN_YEAR, 1, 1, tzinfo=UTC).timestamp())
_MAX_EPOCH = int(datetime(MAX_YEAR + 1, 1, 1, tzinfo=UTC).timestamp())


class CalendarError(ValueError):
    """A calendar definition or query that cannot be honoured."""


def get_zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``; raises :class:`CalendarError` naming it when unknown."""
    try:
        return _zone(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise CalendarError(f"unknown time zone {name!r}") from exc


@lru_cache(maxsize=1)
def zone_names() -> frozenset[str]:
    """Every IANA zone name the zone database has (``zoneinfo.available_timezones``)."""
    return frozenset(available_timezones())


@lru_cache(maxsize=1024)
def _zone(name: str) -> ZoneInfo:
    # Only names from the database's list: a folder of it (``America``) or a name too
    # long for a file name would make ZoneInfo raise OSError.
    if not isinstance(name, str) or name not in zone_names():
        raise ValueError(name)
    return ZoneInfo(name)


@dataclass(frozen=True)
class CalendarSpec:
    """A business calendar as data (spec C4).

    ``hours`` holds, for Monday..Sunday, a tuple of ``(open, close)`` local
    times; several per day allow a lunch break, none closes the day. A close of
    ``time(0)`` means midnight at the end of the day. ``zone`` is an IANA name
    or :data:`SITE_ZONE`. ``holiday_country``/``holiday_subdiv`` name a holiday
    set of the ``holidays`` package; ``closed_dates`` are extra closed days.
    ``business_day_seconds`` is the standard working-day length used for
    targets given in business days (T2).
    """

    name: str
    hours: tuple[tuple[tuple[time, time], ...], ...]
    zone: str = SITE_ZONE
    holiday_country: str | None = None
    holiday_subdiv: str | None = None
    holiday_categories: tuple[str, ...] = ()
    closed_dates: frozenset[date] = field(default_factory=frozenset)
    business_day_seconds: int = 0

    def __post_init__(self) -> None:
        if len(self.hours) != 7:
            raise CalendarError(f"calendar {self.name!r}: hours must list 7 weekdays")
        total = 0
        for wd, spans in zip(WEEKDAYS, self.hours, strict=True):
            prev_end = -1
            for opens, closes in spans:
                a, b = _secs(opens), _secs(closes) or 86400
                if not a < b:
                    raise CalendarError(
                        f"calendar {self.name!r}: {wd} {opens:%H:%M}-{closes:%H:%M} "
                        "must open before it closes"
                    )
                if a < prev_end:
                    raise CalendarError(
                        f"calendar {self.name!r}: {wd} opening hours overlap or are not sorted"
                    )
                prev_end = b
                total += b - a
        if total == 0:
            raise CalendarError(f"calendar {self.name!r}: it is never open")
        if self.zone != SITE_ZONE:
            get_zone(self.zone)
        if self.holiday_country is not None:
            problem = _holiday_set_problem(self.holiday_country, self.holiday_subdiv,
                                           self.holiday_categories)
            if problem:
                raise CalendarError(
                    f"calendar {self.name!r}: unknown holiday set "
                    f"{self.holiday_country!r}/{self.holiday_subdiv!r}: {problem}"
                )
        if self.business_day_seconds <= 0:
            object.__setattr__(self, "business_day_seconds", self.standard_day_seconds())

    def standard_day_seconds(self) -> int:
        """The most common non-zero length of a weekday (T2: 9 h for 08:00-17:00)."""
        lengths = [sum((_secs(b) or 86400) - _secs(a) for a, b in day) for day in self.hours]
        lengths = [n for n in lengths if n]
        return max(set(lengths), key=lambda n: (lengths.count(n), n))

    def zone_for(self, site_zone: str | None) -> str:
        """The IANA zone this calendar computes in for a site in ``site_zone``."""
        if self.zone != SITE_ZONE:
            return self.zone
        if not site_zone:
            raise CalendarError(f"calendar {self.name!r} follows the site's zone; none given")
        get_zone(site_zone)
        return site_zone

    def with_closed_dates(self, dates) -> CalendarSpec:
        """A copy with ``dates`` added to the extra closed dates (itself when none is new)."""
        closed = self.closed_dates | frozenset(dates)
        return self if closed == self.closed_dates else replace(self, closed_dates=closed)


@lru_cache(maxsize=256)
def _holiday_set_problem(country: str, subdiv: str | None, categories) -> str:
    """Why the ``holidays`` package has no such holiday set ("" when it has): asked
    once per set, since every copy of a spec (one per set of closures) checks it."""
    try:
        holidays_lib.country_holidays(country, subdiv=subdiv, years=2026,
                                      categories=categories or None)
    except (NotImplementedError, KeyError, ValueError) as exc:
        return str(exc) or type(exc).__name__
    return ""


@lru_cache(maxsize=256)
def holiday_language(country: str, language: str | None) -> str | None:
    """The ``holidays`` package's name for ``language`` (``"sv"``, ``"en"``; a
    Django language code) in ``country``'s holiday set: the exact code, else the
    first regional variant (``en`` -> ``en_US``, ``sv`` -> ``sv_FI``), else the set's
    own default language (US holidays have no Swedish names). Never None for a known
    set: left to itself the package guesses from the process's locale."""
    try:
        found = holidays_lib.country_holidays(country, years=())
    except (NotImplementedError, KeyError, ValueError):
        return None
    default = getattr(found, "default_language", None)
    if not language:
        return default
    base = language.replace("-", "_").split("_")[0].lower()
    if default and default.split("_")[0].lower() == base:
        return default  # England's bank holidays stay en_GB for any English
    supported = tuple(getattr(found, "supported_languages", ()) or ())
    if base in supported:
        return base
    return next((code for code in supported if code.lower().startswith(base + "_")),
                default)


def public_holidays(spec: CalendarSpec, years, language: str | None = None
                    ) -> list[tuple[date, str]]:
    """The public holidays of ``spec``'s holiday set in ``years`` (the same dates the
    engine closes, :meth:`BusinessCalendar._closed_days`), oldest first, named in
    ``language`` where the holiday data has that language and in its own default
    language where not (US holidays have no Swedish names)."""
    if not spec.holiday_country:
        return []
    found = holidays_lib.country_holidays(
        spec.holiday_country, subdiv=spec.holiday_subdiv, years=years,
        categories=spec.holiday_categories or None,
        language=holiday_language(spec.holiday_country, language))
    return sorted(found.items())


def _position_us(table, s: int, us: int) -> int:
    """Business microseconds from the start of ``table`` to the instant ``s`` + ``us``."""
    starts, ends, cum, cum_end = table
    i = bisect_right(ends, s)
    if i == len(starts):
        return cum_end[-1] * 1_000_000
    a = starts[i]
    if s >= a:
        return (cum[i] + s - a) * 1_000_000 + us
    return cum[i] * 1_000_000


def _local_instant(day: date, at: time, tz: ZoneInfo) -> int:
    """Epoch seconds of the first instant whose local wall time on ``day`` is
    ``at`` or later.

    A wall time skipped by a DST change (02:30 on a spring-forward night) maps to
    the change itself (03:00 local), where the local clock passes it; a wall time
    that occurs twice maps to its first occurrence.
    """
    dt = datetime.combine(day, at, tzinfo=tz)
    ts = int(dt.timestamp())
    if datetime.fromtimestamp(ts, tz).replace(tzinfo=None) == dt.replace(tzinfo=None):
        return ts
    # Skipped: the change lies between the readings with the two offsets.
    lo = int(dt.replace(fold=1).timestamp())
    hi = ts
    lo, hi = min(lo, hi), max(lo, hi)
    naive = dt.replace(tzinfo=None)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, tz).replace(tzinfo=None) >= naive:
            hi = mid
        else:
            lo = mid
    return hi


def _secs(t: time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


class BusinessCalendar:
    """A compiled calendar for one concrete time zone.

    All public methods take and return aware datetimes (results are in the
    calendar's zone) except :meth:`add_many`, which works on int64 UTC epoch
    seconds. Instances are shared through :func:`compile_calendar`'s cache and
    are safe to use from several threads.
    """

    def __init__(self, spec: CalendarSpec, zone: str, first_year: int, last_year: int):
        self.spec = spec
        self.zone_name = zone
        self.tz = get_zone(zone)
        self._lock = threading.Lock()
        self._build(first_year, last_year)

    # -- construction ---------------------------------------------------------------
    def _closed_days(self, first_year: int, last_year: int) -> set[date]:
        closed = {d for d in self.spec.closed_dates if first_year <= d.year <= last_year}
        if self.spec.holiday_country:
            closed.update(
                holidays_lib.country_holidays(
                    self.spec.holiday_country,
                    subdiv=self.spec.holiday_subdiv,
                    years=range(first_year, last_year + 1),
                    categories=self.spec.holiday_categories or None,
                ).keys()
            )
        return closed

    def _build(self, first_year: int, last_year: int) -> None:
        tz = self.tz
        closed = self._closed_days(first_year, last_year)
        hours = self.spec.hours
        starts: list[int] = []
        ends: list[int] = []
        day = date(first_year, 1, 1)
        stop = date(last_year + 1, 1, 1)
        one_day = timedelta(days=1)
        while day < stop:
            spans = hours[day.weekday()]
            if spans and day not in closed:
                for opens, closes in spans:
                    a = _local_instant(day, opens, tz)
                    if closes == time(0):
                        b = _local_instant(day + one_day, time(0), tz)
                    else:
                        b = _local_instant(day, closes, tz)
                    if b <= a:  # a local span swallowed by a DST gap
                        continue
                    if starts and a <= ends[-1]:  # touches the previous one (e.g. 24x7)
                        ends[-1] = max(ends[-1], b)
                    else:
                        starts.append(a)
                        ends.append(b)
            day += one_day
        cum = [0] * len(starts)
        cum_end = [0] * len(starts)
        total = 0
        for k, (a, b) in enumerate(zip(starts, ends, strict=True)):
            cum[k] = total
            total += b - a
            cum_end[k] = total
        # Publish atomically: each reader takes one snapshot (the pure-Python
        # lists, or the numpy arrays) and uses nothing else.
        self._lists = (starts, ends, cum, cum_end)
        self._arrays = (
            np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64),
            np.asarray(cum, dtype=np.int64), np.asarray(cum_end, dtype=np.int64),
        )
        self.first_year = first_year
        self.last_year = last_year
        # Instants the table answers for without growing: from its first opening
        # to just before its last close.
        self._lo = starts[0]
        self._hi = ends[-1] - 1

    def _ensure(self, lo_epoch: int, hi_epoch: int) -> None:
        """Grow the table so that it covers ``lo_epoch``..``hi_epoch`` (plus a margin)."""
        if self._lo <= lo_epoch and hi_epoch <= self._hi:
            return
        if lo_epoch < _MIN_EPOCH or hi_epoch >= _MAX_EPOCH:
            raise CalendarError(f"time outside the years {MIN_YEAR}-{MAX_YEAR} the clock covers")
        with self._lock:
            first, last = self.first_year, self.last_year
            if lo_epoch < self._lo:
                first = min(first, datetime.fromtimestamp(lo_epoch, UTC).year - 1)
            if hi_epoch > self._hi:
                last = max(last, datetime.fromtimestamp(hi_epoch, UTC).year + 1)
            first, last = max(first, MIN_YEAR - 1), min(last, MAX_YEAR + 1)
            if (first, last) != (self.first_year, self.last_year):
                self._build(first, last)

    def _ensure_target(self, target: int) -> None:
        """Grow the table forward until ``target`` business seconds fit in it."""
        while self._lists[3][-1] < target:
            span = self.last_year - self.first_year + 1
            with self._lock:
                if self._lists[3][-1] < target:
                    last = min(self.last_year + span, MAX_YEAR + 1)
                    if last == self.last_year:
                        raise CalendarError(f"deadline after the year {MAX_YEAR}")
                    self._build(self.first_year, last)

    # -- positions ----------------------------------------------------------------------
    @staticmethod
    def _epoch(dt: datetime) -> tuple[int, int]:
        """Whole UTC epoch seconds (floored) and the microseconds of ``dt``."""
        if dt.tzinfo is None:
            raise CalendarError("naive datetime: give an aware one (UTC or with a zone)")
        ts = dt.timestamp()
        us = dt.microsecond
        if us:
            return round(ts - us * 1e-6), us
        return int(ts), 0

    # -- public API -----------------------------------------------------------------
    def add(self, start: datetime, seconds: int) -> datetime:
        """The deadline ``seconds`` business seconds after ``start`` (T3), in the
        calendar's zone. ``seconds`` must be a non-negative whole number.

        This is the hot path of the product (every case, every recompute): it is
        kept to one ``timestamp()``, two bisections and one ``fromtimestamp()``.
        """
        if start.tzinfo is None:
            raise CalendarError("naive datetime: give an aware one (UTC or with a zone)")
        if seconds <= 0:
            if seconds == 0:
                return start.astimezone(self.tz)
            raise CalendarError("business seconds to add must not be negative")
        us = start.microsecond
        s = round(start.timestamp() - us * 1e-6) if us else int(start.timestamp())
        if not (self._lo <= s <= self._hi):
            self._ensure(s, s)
        starts, ends, cum, cum_end = self._lists
        i = bisect_right(ends, s)
        a = starts[i]
        if s >= a:
            target = cum[i] + s - a + seconds
        else:
            target = cum[i] + seconds
            us = 0
        if target > cum_end[-1]:
            self._ensure_target(target + 1)
            return self.add(start, seconds)
        j = bisect_left(cum_end, target)
        at = starts[j] + target - cum[j]
        if us:
            if at == ends[j]:
                # The whole seconds end exactly at a close: the fraction runs on
                # into the next opening.
                if j + 1 == len(starts):
                    self._ensure_target(target + 1)
                    return self.add(start, seconds)
                at = starts[j + 1]
            return datetime.fromtimestamp(at, self.tz).replace(microsecond=us)
        return datetime.fromtimestamp(at, self.tz)

    def between(self, a: datetime, b: datetime) -> int:
        """Whole business seconds in ``[a, b)`` (negative if ``b`` precedes ``a``)."""
        sa, ua = self._epoch(a)
        sb, ub = self._epoch(b)
        self._ensure(min(sa, sb), max(sa, sb))
        table = self._lists  # one snapshot: another thread may grow the table meanwhile
        return (_position_us(table, sb, ub) - _position_us(table, sa, ua)) // 1_000_000

    def next_open(self, at: datetime) -> datetime:
        """The first business instant at or after ``at`` (where a clock starts counting)."""
        s, us = self._epoch(at)
        self._ensure(s, s)
        starts, ends, _, _ = self._lists
        i = bisect_right(ends, s)
        if s >= starts[i]:
            return at.astimezone(self.tz)
        return datetime.fromtimestamp(starts[i], self.tz)

    def is_open(self, at: datetime) -> bool:
        """Whether ``at`` lies inside business hours."""
        s, _ = self._epoch(at)
        self._ensure(s, s)
        starts, ends, _, _ = self._lists
        i = bisect_right(ends, s)
        return i < len(starts) and starts[i] <= s

    def next_close(self, at: datetime) -> datetime:
        """The end of the business period containing or following ``at``."""
        opens = self.next_open(at)
        s, _ = self._epoch(opens)
        ends = self._lists[1]
        return datetime.fromtimestamp(ends[bisect_right(ends, s)], self.tz)

    def intervals(self, a: datetime, b: datetime) -> list[tuple[datetime, datetime]]:
        """The working intervals overlapping ``[a, b)``, clipped to it, in the zone.
        Adjacent pieces split at offset changes are merged back."""
        sa, _ = self._epoch(a)
        sb, _ = self._epoch(b)
        self._ensure(sa, sb)
        starts, ends, _, _ = self._lists
        out: list[tuple[int, int]] = []
        for k in range(bisect_right(ends, sa), len(starts)):
            if starts[k] >= sb:
                break
            lo, hi = max(starts[k], sa), min(ends[k], sb)
            if out and out[-1][1] == lo:
                out[-1] = (out[-1][0], hi)
            else:
                out.append((lo, hi))
        return [
            (datetime.fromtimestamp(x, self.tz), datetime.fromtimestamp(y, self.tz))
            for x, y in out
        ]

    def add_many(self, starts_epoch, seconds) -> np.ndarray:
        """Vectorised :meth:`add` over int64 UTC epoch seconds; ``seconds`` is a
        scalar or an array of the same shape. Returns int64 epoch seconds."""
        s = np.asarray(starts_epoch, dtype=np.int64)
        d = np.asarray(seconds, dtype=np.int64)
        if s.size == 0:
            return s.copy()
        if (d < 0).any():
            raise CalendarError("business seconds to add must not be negative")
        if not d.any():
            return s.copy()
        self._ensure(int(s.min()), int(s.max()))
        while True:
            t_starts, t_ends, t_cum, t_cum_end = self._arrays
            i = np.searchsorted(t_ends, s, side="right")
            if int(i.max()) >= len(t_starts):
                self._ensure(int(s.min()), int(s.max()) + 366 * 86400)
                continue
            a = t_starts[i]
            target = t_cum[i] + np.maximum(s - a, 0) + d
            top = int(target.max())
            if top > int(t_cum_end[-1]):
                self._ensure_target(top + 1)
                continue
            j = np.searchsorted(t_cum_end, target, side="left")
            out = t_starts[j] + (target - t_cum[j])
            if d.ndim and not d.all():
                out = np.where(d == 0, s, out)
            return out

    def between_many(self, a_epoch, b_epoch) -> np.ndarray:
        """Vectorised :meth:`between` over int64 epoch seconds."""
        a = np.asarray(a_epoch, dtype=np.int64)
        b = np.asarray(b_epoch, dtype=np.int64)
        if a.size == 0:
            return np.zeros(0, dtype=np.int64)
        self._ensure(int(min(a.min(), b.min())), int(max(a.max(), b.max())))
        arrays = self._arrays  # one snapshot for both ends
        return _positions(arrays, b) - _positions(arrays, a)

    def __repr__(self) -> str:
        return (
            f"<BusinessCalendar {self.spec.name} {self.zone_name} "
            f"{self.first_year}-{self.last_year} {len(self._lists[0])} intervals>"
        )


def _positions(arrays, s: np.ndarray) -> np.ndarray:
    """Vectorised :func:`_position_us` in whole seconds."""
    t_starts, t_ends, t_cum, t_cum_end = arrays
    i = np.searchsorted(t_ends, s, side="right")
    past = i >= len(t_starts)
    i = np.minimum(i, len(t_starts) - 1)
    pos = t_cum[i] + np.maximum(s - t_starts[i], 0)
    return np.where(past, t_cum_end[-1], pos)


@lru_cache(maxsize=256)
def _compiled(spec: CalendarSpec, zone: str) -> BusinessCalendar:
    this_year = datetime.now(UTC).year
    return BusinessCalendar(spec, zone, this_year - 2, this_year + 3)


def compile_calendar(spec: CalendarSpec, site_zone: str | None = None) -> BusinessCalendar:
    """The compiled, cached calendar of ``spec`` for a site in ``site_zone``."""
    return _compiled(spec, spec.zone_for(site_zone))
