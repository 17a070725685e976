"""Where the time of one scalar ``cal.add(aware_datetime, seconds)`` goes.

Run: ``.venv/bin/python bench/profile_add.py [--n 100000]``

Times, per call and over the same random starts as ``bench_sla.py``, the whole
``cal.add`` and then each primitive such a call is made of, in isolation:
reading the aware datetime, ``timestamp()``, the two ``bisect`` calls on a
table of the same size, the integer arithmetic, ``datetime.fromtimestamp(x,
zone)`` and the cost of a Python method call. The table used for the pieces is
built here from the calendar's spec (same intervals as slpdesk's), so the
script does not depend on ``BusinessCalendar`` internals. Each piece is the
best of several runs of ``for x in xs: <piece>`` minus an empty loop.
A few alternative conversions are timed too, as leads for optimisation.
"""

from __future__ import annotations

import argparse
import sys
import timeit
from bisect import bisect_left, bisect_right
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import holidays as holidays_lib
import numpy as np

from slpdesk.sla import calendar_for, load_policy

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dayloop import DayLoop  # noqa: E402

ZONE = "America/New_York"


def build_table(spec, tz, first_year: int, last_year: int):
    closed = set(holidays_lib.country_holidays(
        spec.holiday_country, subdiv=spec.holiday_subdiv,
        years=range(first_year, last_year + 1)).keys()) | set(spec.closed_dates)
    starts, ends = [], []
    day = date(first_year, 1, 1)
    while day.year <= last_year:
        if day not in closed:
            for opens, closes in spec.hours[day.weekday()]:
                starts.append(int(datetime.combine(day, opens, tzinfo=tz).timestamp()))
                ends.append(int(datetime.combine(day, closes, tzinfo=tz).timestamp()))
        day += timedelta(days=1)
    cum, cum_end, total = [], [], 0
    for a, b in zip(starts, ends, strict=True):
        cum.append(total)
        total += b - a
        cum_end.append(total)
    return starts, ends, cum, cum_end


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--reps", type=int, default=7)
    args = ap.parse_args()

    cal = calendar_for(load_policy(), "global", ZONE)
    tz = cal.tz
    lo = int(datetime(2026, 1, 1, tzinfo=tz).timestamp())
    hi = int(datetime(2028, 1, 1, tzinfo=tz).timestamp())
    epochs = np.random.default_rng(20260704).integers(lo, hi, size=args.n, dtype=np.int64)
    ints = [int(x) for x in epochs]
    dts = [datetime.fromtimestamp(s, tz) for s in ints]
    naive = [d.replace(tzinfo=None) for d in dts]
    floats = [d.timestamp() for d in dts]
    secs = 8 * 3600

    starts, ends, cum, cum_end = build_table(cal.spec, tz, 2024, 2029)
    idx = [bisect_right(ends, s) for s in ints]
    targets = [cum[i] + (s - starts[i] if s > starts[i] else 0) + secs
               for s, i in zip(ints, idx, strict=True)]
    results = [int(cal.add(d, secs).timestamp()) for d in dts]
    check = [starts[j] + t - cum[j] for t, j in
             ((t, bisect_left(cum_end, t)) for t in targets)]
    if check != results:
        print("note: the local table disagrees with cal.add on some starts")
    js = [bisect_left(cum_end, t) for t in targets]

    def add_epoch(s, seconds):
        i = bisect_right(ends, s)
        a = starts[i]
        target = cum[i] + (s - a if s > a else 0) + seconds
        j = bisect_left(cum_end, target)
        return starts[j] + target - cum[j]

    def add_aware(dt, seconds):
        return datetime.fromtimestamp(add_epoch(int(dt.timestamp()), seconds), tz)

    class Obj:
        def m(self, dt, seconds):
            return dt

    obj = Obj()
    loop = DayLoop(cal.spec.hours, holidays_lib.country_holidays(
        "US", years=range(2025, 2031)).keys())
    utc = [datetime.fromtimestamp(s, UTC) for s in ints]
    epoch_local = datetime(1970, 1, 1)
    epoch_utc = datetime(1970, 1, 1, tzinfo=UTC)

    env = dict(globals(), **locals())

    def per_call(stmt: str, data: str) -> float:
        t = timeit.Timer(f"for x in {data}: {stmt}", globals=env)
        return min(t.repeat(repeat=args.reps, number=1)) / args.n * 1e9

    empty = per_call("pass", "dts")

    def piece(stmt: str, data: str = "dts") -> float:
        return max(per_call(stmt, data) - empty, 0.0)

    total = piece("cal.add(x, secs)")
    rows = [
        ("cal.add(aware, 8h) -- the whole call", total),
        ("  method call with 2 args (empty method)", piece("obj.m(x, secs)")),
        ("  x.tzinfo is None; x.microsecond; seconds <= 0", piece(
            "x.tzinfo is None; x.microsecond; secs <= 0")),
        ("  x.timestamp()  (zoneinfo-aware)", piece("x.timestamp()")),
        ("  int(float)", piece("int(x)", "floats")),
        ("  bisect_right(ends, s)", piece("bisect_right(ends, x)", "ints")),
        ("  index + arithmetic for the target", piece(
            "a = starts[1000]; t = cum[1000] + (x - a if x > a else 0) + secs", "ints")),
        ("  bisect_left(cum_end, target)", piece("bisect_left(cum_end, x)", "targets")),
        ("  starts[j] + target - cum[j]", piece("starts[x] + 5 - cum[x]", "js")),
        ("  datetime.fromtimestamp(epoch, zoneinfo)", piece(
            "datetime.fromtimestamp(x, tz)", "results")),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"Per-call profile of slpdesk cal.add, {args.n:,} random starts, +8h, "
          f"best of {args.reps} (ns per call, empty loop of {empty:.0f} ns subtracted)\n")
    for name, ns in rows:
        print(f"{name.ljust(width)}  {ns:7.0f} ns")
    parts = sum(ns for _, ns in rows[1:])
    print(f"{'  sum of the pieces'.ljust(width)}  {parts:7.0f} ns")

    print("\nFloors and alternatives (same starts, ns per call)\n")
    alt = [
        ("inline table add, epoch int in/out (no datetime)", piece("add_epoch(x, secs)", "ints")),
        ("inline table add, aware in/out (timestamp + fromtimestamp)",
         piece("add_aware(x, secs)")),
        ("day loop (bench/dayloop.py), naive local in/out", piece("loop.add(x, secs)", "naive")),
        ("x.timestamp() on a UTC-aware datetime", piece("x.timestamp()", "utc")),
        ("td = x - EPOCH_UTC; td.days * 86400 + td.seconds", piece(
            "td = x - epoch_utc; td.days * 86400 + td.seconds")),
        ("x.utcoffset() (zoneinfo)", piece("x.utcoffset()")),
        ("(x - epoch_local) of naive wall time -> timedelta", piece("x - epoch_local", "naive")),
        ("x.toordinal()", piece("x.toordinal()")),
        ("x.hour*3600 + x.minute*60 + x.second", piece("x.hour*3600 + x.minute*60 + x.second")),
        ("datetime.fromtimestamp(epoch, UTC)", piece("datetime.fromtimestamp(x, UTC)", "results")),
        ("datetime.fromtimestamp(epoch, UTC).astimezone(zoneinfo)", piece(
            "datetime.fromtimestamp(x, UTC).astimezone(tz)", "results")),
        ("bisect_left(cum_end, target, i, i + 8) (narrowed range)", piece(
            "bisect_left(cum_end, x, 1000, 1008)", "targets")),
        ("timedelta(seconds=n)", piece("timedelta(seconds=x)", "js")),
        ("aware base + timedelta(seconds=n)", piece(
            "dts[0] + timedelta(seconds=x)", "js")),
    ]
    width = max(len(r[0]) for r in alt)
    for name, ns in alt:
        print(f"{name.ljust(width)}  {ns:7.0f} ns")
    return 0


if __name__ == "__main__":
    sys.exit(main())
