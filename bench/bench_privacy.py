"""A person's export, their erasure and a retention run on a desk of N cases.

Loads N cases (``desk_load.load``: a year of cases with event logs, messages and
escalations, SLA columns and facts written by ``services.store_sla``) into a fresh
SQLite database, then times, for the contact with the most cases: the export
(``collect`` and the ZIP), the erasure (every message, case, event, escalation and
mail of the desk searched for the person's identifiers; their cases rewritten), and
a retention run that anonymises every resolved or closed case (as if two years had
passed). After each, ``slpdesk sla audit``'s check must find 0 differences and the
report the same figures; it prints them.

    .venv/bin/python bench/bench_privacy.py [--cases 20000]

Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import io
import time
from datetime import UTC, timedelta

from bench_simulate import in_fresh_database


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    args = parser.parse_args()
    return in_fresh_database("privacy", args.keep, lambda: run(args))


def run(args) -> int:
    from django.db.models import Count
    from django.utils import timezone

    from desk_load import load
    from slpdesk.desk import audit
    from slpdesk.desk.models import Case, User
    from slpdesk.privacy import retention
    from slpdesk.privacy.erasure import erase
    from slpdesk.privacy.export import collect, write_zip
    from slpdesk.reports.data import Period
    from slpdesk.reports.facts import report_from_facts

    now = timezone.now()
    t = time.perf_counter()
    load(args.cases, now)
    print(f"loaded {args.cases} cases in {time.perf_counter() - t:.1f} s")
    period = Period((now - timedelta(days=366)).date(), now.date(), UTC, "UTC")

    def report() -> dict:
        return report_from_facts(Case.objects.all(), period, now).as_dict()

    before = report()
    person = User.objects.annotate(n=Count("contact_cases")).order_by("-n").first()
    t = time.perf_counter()
    document, files = collect(person, now=now, self_service=False)
    write_zip(io.BytesIO(), document, files)
    print(f"export: {len(document['cases'])} cases, {len(document['messages_written'])} "
          f"messages in {time.perf_counter() - t:.2f} s")
    t = time.perf_counter()
    record = erase(person, now=now, by_label="bench", reason="bench")
    print(f"erase: {time.perf_counter() - t:.2f} s ({record.counts})")
    later = now + timedelta(days=2 * 366)
    t = time.perf_counter()
    done = retention.run(later, 1)
    seconds = time.perf_counter() - t
    print(f"retention: {done} cases anonymised in {seconds:.1f} s "
          f"({done / seconds:.0f} cases/s)")
    result = audit.audit(now)
    print(f"audit: checked {result.checked} cases: {result.differ} differ")
    print(f"report unchanged: {report() == before}")
    return 0 if result.differ == 0 and report() == before else 1


if __name__ == "__main__":
    raise SystemExit(main())
