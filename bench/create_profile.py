"""Where opening a case goes: ``receive_case`` on a kept desk of N cases.

    .venv/bin/python bench/create_profile.py --data-dir DIR --load [--cases 100000]
    .venv/bin/python bench/create_profile.py --data-dir DIR [--rounds 50] [--queries] [--profile]

``--load`` migrates and loads the desk once (PostgreSQL: ``SLPDESK_DATABASE_URL``
naming an empty database); without it, the kept desk is reused and ``receive_case``
is called ``--rounds`` times as ``bench_desk``'s ``create_case`` calls it, printing
the median wall and CPU milliseconds, the queries of one call (``--queries``: each
with its median wall and CPU milliseconds over 20 more calls) and a CPU profile of
the calls (``--profile``). ``--peer-fifo DIR``: a ``desk_peer.py`` already loaded,
started with stdin and stdout on the named pipes ``DIR/in`` and ``DIR/out`` (its
first line read off), whose ``create_case`` is timed interleaved with ours. Not a
test.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import statistics
import sys
import time
from datetime import UTC, datetime

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--load", action="store_true")
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--queries", action="store_true")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--peer-fifo", help="a directory whose fifos 'in' and 'out' are a "
                        "loaded desk_peer.py's stdin and stdout: its create_case is timed "
                        "too, interleaved")
    args = parser.parse_args()
    os.makedirs(args.data_dir, exist_ok=True)
    from bench_desk import on_fresh_desk

    engine = "postgresql" if os.environ.get("SLPDESK_DATABASE_URL", "").startswith(
        "postgres") else "sqlite"
    return on_fresh_desk("create profile", engine, lambda: run(args), data_dir=args.data_dir)


def run(args) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from slpdesk.desk import services
    from slpdesk.desk.models import Case, Site, User

    if args.load:
        from desk_load import load

        data = load(args.cases, datetime.now(UTC).replace(microsecond=0))
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE" if connection.vendor == "sqlite" else "VACUUM (ANALYZE)")
        print(f"loaded {data['cases']:,} cases")
        return 0
    sites = list(Site.objects.select_related("organisation").order_by("pk"))
    contacts = list(User.objects.filter(username__startswith="contact").order_by("username"))
    rng = random.Random(5)

    def create():
        k = rng.randrange(len(sites))
        services.receive_case(sites[k], contact=contacts[k], channel="portal",
                              proposed_priority="P3", title="Bench case", actor=contacts[k],
                              now=datetime.now(UTC))

    for _ in range(3):  # warm-up: imports, the policy, the calendars
        create()
    peer = None
    if args.peer_fifo:
        import json

        # (open for the whole run, as the peer process is)
        ask = open(os.path.join(args.peer_fifo, "in"), "w")  # noqa: SIM115
        answer = open(os.path.join(args.peer_fifo, "out"))  # noqa: SIM115

        def peer():
            ask.write("create_case\n")
            ask.flush()
            return json.loads(answer.readline())["ms"]
    peer_walls = []
    walls, cpus = [], []
    profiler = cProfile.Profile(time.process_time) if args.profile else None  # CPU, not waits
    for round_ in range(args.rounds):
        if peer and round_ % 2:
            peer_walls.append(peer())
        cpu, start = time.process_time(), time.perf_counter()
        if profiler:
            profiler.enable()
        create()
        if profiler:
            profiler.disable()
        walls.append((time.perf_counter() - start) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
        if peer and not round_ % 2:
            peer_walls.append(peer())
    print(f"{connection.vendor}: create_case wall {statistics.median(walls):.2f} ms, "
          f"cpu {statistics.median(cpus):.2f} ms (median of {args.rounds}; "
          f"{Case.objects.count():,} cases; load {os.getloadavg()[0]:.1f})")
    if peer_walls:
        ratio = statistics.median(peer_walls) / statistics.median(walls)
        print(f"django-helpdesk create_case wall {statistics.median(peer_walls):.2f} ms "
              f"(median, interleaved): {ratio:.2f}x")
    with CaptureQueriesContext(connection) as ctx:
        create()
    control = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK")
    real = [q for q in ctx.captured_queries if not q["sql"].upper().startswith(control)]
    print(f"{len(real)} queries ({len(ctx.captured_queries)} statements with control)")
    if args.queries:
        spent: dict[int, list[float]] = {}

        cpu_spent: dict[int, list[float]] = {}

        def clock(execute, sql, params, many, context):
            start, cpu = time.perf_counter(), time.process_time()
            try:
                return execute(sql, params, many, context)
            finally:
                spent.setdefault(len(order), []).append(time.perf_counter() - start)
                cpu_spent.setdefault(len(order), []).append(time.process_time() - cpu)
                order.append(sql)
        texts = []
        for _ in range(20):
            order: list[str] = []
            with connection.execute_wrapper(clock):
                create()
            texts = texts or order
        # (commit is not an execute: timed apart, as the wall time less the statements)
        for n, sql in enumerate(texts):
            print(f"  {statistics.median(spent[n]) * 1000:6.3f} ms "
                  f"(cpu {statistics.median(cpu_spent[n]) * 1000:5.3f})  {sql[:110]}")
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(70)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    return 0


if __name__ == "__main__":
    sys.exit(main())
