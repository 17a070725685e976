"""The worker's recompute after a calendar change, timed on a kept desk (issue 14 item 2).

``.venv/bin/python bench/recompute_kept.py --engine E --data-dir D [--cases N] [--rounds R]``
(PostgreSQL: ``SLPDESK_DATABASE_URL`` names the kept database): loads N cases the
first time (into an empty database / data directory, kept afterwards), runs one
untimed round (it fires the loaded history's SLA moments), then times R rounds as
``bench_desk``'s ``recompute_30k`` does, per 30,000 open cases: wall and this
process's CPU, and on PostgreSQL the rows of cases updated, of which heap-only (no
index entry), and the CPU of the server's backend (read from /proc: the server must
run on this machine)."""
import argparse
import os
import sys
import time
from datetime import UTC, datetime

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_desk import on_fresh_desk  # noqa: E402


def body(args):
    import logging

    logging.getLogger("slpdesk.worker").setLevel(logging.WARNING)
    from django.db import connection

    from desk_load import load
    from slpdesk.desk import services
    from slpdesk.desk.models import Case
    from slpdesk.worker.steps import Context, handle_one_recompute_batch

    if not Case.objects.exists():
        now = datetime.now(UTC).replace(microsecond=0)
        t = time.perf_counter()
        data = load(args.cases, now, seed=20261129)
        print(f"loaded {data['cases']} ({data['open']} open) in {time.perf_counter() - t:.0f} s")
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE" if connection.vendor == "sqlite" else "VACUUM (ANALYZE)")
    quiet = Context()
    open_cases = Case.objects.open().count()

    def recompute():
        now = datetime.now(UTC)
        for calendar in ("global", "uk"):
            services.request_recompute(calendar, now)
        at = datetime.now(UTC)
        while handle_one_recompute_batch(at, quiet):
            pass

    def stats():
        """(rows updated, of which heap-only, server backend CPU s) on PostgreSQL."""
        if connection.vendor != "postgresql":
            return ()
        with connection.cursor() as c:
            c.execute("SELECT pg_stat_clear_snapshot()")
            c.execute("SELECT n_tup_upd, n_tup_hot_upd, pg_backend_pid() FROM "
                      "pg_stat_user_tables WHERE relname = %s", [Case._meta.db_table])
            upd, hot, pid = c.fetchone()
        with open(f"/proc/{pid}/stat") as f:  # the server runs on this machine
            fields = f.read().rsplit(")", 1)[1].split()
        return upd, hot, round((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), 2)

    if not args.no_first:
        recompute()
    scale = 30_000 / max(open_cases, 1)
    for _ in range(args.rounds):
        s0 = stats()
        cpu, wall = time.process_time(), time.perf_counter()
        recompute()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        time.sleep(1.5)  # (the server reports its table statistics when idle)
        s1 = stats()
        server = ""
        if s0:
            server = (f" updated {s1[0] - s0[0]} hot {s1[1] - s0[1]} server cpu "
                      f"{(s1[2] - s0[2]) * scale:.2f} s")
        print(f"recompute_30k wall {wall * scale:.2f} s cpu {cpu * scale:.2f} s "
              f"({open_cases} open){server}", flush=True)
    return 0


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--engine", default="sqlite")
    p.add_argument("--data-dir", required=True)
    p.add_argument("--cases", type=int, default=100_000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--no-first", action="store_true")
    a = p.parse_args()
    os.makedirs(a.data_dir, exist_ok=True)
    sys.exit(on_fresh_desk("bench desk", a.engine, lambda: body(a), data_dir=a.data_dir))
