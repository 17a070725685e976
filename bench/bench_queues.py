"""Every queue view of the console, at size: ``bench/bench_queues.py [--cases N] [--engine E]``.

Times the first page of every view the console offers (needs me, mine,
unassigned, all, escalated), with each sort (next due, priority, last change,
received), each status filter and each other filter (a priority, an
organisation, a region), with Django's test client as a supervisor, and prints
the median milliseconds and the number of SQL queries of each, the slowest
first, then one line ``PASS``/``MISSED`` against the target (under 100 ms at
100,000 cases, under 150 ms at 1,000,000 on PostgreSQL). Never fails on a time.

The desk: :mod:`desk_load` builds up to 100,000 cases of the last year (the
bench's shape, SLA columns written by ``services.store_sla``); a larger N adds
the years before it as closed history (:func:`add_history`): copies of the
year's resolved and closed cases moved back one year per copy, rows of the
cases table only (their SLA columns are those of the case copied, moved by the
same time; the queue reads nothing else), so the open cases stay a year's
worth, as at a vendor that has used the desk for a decade.

    .venv/bin/python bench/bench_queues.py --cases 1000000 --engine postgresql
    (SLPDESK_DATABASE_URL names an empty PostgreSQL database)

:func:`time_views` is also called by ``./scripts/bench desk`` on its own desk.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

SORTS = ("", "priority", "updated", "received")
VIEWS = ("focus", "mine", "unassigned", "all", "escalated")
#: Rows of the queue a year holds at most; more are history (:func:`add_history`).
YEAR = 100_000


def urls(organisation: int) -> list[str]:
    """The console's queue pages: every view x sort, over the open cases and any status,
    and every view with each other filter."""
    out = []
    for view in VIEWS:
        for sort in SORTS:
            for status in ("open", "any"):
                out.append(f"/console/?view={view}&status={status}&sort={sort}")
        for status in ("new", "triaged", "waiting", "resolved", "closed"):
            out.append(f"/console/?view={view}&status={status}")
        for extra in ("priority=P2", f"organisation={organisation}", "region=uk",
                      "priority=P1&region=global"):
            out.append(f"/console/?view={view}&status=open&{extra}")
    return out


def time_views(client, organisation: int, runs: int = 5) -> list[tuple[str, float, int]]:
    """(url, median ms, queries) of every queue page, after one untimed request each."""
    from django.db import connection

    out = []
    for url in urls(organisation):
        queries = []

        def count(execute, sql, params, many, context, queries=queries):
            queries.append(sql)
            return execute(sql, params, many, context)
        with connection.execute_wrapper(count):
            response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            client.get(url)
            times.append((time.perf_counter() - start) * 1000)
        control = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE", "ROLLBACK")
        out.append((url, statistics.median(times),
                    sum(not q.upper().startswith(control) for q in queries)))
    return out


def print_views(results, limit_ms: float, cases: int) -> None:
    queries = {n for _url, _ms, n in results}
    print(f"{'queue page':<72} {'median ms':>9} {'queries':>7}")
    for url, ms, n in sorted(results, key=lambda r: -r[1]):
        print(f"{url:<72} {ms:>9.1f} {n:>7}")
    worst = max(ms for _url, ms, _n in results)
    verdict = "PASS" if worst < limit_ms else "MISSED"
    print(f"{verdict}: every queue view ({len(results)} pages) under {limit_ms:.0f} ms at "
          f"{cases:,} cases: slowest {worst:.0f} ms; queries per page "
          f"{'/'.join(str(q) for q in sorted(queries))}")


def add_history(target: int) -> int:
    """Grow the desk to ``target`` cases with the years before: copies of its resolved
    and closed cases (cases table only), copy k moved back k years. Returns how many."""
    from django.db import connection

    from slpdesk.desk.models import Case

    table = Case._meta.db_table
    columns = [f.column for f in Case._meta.concrete_fields if f.column not in ("id", "number")]
    times = [f.column for f in Case._meta.concrete_fields  # queue_due: QUEUE_LAST stays
             if f.get_internal_type() == "DateTimeField" and f.column != "queue_due"]
    closed = list(Case.objects.filter(status__in=("resolved", "closed")).order_by("pk")
                  .values_list("pk", flat=True))
    start = Case.objects.count()
    need = target - start
    qn = connection.ops.quote_name
    pg = connection.vendor == "postgresql"
    added, year = 0, 0
    while added < need:
        year += 1
        take = closed[:need - added]
        select = ", ".join(_moved(qn(c), year, pg) if c in times else qn(c) for c in columns)
        number = ("'SLP-H' || " + (f"lpad(({year} * 1000000 + id)::text, 9, '0')" if pg
                                   else f"printf('%09d', {year} * 1000000 + id)"))
        with connection.cursor() as cursor:
            for k in range(0, len(take), 50_000):
                chunk = take[k:k + 50_000]
                cursor.execute(
                    f"INSERT INTO {qn(table)} ({qn('number')}, "
                    f"{', '.join(qn(c) for c in columns)}) SELECT {number}, {select} "
                    f"FROM {qn(table)} WHERE id BETWEEN %s AND %s AND status IN "
                    f"('resolved', 'closed')", [chunk[0], chunk[-1]])
        added += len(take)
    return added


def _moved(column: str, years: int, pg: bool) -> str:
    """SQL of a time column moved back ``years`` years (NULL stays NULL)."""
    if pg:
        return f"{column} - interval '{years} year'"
    return f"strftime('%Y-%m-%d %H:%M:%f', {column}, '-{years} years')"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)  # reuse a loaded desk
    args = parser.parse_args()
    from bench_desk import on_fresh_desk

    return on_fresh_desk("bench queues", args.engine, lambda: run(args), args.data_dir)


def run(args) -> int:
    import django
    from django.db import connection
    from django.test import Client

    from desk_load import load
    from slpdesk.desk.models import Case, Organisation, User

    now = datetime.now(UTC).replace(microsecond=0)
    start = time.perf_counter()
    if not Case.objects.exists():
        load(min(args.cases, YEAR), now)
        print(f"{min(args.cases, YEAR):,} cases of a year loaded in "
              f"{time.perf_counter() - start:.0f} s", flush=True)
    if args.cases > Case.objects.count():
        start = time.perf_counter()
        added = add_history(args.cases)
        print(f"{added:,} closed cases of the years before added in "
              f"{time.perf_counter() - start:.0f} s", flush=True)
    with connection.cursor() as cursor:
        # (PostgreSQL: VACUUM too, as autovacuum would have after the bulk load: the
        # loader's updates leave a dead row per case, and an index-only scan, as of
        # the queue's counts, needs the visibility map)
        cursor.execute("ANALYZE" if connection.vendor == "sqlite" else "VACUUM (ANALYZE)")
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA optimize")
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(User.objects.get(username="agent00"))  # "mine" has cases
    cases = Case.objects.count()
    print(f"slpdesk queue views: Django {django.get_version()}, {connection.vendor}, "
          f"Python {sys.version.split()[0]}, {cases:,} cases "
          f"({Case.objects.open().count():,} open), load average "
          f"{os.getloadavg()[0]:.1f}")
    org = Organisation.objects.order_by("pk").values_list("pk", flat=True)[5]
    results = time_views(client, org, args.runs)
    print_views(results, 150 if cases > 2 * YEAR else 100, cases)
    return 0


if __name__ == "__main__":
    sys.exit(main())
