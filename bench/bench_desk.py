"""The desk at a big vendor's size: ``./scripts/bench desk [--cases N] [--engine E]``.

Builds N cases (default 100,000) received over the last year with the bulk
loader (:mod:`desk_load`: realistic event logs and messages, SLA columns and
facts written by the desk's own ``services.store_sla``, checked on a sample by
replaying case by case), then times each operation over at least 20 rounds
with Django's test client and prints a table, then one line per operation::

    op=NAME slpdesk_ms=MEDIAN peer_ms=MEDIAN speedup=PEER_OVER_SLPDESK

``queue_all`` (every case, first page), ``queue_open_by_due`` (cases not yet
resolved, due soonest first), ``queue_by_priority`` (the same, P2 only),
``case_page`` (a case with its messages and timeline), ``create_case`` (the
service path: SLA and mail), ``report_year`` (the compliance report of the
year, served by its own process, whose peak memory is printed),
``recompute_30k`` (a calendar change: every open case recomputed by the
worker's batches, given per 30,000 cases) and ``simulate_year`` (the what-if
simulator over the year, on every core). The targets print as PASS or MISSED;
the run never fails on them.

With ``--peer`` (the default) the same shape is loaded into django-helpdesk in
its own process (:mod:`desk_peer`, settings :mod:`peer_settings`: a SQLite file, or
the database ``PEER_DATABASE_URL`` names, by default ``SLPDESK_DATABASE_URL``'s
with ``_peer`` appended, which must exist and be empty) and its equivalents of the
first five operations are timed over a pipe, interleaved: each round runs every
operation on both desks, the first desk alternating from round to round. The
other operations have no peer equivalent (``peer_ms=-``). ``--no-peer`` times
slpdesk alone.

``--engine postgresql`` runs on the empty database ``SLPDESK_DATABASE_URL`` names
(and the peer on ``PEER_DATABASE_URL``'s); without it, on two scratch databases it
creates on the local server (``SLPDESK_BENCH_POSTGRES``, by default
``postgres://postgres@127.0.0.1:5432/postgres``) and drops when it ends.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta

HERE = os.path.dirname(os.path.abspath(__file__))
TARGETS = {  # op -> (ms, what)
    "queue_all": (100, "under 100 ms"),
    "queue_open_by_due": (100, "under 100 ms"),
    "queue_by_priority": (100, "under 100 ms"),
    "report_year": (1000, "under 1 s"),
    "recompute_30k": (15000, "under 15 s (2,000 cases/s)"),
    "simulate_year": (5000, "under 5 s"),
}
SEED = 20261129  # desk_load's, for both desks
OPS = ("queue_all", "queue_open_by_due", "queue_by_priority", "case_page", "create_case",
       "search", "report_year", "recompute_30k", "simulate_year")


def main() -> int:
    parser = argparse.ArgumentParser(prog="./scripts/bench desk",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--peer", action=argparse.BooleanOptionalAction, default=True,
                        help="also time django-helpdesk, interleaved (default)")
    parser.add_argument("--rounds", type=int, default=20, help=argparse.SUPPRESS)
    parser.add_argument("--serve-report", help=argparse.SUPPRESS)  # the report's process
    args = parser.parse_args()
    if args.serve_report:
        if not use_engine("bench desk", args.engine):
            return 2
        return serve_report(json.loads(args.serve_report))
    return on_fresh_desk("bench desk", args.engine, lambda: run(args))


def use_engine(name: str, engine: str) -> bool:
    """Point slpdesk at ``engine`` (PostgreSQL: SLPDESK_DATABASE_URL must name it)."""
    if engine == "sqlite":
        os.environ.pop("SLPDESK_DATABASE_URL", None)
    elif not os.environ.get("SLPDESK_DATABASE_URL", "").startswith("postgres"):
        print(f"{name}: --engine postgresql needs SLPDESK_DATABASE_URL=postgres://…",
              file=sys.stderr)
        return False
    os.environ.pop("DJANGO_SETTINGS_MODULE", None)
    return True


def on_fresh_desk(name: str, engine: str, body, data_dir: str | None = None) -> int:
    """On ``engine`` and a data directory (a temporary one, removed afterwards, unless
    ``data_dir`` is given), migrate and return ``body()``. Shared by the desk and the
    queue benchmarks."""
    scratch = None
    if engine == "postgresql" and not os.environ.get("SLPDESK_DATABASE_URL"):
        scratch = scratch_databases(f"slpdesk_{name.replace(' ', '_')}_{os.getpid()}")
        if scratch is None:
            return 2
    if not use_engine(name, engine):
        return 2
    directory = data_dir or tempfile.mkdtemp(prefix=f"slpdesk-{name.replace(' ', '-')}-")
    os.environ["SLPDESK_DATA_DIR"] = directory
    try:
        from slpdesk import server

        server.setup()
        from django.core.management import call_command

        call_command("migrate", interactive=False, verbosity=0)
        return body()
    finally:
        if not data_dir:
            shutil.rmtree(directory, ignore_errors=True)
        if scratch is not None:
            from django.db import connections

            connections.close_all()
            scratch()


def scratch_databases(name: str):
    """Create the empty databases ``name`` and ``name``_peer on the local PostgreSQL
    server, point SLPDESK_DATABASE_URL and PEER_DATABASE_URL at them, and return the
    function that drops them (None, with one line on stderr, when there is no server)."""
    import psycopg

    server = os.environ.get("SLPDESK_BENCH_POSTGRES",
                            "postgres://postgres@127.0.0.1:5432/postgres")
    names = (name, f"{name}_peer")
    try:
        with psycopg.connect(server, autocommit=True, connect_timeout=5) as admin:
            for db in names:
                admin.execute(f'DROP DATABASE IF EXISTS "{db}"')
                admin.execute(f'CREATE DATABASE "{db}"')
    except psycopg.Error as exc:
        print(f"--engine postgresql: no database server at {server} "
              f"(set SLPDESK_DATABASE_URL or SLPDESK_BENCH_POSTGRES): "
              f"{str(exc).strip().splitlines()[0]}", file=sys.stderr)
        return None
    base = server.rsplit("/", 1)[0]
    os.environ["SLPDESK_DATABASE_URL"] = f"{base}/{names[0]}"
    os.environ.setdefault("PEER_DATABASE_URL", f"{base}/{names[1]}")

    def drop() -> None:
        with psycopg.connect(server, autocommit=True) as admin:
            for db in names:
                admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        os.environ.pop("SLPDESK_DATABASE_URL", None)
    return drop


def cpu_seconds() -> float:
    """CPU time of this process and of its children that ended (user + system)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


#: op -> CPU milliseconds of this process per call (the table's cpu column: on a shared
#: machine the wall time includes the time other processes held the cores).
CPU: dict[str, list[float]] = {}


def timed(fn, op: str = "") -> float:
    cpu = time.process_time()
    start = time.perf_counter()
    fn()
    wall = (time.perf_counter() - start) * 1000
    CPU.setdefault(op, []).append((time.process_time() - cpu) * 1000)
    return wall


def run(args) -> int:
    import django
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from bench_queues import print_views, time_views
    from desk_load import check_sample, load
    from slpdesk.desk import services
    from slpdesk.desk.models import Case, User
    from slpdesk.reports.data import Period, staff_cases
    from slpdesk.reports.simulate import parse_draft, simulate
    from slpdesk.sla import get_zone, shipped_policy_text
    from slpdesk.worker.steps import Context, handle_one_recompute_batch

    if Case.objects.exists():
        print("bench desk: the database is not empty", file=sys.stderr)
        return 2
    now = datetime.now(UTC).replace(microsecond=0)
    load_start = os.getloadavg()[0]
    start = time.perf_counter()
    data = load(args.cases, now, seed=SEED)
    print(f"slpdesk desk benchmark: Django {django.get_version()}, {connection.vendor}, "
          f"Python {sys.version.split()[0]}, {len(os.sched_getaffinity(0))} cores")
    print(f"{data['cases']:,} cases ({data['open']:,} open), {data['events']:,} events, "
          f"{data['messages']:,} messages loaded in {time.perf_counter() - start:.0f} s")
    problems = check_sample(now, size=200)
    print(f"sample of 200 replayed case by case: "
          f"{'every SLA column equal' if not problems else problems[:3]}")
    with connection.cursor() as cursor:
        # (PostgreSQL: VACUUM too, as autovacuum would have after the bulk load: the
        # loader's updates leave a dead row per case, and an index-only scan, as of
        # the queue's counts, needs the visibility map)
        cursor.execute("ANALYZE" if connection.vendor == "sqlite" else "VACUUM (ANALYZE)")
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA optimize")

    lead = User.objects.create_user("bench-lead", role=User.Role.SUPERVISOR)
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(lead)
    rng = random.Random(5)
    numbers = list(Case.objects.order_by("?").values_list("number", flat=True)[:200])
    sites = data["sites"]
    contacts = data["contacts"]

    def get(url: str):
        def go():
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
        return go

    def create():
        k = rng.randrange(len(sites))
        services.receive_case(sites[k], contact=contacts[k], channel="portal",
                              proposed_priority="P3", title="Bench case", actor=contacts[k],
                              now=datetime.now(UTC))

    web = {
        "queue_all": get("/console/?view=all&status=any"),
        "queue_open_by_due": get("/console/?view=all&status=open"),
        "queue_by_priority": get("/console/?view=all&status=open&priority=P2"),
        "case_page": lambda: get(f"/console/cases/{rng.choice(numbers)}/")(),
        "create_case": create,
        # the words of one case's title, over every case (the header's search box)
        "search": lambda: get(f"/console/?q=Case+{rng.randrange(1, args.cases + 1)}")(),
    }
    times: dict[str, list[float]] = {op: [] for op in OPS}
    peer_times: dict[str, list[float]] = {op: [] for op in web}
    peer = start_peer(args, now, len(sites), data_dir=os.environ["SLPDESK_DATA_DIR"]) \
        if args.peer else None
    try:
        for round_ in range(args.rounds):
            for op, fn in web.items():
                if peer is None:
                    times[op].append(timed(fn, op))
                elif round_ % 2 == 0:
                    times[op].append(timed(fn, op))
                    peer_times[op].append(peer.time(op))
                else:
                    peer_times[op].append(peer.time(op))
                    times[op].append(timed(fn, op))
    finally:
        if peer is not None:
            peer.close()

    # Every queue view, on the desk as the timed operations above found it: the
    # recompute rounds below rewrite every open case four times, and with no
    # autovacuum (off on this machine's server) the queue's counts would then read
    # the table's pages as well as the index (an index-only scan needs the
    # visibility map that the vacuum after a bulk change sets).
    views = time_views(client, data["sites"][5].organisation_id, runs=3)
    template = [template_ms(client, "/console/?view=all&status=any") for _ in range(args.rounds)]

    year = (now - timedelta(days=365)).date(), now.date()
    report = subprocess.run(
        [sys.executable, os.path.join(HERE, "bench_desk.py"), "--engine", args.engine,
         "--serve-report", json.dumps({"data_dir": os.environ["SLPDESK_DATA_DIR"],
                                       "from": year[0].isoformat(), "to": year[1].isoformat(),
                                       "rounds": args.rounds})],
        capture_output=True, text=True, check=False)
    if report.returncode != 0:
        print(report.stderr, file=sys.stderr)
        return 1
    served = json.loads(report.stdout.strip().splitlines()[-1])
    times["report_year"] = served["ms"]

    heavy_rounds = 3
    open_cases = Case.objects.open().count()
    quiet = Context()  # its reports go to the slpdesk.worker logger

    def recompute():
        for calendar in ("global", "uk"):
            services.request_recompute(calendar, now)
        at = datetime.now(UTC)
        while handle_one_recompute_batch(at, quiet):
            pass
    # A desk that ran for a year had its SLA warnings and breaches fired as they came:
    # a first, untimed round fires those of the loaded history.
    recompute()
    for _round in range(heavy_rounds):
        times["recompute_30k"].append(timed(recompute, "recompute_30k") * 30_000
                                      / max(open_cases, 1))
        CPU["recompute_30k"][-1] *= 30_000 / max(open_cases, 1)
    draft_text = shipped_policy_text().replace('version = "1"', 'version = "2-draft"')
    p3 = draft_text.index("[priorities.P3]")
    draft_text = draft_text[:p3] + draft_text[p3:].replace('response = "24h"',
                                                           'response = "12h"', 1)
    draft = parse_draft(draft_text)
    period = Period(year[0], year[1], get_zone("UTC"), "UTC")
    simulate_cpu = []  # CPU seconds of this process and its workers: the machine may be loaded
    for _round in range(heavy_rounds):
        before = cpu_seconds()
        times["simulate_year"].append(timed(lambda: simulate(staff_cases(), period, draft, now),
                                            "simulate_year"))
        simulate_cpu.append(cpu_seconds() - before)

    medians = {op: statistics.median(v) for op, v in times.items()}
    with CaptureQueriesContext(connection) as ctx:
        create()
    create_queries = [q["sql"] for q in ctx.captured_queries
                      if not q["sql"].upper().startswith(CONTROL)]
    print()
    print(f"load average (1 min) at the start {load_start:.1f}, at the end "
          f"{os.getloadavg()[0]:.1f} ({len(os.sched_getaffinity(0))} cores, shared)")
    peer_medians = {op: statistics.median(v) for op, v in peer_times.items() if v}
    if peer is not None:
        print(f"django-helpdesk {peer.version}: {peer.shape['cases']:,} tickets "
              f"({peer.shape['open']:,} open), {peer.shape['events']:,} follow-ups "
              f"({peer.shape['messages']:,} public) loaded in {peer.load_s:.0f} s")
    print(f"{'operation':<20} {'slpdesk ms':>12} {'peer ms':>9} {'rounds':>7} "
          f"{'slpdesk cpu ms':>15}")
    for op in OPS:
        peer_ms = f"{peer_medians[op]:.1f}" if op in peer_medians else "-"
        cpu = f"{statistics.median(CPU[op]):.1f}" if CPU.get(op) else "-"
        print(f"{op:<20} {medians[op]:>12.1f} {peer_ms:>9} {len(times[op]):>7} {cpu:>15}")
    print(f"(recompute_30k: {open_cases:,} open cases recomputed, scaled to 30,000; "
          f"report_year served by its own process)")
    print()
    for op in OPS:
        if op in peer_medians:
            print(f"op={op} slpdesk_ms={medians[op]:.1f} peer_ms={peer_medians[op]:.1f} "
                  f"speedup={peer_medians[op] / medians[op]:.1f}")
        else:
            print(f"op={op} slpdesk_ms={medians[op]:.1f} peer_ms=- speedup=-")
    print(f"report_peak_memory_mb={served['peak_mb']:.0f}")
    print()
    print_views(views, 100, data["cases"])
    verdict = "PASS" if statistics.median(template) < 30 else "MISSED"
    print(f"{verdict}: the queue page's template renders 50 rows in "
          f"{statistics.median(template):.1f} ms (median), target under 30 ms")
    verdict = "PASS" if len(create_queries) <= 10 else "MISSED"
    print(f"{verdict}: opening a case takes {len(create_queries)} queries, target at most 10")
    print(f"(report_year: the figures alone, from the stored facts in SQL, "
          f"{statistics.median(served['figures_ms']):.0f} ms; the rest is the page's charts "
          f"and tables; {statistics.median(served['cpu_ms']):.0f} ms of the serving "
          "process's CPU a request)")
    print(f"(simulate_year: {statistics.median(simulate_cpu):.1f} s of CPU over "
          f"{len(os.sched_getaffinity(0))} cores a run; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    for op, (limit, what) in TARGETS.items():
        verdict = "PASS" if medians[op] < limit else "MISSED"
        print(f"{verdict}: {op} {medians[op]:.0f} ms, target {what}")
    verdict = "PASS" if served["peak_mb"] < 200 else "MISSED"
    print(f"{verdict}: the process that served the report peaked at {served['peak_mb']:.0f} MB, "
          "target under 200 MB")
    if "create_case" in peer_medians:
        ratio = peer_medians["create_case"] / medians["create_case"]
        verdict = "PASS" if ratio >= 2 else "MISSED"
        print(f"{verdict}: create_case {ratio:.1f}x faster than django-helpdesk's ticket "
              "creation, target at least 2x")
    else:
        print("MISSED: create_case against django-helpdesk: not measured (--no-peer)")
    return 0


#: Transaction control is not a query: BEGIN/COMMIT, savepoints.
CONTROL = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK")


def template_ms(client, url: str) -> float:
    """Milliseconds the templates of one page take to render (the outermost
    ``Template.render``: includes and the base are inside it)."""
    from django.template.base import Template

    spent, depth = [0.0], [0]
    original = Template.render

    def render(self, context):
        depth[0] += 1
        start = time.perf_counter()
        try:
            return original(self, context)
        finally:
            depth[0] -= 1
            if depth[0] == 0:
                spent[0] += (time.perf_counter() - start) * 1000

    Template.render = render
    try:
        response = client.get(url)
        assert response.status_code == 200, response.status_code
    finally:
        Template.render = original
    return spent[0]


class Peer:
    """The django-helpdesk process (:mod:`desk_peer`), driven over a pipe."""

    def __init__(self, env: dict, argv: list[str]) -> None:
        start = time.perf_counter()
        self.process = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit(f"bench desk: the django-helpdesk process failed "
                             f"(exit {self.process.wait()})")
        self.shape = json.loads(line)
        self.load_s = time.perf_counter() - start
        from importlib.metadata import version

        self.version = version("django-helpdesk")

    def time(self, op: str) -> float:
        self.process.stdin.write(op + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit(f"bench desk: the django-helpdesk process failed on {op}")
        return json.loads(line)["ms"]

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.write("quit\n")
            self.process.stdin.close()
        self.process.wait()


def start_peer(args, now: datetime, n_sites: int, data_dir: str) -> Peer:
    """Load the same shape into django-helpdesk in its own process (see :mod:`desk_peer`)."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "peer_settings",
           "PEER_MEDIA_ROOT": os.path.join(data_dir, "peer-media"),
           "PYTHONPATH": os.pathsep.join(filter(None, [HERE, os.environ.get("PYTHONPATH")]))}
    env.pop("PEER_SQLITE", None)
    if args.engine == "sqlite":
        env.pop("PEER_DATABASE_URL", None)
        env["PEER_SQLITE"] = os.path.join(data_dir, "peer.sqlite3")
    elif not env.get("PEER_DATABASE_URL"):
        env["PEER_DATABASE_URL"] = os.environ["SLPDESK_DATABASE_URL"].rstrip("/") + "_peer"
    return Peer(env, [sys.executable, os.path.join(HERE, "desk_peer.py"),
                      "--cases", str(args.cases), "--sites", str(n_sites),
                      "--now", now.isoformat(), "--seed", str(SEED)])


def serve_report(job: dict) -> int:
    """In its own process: serve the year report ``rounds`` times with the test client
    and print the times and the peak memory (JSON)."""
    os.environ["SLPDESK_DATA_DIR"] = job["data_dir"]
    from slpdesk import server

    server.setup()
    from django.test import Client

    from slpdesk.desk.models import Case, User
    from slpdesk.reports.data import Period
    from slpdesk.reports.facts import report_from_facts
    from slpdesk.sla import get_zone

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(User.objects.get(username="bench-lead"))
    url = f"/reports/?from={job['from']}&to={job['to']}"
    ms, cpu_ms = [], []
    for _round in range(job["rounds"]):
        start, cpu = time.perf_counter(), time.process_time()
        response = client.get(url)
        ms.append((time.perf_counter() - start) * 1000)
        cpu_ms.append((time.process_time() - cpu) * 1000)
        assert response.status_code == 200, response.status_code
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    period = Period(datetime.fromisoformat(job["from"]).date(),
                    datetime.fromisoformat(job["to"]).date(), get_zone("UTC"), "UTC")
    figures = [timed(lambda: report_from_facts(Case.objects.all(), period, datetime.now(UTC)))
               for _round in range(job["rounds"])]
    print(json.dumps({"ms": ms, "cpu_ms": cpu_ms, "peak_mb": peak, "figures_ms": figures}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
