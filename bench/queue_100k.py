"""The console's queue on 100,000 cases: SQL queries and milliseconds per view.

Creates a fresh SQLite database in a temporary data directory, fills it with
100,000 cases by ``bulk_create`` (SLA columns set directly, as
``services.refresh_sla`` would leave them), then renders the first queue page
of each view (mine, unassigned, all, escalated) with Django's test client as
an agent and as a supervisor, printing the number of SQL queries and the
time per page (best and median of several runs, after one warm-up), plus
SQLite's plan for the page query.

    .venv/bin/python bench/queue_100k.py [--cases 100000] [--runs 7]

Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta

from bench_simulate import customers  # the shared customers of the bench desks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    parser.add_argument("--profile", action="store_true", help="profile the 'all' page")
    args = parser.parse_args()

    data_dir = tempfile.mkdtemp(prefix="slpdesk-bench-queue-")
    os.environ["SLPDESK_DATA_DIR"] = data_dir
    os.environ["SLPDESK_ALLOWED_HOSTS"] = "testserver"
    os.environ.pop("SLPDESK_DATABASE_URL", None)  # the embedded SQLite database
    os.environ.pop("DJANGO_SETTINGS_MODULE", None)
    try:
        from slpdesk import server

        server.setup()
        from django.core.management import call_command

        call_command("migrate", interactive=False, verbosity=0)
        return run(args)
    finally:
        if args.keep:
            print(f"data directory kept: {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


def run(args) -> int:
    import django
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from slpdesk.desk.models import (
        Case,
        PolicyVersion,
        Release,
        User,
    )

    profile = args.profile
    rng = random.Random(20261129)
    now = datetime.now(UTC).replace(microsecond=0)
    version = PolicyVersion.objects.in_force(now - timedelta(days=400))
    policy = version.load()

    sites, site_info, contacts, agents = customers(now, policy)
    supervisor = User.objects.create(username="supervisor", role=User.Role.SUPERVISOR)
    Release.objects.create(name="2026", released=(now - timedelta(days=100)).date())

    statuses = ([Case.Status.NEW] * 30 + [Case.Status.OPEN] * 20 + [Case.Status.WAITING] * 10
                + [Case.Status.RESOLVED] * 35 + [Case.Status.CLOSED] * 5)
    t0 = time.perf_counter()
    batch: list[Case] = []
    for n in range(1, args.cases + 1):
        k = rng.randrange(len(sites))
        site, calendar = site_info[k]
        received = now - timedelta(minutes=rng.randrange(90 * 24 * 60))
        status = rng.choice(statuses)
        prio = rng.choice(("P1", "P2", "P3", "P4"))
        case = Case(
            number=f"SLP-{n:06d}", organisation_id=site.organisation_id, site=site,
            contact=contacts[k], channel=Case.Channel.PORTAL, title=f"Case {n}",
            description="A description of the problem. " * 8, proposed_priority=prio,
            priority="" if status == Case.Status.NEW else prio, status=status,
            policy_version=version, calendar=calendar, time_zone=site.time_zone,
            received_at=received, updated_at=received,
            assignee=None if rng.random() < 0.33 else rng.choice(agents),
            escalation_level=rng.choice((1, 1, 2, 3)) if rng.random() < 0.02 else 0,
        )
        due = received + timedelta(hours=rng.randrange(1, 200))
        if status == Case.Status.NEW:
            case.response_due = case.earliest_due = due
            case.response_state = "breached" if due < now else "running"
        elif status == Case.Status.OPEN:
            case.response_state = "met"
            case.response_stopped = received + timedelta(minutes=30)
            case.resolution_due = case.earliest_due = due
            case.resolution_state = "breached" if due < now else "running"
            case.next_update_due = due - timedelta(hours=1)
            case.next_update_state = "breached" if due - timedelta(hours=1) < now else "running"
            case.earliest_due = min(due, case.next_update_due)
        elif status == Case.Status.WAITING:
            case.response_state = "met"
            case.response_stopped = received + timedelta(minutes=30)
            case.resolution_state = case.next_update_state = "paused"
        elif status == Case.Status.RESOLVED:
            case.response_state = case.resolution_state = "met"
            case.next_update_state = "not_applicable"
            case.resolution = "fixed"
        else:
            case.entitlement = Case.Entitlement.EXCLUDED
            case.response_state = case.resolution_state = "not_applicable"
            case.next_update_state = "not_applicable"
        batch.append(case)
        if len(batch) == 5000:
            Case.objects.bulk_create(batch)
            batch = []
    if batch:
        Case.objects.bulk_create(batch)
    print(f"slpdesk queue benchmark: Django {django.get_version()}, SQLite "
          f"{connection.Database.sqlite_version}, Python {sys.version.split()[0]}")
    print(f"{Case.objects.count():,} cases created in {time.perf_counter() - t0:.1f} s "
          f"({Case.objects.open().count():,} not resolved); agent00 has "
          f"{Case.objects.filter(assignee=agents[0]).open().count():,} open, "
          f"{Case.objects.filter(escalation_level__gt=0).open().count():,} open escalated")
    print()
    print(f"{'user':<11} {'view':<11} {'rows':>4} {'queries':>7} {'first ms':>9} "
          f"{'best ms':>8} {'median ms':>9}")

    plans = {}
    for who in (agents[0], supervisor):
        client = Client()
        client.force_login(who)
        for view in ("mine", "unassigned", "all", "escalated"):
            url = f"/console/?view={view}"
            start = time.perf_counter()
            response = client.get(url)
            first = (time.perf_counter() - start) * 1000
            assert response.status_code == 200, response.status_code
            rows = response.content.decode().count('<tr data-case="')
            times = []
            for _ in range(args.runs):
                start = time.perf_counter()
                client.get(url)
                times.append((time.perf_counter() - start) * 1000)
            with CaptureQueriesContext(connection) as ctx:
                client.get(url)
            page_sql = next((q["sql"] for q in ctx.captured_queries
                             if q["sql"].startswith('SELECT "desk_case"."id"')), None)
            if page_sql and view not in plans:  # none when the page is empty
                with connection.cursor() as cur:
                    cur.execute("EXPLAIN QUERY PLAN " + page_sql)
                    plans[view] = [r[-1] for r in cur.fetchall()]
            print(f"{who.username:<11} {view:<11} {rows:>4} {len(ctx.captured_queries):>7} "
                  f"{first:>9.1f} {min(times):>8.1f} {statistics.median(times):>9.1f}")
    if profile:
        import cProfile
        import pstats

        client = Client()
        client.force_login(supervisor)
        prof = cProfile.Profile()
        prof.runcall(client.get, "/console/?view=all")
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
    print()
    print("SQLite plan of the page query (agent00):")
    for view, plan in plans.items():
        print(f"  {view:<11} {' / '.join(plan)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
