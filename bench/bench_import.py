"""``slpdesk import`` at size: cases imported per second.

Creates a fresh SQLite database (or uses ``--postgres URL``, an empty database)
with the benchmarks' customers (``bench_simulate.customers``: 300 organisations
in seven zones, their sites and contacts, 20 agents), writes N cases as the
import's JSON Lines from the simulator's event stories (``bench_simulate.story``:
about 8 SLA events a case, a public message for every reply, request and
answer, an internal note now and then), then times
:func:`slpdesk.imports.cases.import_file` over the file: every line checked
(schema, references, a replay), then every case written in one transaction with
its events, messages, SLA columns (``store_sla``) and search document. Prints
the file's size, the time of the run (wall clock and CPU) and cases per second,
then (unless ``--no-audit``) ``slpdesk sla audit``'s verdict on every case.

    .venv/bin/python bench/bench_import.py [--cases 100000] [--postgres URL] [--no-audit]

Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench_simulate import (
    PRIORITIES,
    PRIORITY_WEIGHTS,
    customers,
    in_fresh_database,
    received_at,
    story,
)

SLA = {"received", "priority_assigned", "info_complete", "info_requested", "customer_replied",
       "responded", "status_update", "classified", "resolved", "reopened", "excluded"}
STAFF_SAYS = {"responded", "status_update", "info_requested"}


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def write_lines(path: Path, n_cases: int, now: datetime) -> tuple[int, int]:
    """The import file: ``n_cases`` lines; returns (events, messages)."""
    from slpdesk.desk.models import PolicyVersion, User

    policy = PolicyVersion.objects.in_force(now).load()
    sites, site_info, contacts, agents = customers(now, policy)
    for agent in agents:
        agent.email = f"{agent.username}@vendor.example"
    User.objects.bulk_update(agents, ["email"])
    orgs = {o.pk: o.name for o in {s.organisation for s in sites}}
    rng = random.Random(20261207)
    n_events = n_messages = 0
    with open(path, "w", encoding="utf-8") as out:
        for n in range(1, n_cases + 1):
            k = rng.randrange(len(sites))
            site = sites[k]
            received = received_at(rng, site.time_zone, now)
            events, _status = story(rng, received, now, rng.choices(PRIORITIES,
                                                                    PRIORITY_WEIGHTS)[0])
            agent = rng.choice(agents).email
            sla, messages = [], []
            for at, type_, prio, kind, resolution, data in events:
                if type_ == "note":
                    messages.append({"at": iso(at), "author_email": agent, "public": False,
                                     "body": f"Note on case {n}."})
                if type_ not in SLA:
                    continue
                event = {"at": iso(at), "type": type_}
                if prio:
                    event["priority"] = prio
                if kind:
                    event["kind"] = kind
                    event["defect_reference"] = data.get("defect_reference", "")
                if resolution:
                    event["resolution"] = resolution
                sla.append(event)
                if type_ in STAFF_SAYS:
                    messages.append({"at": iso(at), "author_email": agent, "public": True,
                                     "body": f"{type_.replace('_', ' ')} on case {n}"})
                elif type_ == "customer_replied":
                    messages.append({"at": iso(at), "author_email": contacts[k].email,
                                     "public": True, "body": "Here is what you asked for."})
            n_events += len(sla)
            n_messages += len(messages)
            out.write(json.dumps({
                "external_id": f"bench-{n}", "organisation": orgs[site.organisation_id],
                "site": site.name, "contact_email": contacts[k].email,
                "title": f"Case {n} from the old desk", "description": "Imported.",
                "channel": "portal", "received_at": iso(received), "events": sla,
                "messages": messages}) + "\n")
    return n_events, n_messages


def run(args) -> int:
    import django
    from django.db import connection

    from slpdesk.desk import audit
    from slpdesk.desk.models import Case
    from slpdesk.imports import cases as importer

    now = datetime.now(UTC).replace(microsecond=0)
    with tempfile.TemporaryDirectory(prefix="slpdesk-bench-import-") as tmp:
        path = Path(tmp) / "cases.jsonl"
        t0 = time.perf_counter()
        n_events, n_messages = write_lines(path, args.cases, now)
        print(f"slpdesk import benchmark: Django {django.get_version()}, "
              f"{connection.vendor} , Python {sys.version.split()[0]}")
        print(f"{args.cases:,} cases, {n_events:,} SLA events ({n_events / args.cases:.1f} a "
              f"case), {n_messages:,} messages: {path.stat().st_size / 1e6:.1f} MB of JSON "
              f"Lines written in {time.perf_counter() - t0:.1f} s")
        start, cpu = time.perf_counter(), time.process_time()
        result = importer.import_file(path, Path(tmp), datetime.now(UTC))
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    assert not result.problems, result.problems[:5]
    print(f"imported {result.imported:,} cases, skipped {result.skipped} in {wall:.1f} s "
          f"({cpu:.1f} s CPU): {result.imported / wall:,.0f} cases/s wall clock, "
          f"{result.imported / cpu:,.0f} cases/s of CPU")
    if not args.no_audit:
        found = audit.audit(datetime.now(UTC))
        print(f"sla audit: checked {found.checked:,} cases: {found.differ} differ")
    assert Case.objects.count() == args.cases
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--postgres", default=None, metavar="URL",
                        help="an empty PostgreSQL database (migrated here) instead of SQLite")
    parser.add_argument("--no-audit", action="store_true", help="skip the audit afterwards")
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    args = parser.parse_args()
    if args.postgres:
        os.environ["SLPDESK_DATABASE_URL"] = args.postgres
        os.environ.setdefault("SLPDESK_DATA_DIR", tempfile.mkdtemp(prefix="slpdesk-bench-"))
        from django.core.management import call_command

        from slpdesk import server

        server.setup()
        call_command("migrate", interactive=False, verbosity=0)
        return run(args)
    return in_fresh_database("import", args.keep, lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
