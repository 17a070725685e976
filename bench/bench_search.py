"""Case search at 100,000 cases and 1,000,000 messages: full-text index vs icontains.

For each engine, builds the cases (``bulk_create``) and the messages (raw
multi-row ``INSERT``s: a million ORM saves would take far too long on a shared
machine), then the search documents with one ``search.reindex()`` (what
migration 0005 runs), and times the same queries two ways:

* **search**: what the console's queue runs for a query: the staff search
  (``search.search`` + ``search.ranked``), its count and its first page of 50;
* **scan**: a plain ``icontains`` scan of the same texts (title, description,
  the messages, organisation and contact names; every word must occur), its
  count and first page of 50, newest first.

It prints p50/p95 per method, the speed-up, the build times and the index size.
SQLite runs in a temporary data directory; PostgreSQL runs in a schema of its
own (dropped at the end) in the database of ``--postgres URL``.

    .venv/bin/python bench/bench_search.py [--engine sqlite|postgresql|both]
        [--postgres postgres://postgres@127.0.0.1:5432/NAME] [--cases 100000]
        [--messages 1000000] [--queries 200] [--scan-queries 20]

Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta

SYLLABLES = ["ka", "lo", "mi", "ne", "tor", "vik", "stra", "pel", "dun", "gro", "sen", "bal",
             "fi", "ru", "mot", "ax", "ber", "qui", "zen", "hol"]


def vocabulary(rng: random.Random, size: int) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--postgres", default=os.environ.get("SLPDESK_DATABASE_URL", ""))
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--scan-queries", type=int, default=20)
    parser.add_argument("--explain", action="store_true",
                        help="print the plan of the first search query")
    parser.add_argument("--child", choices=("sqlite", "postgresql"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    if "postgresql" in engines and not args.postgres:
        print("bench_search: give --postgres URL (or SLPDESK_DATABASE_URL) for PostgreSQL",
              file=sys.stderr)
        return 2
    status = 0
    for engine in engines:  # one process per engine: Django configures one database
        status |= subprocess.call([sys.executable, __file__, *sys.argv[1:], "--child", engine])
    return status


def child(args) -> int:
    data_dir = tempfile.mkdtemp(prefix="slpdesk-bench-search-")
    os.environ["SLPDESK_DATA_DIR"] = data_dir
    os.environ.pop("DJANGO_SETTINGS_MODULE", None)
    schema = f"bench_search_{os.getpid()}"
    if args.child == "postgresql":
        os.environ["SLPDESK_DATABASE_URL"] = args.postgres
    else:
        os.environ.pop("SLPDESK_DATABASE_URL", None)
    from slpdesk import server

    server.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    if args.child == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE SCHEMA {schema}")
        connection.close()
        settings.DATABASES["default"].setdefault("OPTIONS", {})["options"] = (
            f"-c search_path={schema}")
    try:
        call_command("migrate", interactive=False, verbosity=0)
        return run(args)
    finally:
        connection.close()
        if args.child == "postgresql":
            settings.DATABASES["default"]["OPTIONS"].pop("options")
            with connection.cursor() as cursor:
                cursor.execute(f"DROP SCHEMA {schema} CASCADE")
            connection.close()
        shutil.rmtree(data_dir, ignore_errors=True)


def run(args) -> int:
    import django
    from django.db import connection
    from django.db.models import Exists, OuterRef, Q

    from slpdesk.desk import search
    from slpdesk.desk.models import Case, Message, Organisation, PolicyVersion, Site, User

    engine = connection.vendor
    rng = random.Random(20261206)
    now = datetime.now(UTC).replace(microsecond=0)
    version = PolicyVersion.objects.in_force(now - timedelta(days=400))
    words = vocabulary(rng, 20_000)
    # Zipf-like: word i is drawn with weight 1/(i+1); queries use the middle ranks.
    cumulative, total = [], 0.0
    for i in range(len(words)):
        total += 1.0 / (i + 1)
        cumulative.append(total)

    def text(n: int) -> str:
        return " ".join(rng.choices(words, cum_weights=cumulative, k=n))

    t0 = time.perf_counter()
    orgs = Organisation.objects.bulk_create(
        Organisation(name=f"Customer {text(1).title()} {n}") for n in range(300))
    sites = Site.objects.bulk_create(
        Site(organisation=o, name=f"Site {text(1).title()}", country="US",
             time_zone="America/New_York") for o in orgs)
    contacts = User.objects.bulk_create(
        User(username=f"contact{n:03d}", organisation=o, role=User.Role.CUSTOMER,
             first_name=text(1).title(), last_name=text(1).title(),
             email=f"c{n}@example.com") for n, o in enumerate(orgs))
    batch: list[Case] = []
    for n in range(1, args.cases + 1):
        k = rng.randrange(len(sites))
        received = now - timedelta(minutes=rng.randrange(365 * 24 * 60))
        batch.append(Case(
            number=f"SLP-{n:06d}", organisation_id=sites[k].organisation_id, site=sites[k],
            contact=contacts[k], channel=Case.Channel.PORTAL, title=text(6).capitalize(),
            description=text(40), proposed_priority="P3", policy_version=version,
            calendar="global", time_zone="America/New_York", received_at=received,
            updated_at=received))
        if len(batch) == 5000:
            Case.objects.bulk_create(batch)
            batch = []
    if batch:
        Case.objects.bulk_create(batch)
    case_ids = list(Case.objects.values_list("pk", flat=True))
    cases_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    kinds = ["public"] * 8 + ["internal", "call"]
    rows_per_insert = 1000
    with connection.cursor() as cursor:
        pending: list = []

        def flush():
            count = len(pending) // 4
            values = ", ".join(["(%s, %s, %s, %s)"] * count)
            cursor.execute("INSERT INTO desk_message (case_id, kind, body, created_at) "
                           f"VALUES {values}", pending)
            pending.clear()

        for i in range(args.messages):
            pending += [case_ids[i % len(case_ids)], rng.choice(kinds), text(20), now]
            if len(pending) == rows_per_insert * 4:
                flush()
        if pending:
            flush()
        if engine == "postgresql":  # statistics for the planner, as autovacuum would
            cursor.execute("ANALYZE")
    messages_s = time.perf_counter() - t0

    size_before = database_bytes(connection)
    t0 = time.perf_counter()
    search.reindex()
    index_s = time.perf_counter() - t0
    size = index_bytes(connection, size_before)
    if engine == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    # Queries: one or two words of rank 200-5000 (a few to a few thousand cases).
    queries = [" ".join(rng.choice(words[200:5000]) for _ in range(rng.choice((1, 1, 2))))
               for _ in range(args.queries)]

    def fts(q: str) -> tuple[int, list]:
        qs = search.ranked(search.search(Case.objects.all(), q, staff=True))
        return qs.count(), list(qs.values_list("number", flat=True)[:50])

    def scan(q: str) -> tuple[int, list]:
        qs = Case.objects.all()
        for word in search.words(q):
            qs = qs.filter(
                Q(title__icontains=word) | Q(description__icontains=word)
                | Q(organisation__name__icontains=word) | Q(site__name__icontains=word)
                | Q(contact__first_name__icontains=word) | Q(contact__last_name__icontains=word)
                | Exists(Message.objects.filter(case=OuterRef("pk"), body__icontains=word)))
        qs = qs.order_by("-received_at", "-pk")
        return qs.count(), list(qs.values_list("number", flat=True)[:50])

    def timed(method, qs: list[str]) -> tuple[list[float], list[int]]:
        method(qs[0])  # warm-up
        times, counts = [], []
        for q in qs:
            t = time.perf_counter()
            count, _ = method(q)
            times.append((time.perf_counter() - t) * 1000)
            counts.append(count)
        return times, counts

    if args.explain:
        qs = search.ranked(search.search(Case.objects.all(), queries[0], staff=True))[:50]
        print(qs.explain(**({"analyze": True} if engine == "postgresql" else {})))
        t = time.perf_counter()
        search.reindex(case_ids[:100])
        print(f"reindex of 100 cases: {(time.perf_counter() - t) * 1000:.0f} ms")
    fts_ms, fts_counts = timed(fts, queries)
    scan_ms, scan_counts = timed(scan, queries[:args.scan_queries])

    def pct(values: list[float], p: float) -> float:
        values = sorted(values)
        return values[min(len(values) - 1, int(round(p * (len(values) - 1))))]

    version_text = (connection.Database.sqlite_version if engine == "sqlite"
                    else connection.cursor().connection.info.server_version)
    print(f"slpdesk search benchmark: {engine} {version_text}, Django {django.get_version()}, "
          f"Python {sys.version.split()[0]}")
    print(f"  data: {Case.objects.count():,} cases in {cases_s:.0f} s, "
          f"{Message.objects.count():,} messages in {messages_s:.0f} s; "
          f"search documents built in {index_s:.0f} s")
    print(f"  index size: {size / 2**20:,.0f} MiB ({index_note(engine)})")
    print(f"  {'method':<8} {'queries':>7} {'p50 ms':>9} {'p95 ms':>9} {'median matches':>15}")
    print(f"  {'search':<8} {len(fts_ms):>7} {pct(fts_ms, .5):>9.1f} {pct(fts_ms, .95):>9.1f} "
          f"{statistics.median(fts_counts):>15,.0f}")
    print(f"  {'search':<8} {len(scan_ms):>7} {pct(fts_ms[:len(scan_ms)], .5):>9.1f} "
          f"{pct(fts_ms[:len(scan_ms)], .95):>9.1f} "
          f"{statistics.median(fts_counts[:len(scan_ms)]):>15,.0f}   (the scan's queries)")
    print(f"  {'scan':<8} {len(scan_ms):>7} {pct(scan_ms, .5):>9.1f} {pct(scan_ms, .95):>9.1f} "
          f"{statistics.median(scan_counts):>15,.0f}")
    speedup = pct(scan_ms, .5) / pct(fts_ms[:len(scan_ms)], .5)
    print(f"  speed-up at p50 on the same {len(scan_ms)} queries: {speedup:,.0f}x "
          f"({'PASS' if speedup >= 20 else 'MISSED'} target 20x)")
    print("  (the scan matches substrings, so it finds more: every word containing a query "
          "word)")
    return 0


def database_bytes(connection) -> int:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA page_count")
            pages = cursor.fetchone()[0]
            cursor.execute("PRAGMA page_size")
            return pages * cursor.fetchone()[0]
        cursor.execute("SELECT pg_database_size(current_database())")
        return cursor.fetchone()[0]


def index_bytes(connection, before: int) -> int:
    """SQLite: what the documents and FTS5 tables added to the file; PostgreSQL: the
    document table with its tsvector columns, TOAST and GIN indexes."""
    if connection.vendor == "sqlite":
        return database_bytes(connection) - before
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_total_relation_size('desk_casesearch')")
        return cursor.fetchone()[0]


def index_note(engine: str) -> str:
    if engine == "sqlite":
        return "document table + FTS5 index: growth of the database file"
    return "document table, stored tsvectors, TOAST and both GIN indexes"


if __name__ == "__main__":
    raise SystemExit(main())
