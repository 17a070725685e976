"""Where a queue page's time goes, on a desk already built by ``bench_queues.py --data-dir``.

    .venv/bin/python bench/queue_profile.py --data-dir DIR [--engine E] [--runs 5]
        [--explain] [URL ...]

For each queue page (all of :func:`bench_queues.urls` unless URLs are given):
the median wall and CPU milliseconds of the request, of each of its SQL
queries run alone (wall), and the rest (Python and the template); with
``--explain`` the plan of each query that takes more than a millisecond.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--analyze", action="store_true", help="ANALYZE (+ PRAGMA optimize) first")
    parser.add_argument("url", nargs="*")
    args = parser.parse_args()
    from bench_desk import on_fresh_desk

    return on_fresh_desk("queue profile", args.engine, lambda: run(args), args.data_dir)


def run(args) -> int:
    from django.db import connection
    from django.test import Client

    from bench_queues import urls
    from slpdesk.desk.models import Organisation, User

    if args.analyze:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE" if connection.vendor == "sqlite" else "VACUUM (ANALYZE)")
            if connection.vendor == "sqlite":
                cursor.execute("PRAGMA optimize")
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(User.objects.get(username="agent00"))
    org = Organisation.objects.order_by("pk").values_list("pk", flat=True)[5]
    pages = args.url or urls(org)
    control = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE", "ROLLBACK")
    print(f"{'page':<66} {'wall':>6} {'cpu':>6} {'sql':>6} {'q':>3}  slowest queries (ms)")
    for url in pages:
        captured = []

        def keep(execute, sql, params, many, context, captured=captured):
            captured.append((sql, params))
            return execute(sql, params, many, context)
        with connection.execute_wrapper(keep):
            assert client.get(url).status_code == 200
        walls, cpus = [], []
        for _ in range(args.runs):
            cpu = time.process_time()
            start = time.perf_counter()
            client.get(url)
            walls.append((time.perf_counter() - start) * 1000)
            cpus.append((time.process_time() - cpu) * 1000)
        queries = [(sql, params) for sql, params in captured
                   if not sql.upper().startswith(control)]
        selects = [(sql, params) for sql, params in queries
                   if sql.lstrip().upper().startswith("SELECT")]
        each = []
        with connection.cursor() as cursor:
            for sql, params in selects:
                times = []
                for _ in range(args.runs):
                    start = time.perf_counter()
                    cursor.execute(sql, params)
                    cursor.fetchall()
                    times.append((time.perf_counter() - start) * 1000)
                each.append((statistics.median(times), sql, params))
        sql_ms = sum(e[0] for e in each)
        top = sorted(each, key=lambda e: -e[0])[:3]
        print(f"{url.removeprefix('/console/?'):<66} {statistics.median(walls):>6.1f} "
              f"{statistics.median(cpus):>6.1f} {sql_ms:>6.1f} {len(queries):>3}  "
              + " ".join(f"{e[0]:.1f}" for e in top), flush=True)
        if args.explain:
            for ms, sql, params in top:
                if ms < 1:
                    continue
                print(f"    {ms:.1f} ms: {sql[:700]} {params}")
                with connection.cursor() as cursor:
                    if connection.vendor == "sqlite":
                        cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
                        lines = [f"{r[0]}/{r[1]} {r[3]}" for r in cursor.fetchall()]
                    else:
                        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
                        lines = [r[0] for r in cursor.fetchall()]
                for line in lines:
                    print(f"      {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
