"""Time ``simulate_year`` alone on a kept desk (for iterating on the simulator).

    .venv/bin/python bench/sim_kept.py load --engine E --data-dir DIR [--cases N]
    .venv/bin/python bench/sim_kept.py time --engine E --data-dir DIR [--rounds 3] [--profile FILE]

``load`` fills an empty database (``SLPDESK_DATABASE_URL`` on PostgreSQL) as
``bench_desk.py`` does and keeps ``now`` in DIR; ``time`` runs the benchmark's
simulation (the draft moving P3's response from 24h to 12h) and prints wall and
CPU seconds (this process and its forked workers) per round.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime, timedelta

from bench_desk import SEED, cpu_seconds, on_fresh_desk


def draft_policy():
    from slpdesk.reports.simulate import parse_draft
    from slpdesk.sla import shipped_policy_text

    text = shipped_policy_text().replace('version = "1"', 'version = "2-draft"')
    p3 = text.index("[priorities.P3]")
    text = text[:p3] + text[p3:].replace('response = "24h"', 'response = "12h"', 1)
    return parse_draft(text)


def profile_workers(directory: str) -> None:
    """Profile each chunk a forked process replays, into DIRECTORY/chunk-LO."""
    import cProfile
    import functools

    from slpdesk.reports import data

    os.makedirs(directory, exist_ok=True)
    inner = data._replay_range

    @functools.wraps(inner)
    def _replay_range(bounds):
        prof = cProfile.Profile(time.process_time)
        try:
            return prof.runcall(inner, bounds)
        finally:
            prof.dump_stats(os.path.join(directory, f"chunk-{bounds[0]}"))

    data._replay_range = _replay_range


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["load", "time"])
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", help="cProfile of this process to FILE")
    parser.add_argument("--profile-workers", help="cProfile of each chunk to DIR/chunk-N")
    parser.add_argument("--processes", type=int)
    parser.add_argument("--dump", help="every figure of the last round, as JSON, to FILE")
    args = parser.parse_args()
    os.makedirs(args.data_dir, exist_ok=True)
    stamp = os.path.join(args.data_dir, "now.txt")

    def body():
        from django.db import connection

        from slpdesk.reports.data import Period, staff_cases
        from slpdesk.reports.simulate import simulate
        from slpdesk.sla import get_zone

        if args.what == "load":
            from desk_load import load

            now = datetime.now(UTC).replace(microsecond=0)
            load(args.cases, now, seed=SEED)
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE" if connection.vendor == "sqlite" else "VACUUM (ANALYZE)")
                if connection.vendor == "sqlite":
                    cursor.execute("PRAGMA optimize")
            with open(stamp, "w") as f:
                f.write(now.isoformat())
            return 0
        with open(stamp) as f:
            now = datetime.fromisoformat(f.read().strip())
        year = (now - timedelta(days=365)).date(), now.date()
        period = Period(year[0], year[1], get_zone("UTC"), "UTC")
        draft = draft_policy()
        if args.profile_workers:
            profile_workers(args.profile_workers)
        print(f"load average {os.getloadavg()}", flush=True)
        for _ in range(args.rounds):
            cpu, start = cpu_seconds(), time.perf_counter()
            own = time.process_time()
            if args.profile:
                import cProfile

                cProfile.runctx("sim = simulate(staff_cases(), period, draft, now)",
                                globals(), {**locals(), "simulate": simulate}, args.profile)
            else:
                sim = simulate(staff_cases(), period, draft, now, processes=args.processes)
            print(f"simulate_year wall {time.perf_counter() - start:.2f} s, cpu "
                  f"{cpu_seconds() - cpu:.2f} s (parent {time.process_time() - own:.2f} s), "
                  f"{len(sim.changes)} changed", flush=True)
        print(f"load average {os.getloadavg()}")
        if args.dump:
            import json

            out = sim.as_dict()
            for name, report in (("current", sim.current), ("draft", sim.proposed)):
                out[name + "_more"] = {
                    "monthly": {f"{k}": b.as_dict() for k, b in sorted(report.monthly.items())},
                    "samples": {p: sorted(v) for p, v in report.response_samples.items()},
                    "distribution": report.distribution(),
                    "labels": {d: [(b.key, b.label) for b in bs]
                               for d, bs in report.dimensions.items()}}
            with open(args.dump, "w") as f:
                json.dump(out, f, sort_keys=True, default=str)
        return 0

    return on_fresh_desk("sim kept", args.engine, body, data_dir=args.data_dir)


if __name__ == "__main__":
    sys.exit(main())
