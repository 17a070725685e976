"""``slpdesk sla audit`` on 100,000 cases: cases checked per second.

Creates a fresh SQLite database with the what-if simulator's year of cases
(``bench_simulate.build``: 100,000 cases with realistic event logs at sites in
seven zones, both calendars), stores each case's SLA columns as a replay gives
them (the audit's own differences, written with ``bulk_update``), then times
:func:`slpdesk.desk.audit.audit` over every case: each replayed from its events
at the moment its columns were written and every column compared. Prints the
time and cases per second, and how many cases differ (0 expected).

    .venv/bin/python bench/bench_audit.py [--cases 100000] [--runs 1] [--profile]

Not a test: nothing here asserts a time. One core: the audit is one Python thread.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime

from bench_simulate import build, in_fresh_database


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=1, help="timed runs (best is shown)")
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    parser.add_argument("--profile", action="store_true", help="profile one run")
    args = parser.parse_args()
    return in_fresh_database("audit", args.keep, lambda: run(args))


def store_columns(now: datetime) -> None:
    """Write every case's SLA columns as the audit replays them (as refresh_sla would,
    but in bulk)."""
    from django.db import connection

    from slpdesk.desk import audit
    from slpdesk.desk.models import Case

    reader = audit._Reader()
    last = 0
    while cases := list(Case.objects.only(*audit.CASE_FIELDS).order_by("pk")
                        .filter(pk__gt=last)[:audit.BATCH]):
        last = cases[-1].pk
        by_id = {c.pk: c for c in cases}
        fields: set[str] = set()
        # Twice: the first pass (no sla_computed_at yet) gives the times, the second
        # the states and next SLA events as of sla_computed_at.
        for _ in range(2):
            for found in reader.check(cases, now):
                for d in found.differences:
                    setattr(by_id[found.case_id], d.field, d.replayed)
                    fields.add(d.field)
        if fields:  # one executemany (bulk_update's CASE expressions are slow)
            columns = [Case._meta.get_field(f) for f in sorted(fields)]
            sql = (f"UPDATE {Case._meta.db_table} SET "
                   + ", ".join(f"{f.column} = %s" for f in columns) + " WHERE id = %s")
            with connection.cursor() as cur:
                cur.executemany(sql, [[f.get_db_prep_value(getattr(c, f.attname), connection)
                                       for f in columns] + [c.pk] for c in cases])


def run(args) -> int:
    import django
    from django.db import connection

    from slpdesk.desk import audit
    from slpdesk.desk.models import Case

    now = datetime.now(UTC).replace(microsecond=0)
    t0 = time.perf_counter()
    n_events = build(args.cases, now)
    print(f"slpdesk audit benchmark: Django {django.get_version()}, SQLite "
          f"{connection.Database.sqlite_version}, Python {sys.version.split()[0]}")
    print(f"{Case.objects.count():,} cases with {n_events:,} events created in "
          f"{time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    store_columns(now)
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    print(f"SLA columns stored in {time.perf_counter() - t0:.1f} s")

    best = best_cpu = None
    for run_no in range(args.runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = audit.audit(now)
        took, cpu = time.perf_counter() - start, time.process_time() - start_cpu
        best = took if best is None else min(best, took)
        best_cpu = cpu if best_cpu is None else min(best_cpu, cpu)
        print(f"run {run_no + 1}: checked {result.checked:,} cases in {took:.1f} s "
              f"({cpu:.1f} s of CPU): {result.differ} differ")
    if args.profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.runcall(audit.audit, now)
        pstats.Stats(prof).sort_stats("tottime").print_stats(20)
    print()
    print(f"sla audit, {args.cases:,} cases: {best:.1f} s, {args.cases / best:,.0f} cases "
          f"per second ({args.cases / best_cpu:,.0f} per second of CPU time)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
