"""A documented bulk loader: a desk of N cases with realistic event logs, fast.

Used by ``./scripts/bench desk``, ``bench/bench_simulate.py`` and the tests that
compare the stored facts with a replay. It writes organisations (300, in seven
time zones on both calendars), their sites, agreements and contacts, 20 agents,
then the cases with ``bulk_create`` in chunks, each with an event log the desk
could have written (:func:`story`: receipt, triage, first response, requests
for information and the customer's answers, status updates, classification as
a bug, escalation, resolution, reopening, exclusion, notes and assignments),
their escalations and public messages (one per public event), received over
the last 365 days before ``now``.

Every case's SLA columns and facts are then written by the desk's own writer,
:func:`slpdesk.desk.services.store_sla`, on each chunk (events and notices read
for the chunk in one query each, one bulk UPDATE): exactly what the services
write when the same events happen one by one; :func:`check_sample` replays a
sample and compares every column.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from bench_simulate import (  # the shared shape
    PRIORITIES,
    PRIORITY_WEIGHTS,
    customers,
    received_at,
    story,
)

#: Cases per bulk insert and per batch of SLA columns.
CHUNK = 2000
#: The local hours cases are received at (drawn uniformly: busy mornings).


def load(n_cases: int, now: datetime, *, seed: int = 20261129, facts: bool = True,
         progress=None) -> dict:
    """Write ``n_cases`` cases received in the 365 days before ``now``; returns counts
    and the objects a benchmark needs (``agents``, ``contacts``, ``sites``)."""
    from slpdesk.desk import services
    from slpdesk.desk.models import (
        Case,
        CaseEvent,
        Escalation,
        Message,
        PolicyVersion,
    )

    rng = random.Random(seed)
    version = PolicyVersion.objects.in_force(now - timedelta(days=400))
    policy = version.load()
    sites, site_info, contacts, agents = customers(now, policy)
    counts = {"cases": 0, "events": 0, "messages": 0, "open": 0}
    cases: list = []
    logs: list = []

    def flush() -> None:
        created = Case.objects.bulk_create(cases)
        rows, escalations, messages = [], [], []
        for case, events in zip(created, logs, strict=True):
            for at, type_, prio, kind, resolution, data in events:
                rows.append(CaseEvent(case_id=case.pk, at=at, type=type_, priority=prio,
                                      kind=kind, resolution=resolution, data=data))
                if type_ == "escalated":
                    escalations.append(Escalation(case_id=case.pk, level=1, reason="slow",
                                                  channel="portal", raised_by=case.contact,
                                                  raised_at=at))
                if type_ in PUBLIC:
                    messages.append(Message(case_id=case.pk, kind=Message.Kind.PUBLIC,
                                            author=case.assignee or agents[0],
                                            body=f"{type_} on {case.number}", created_at=at))
                elif type_ == "customer_replied":
                    messages.append(Message(case_id=case.pk, kind=Message.Kind.PUBLIC,
                                            author=case.contact, body="Thanks",
                                            created_at=at))
        CaseEvent.objects.bulk_create(rows, batch_size=5000)
        Escalation.objects.bulk_create(escalations)
        Message.objects.bulk_create(messages, batch_size=5000)
        counts["events"] += len(rows)
        counts["messages"] += len(messages)
        if facts:
            for case in created:
                case.policy_version = version
            services.store_sla(created, now, {})
        if progress is not None:
            progress(len(created))
        cases.clear()
        logs.clear()

    for n in range(1, n_cases + 1):
        k = rng.randrange(len(sites))
        site, calendar = site_info[k]
        received = received_at(rng, site.time_zone, now)
        prio = rng.choices(PRIORITIES, PRIORITY_WEIGHTS)[0]
        events, status = story(rng, received, now, prio)
        assigned = next((e[2] for e in events if e[1] == "priority_assigned"), "")
        counts["open"] += status == "open"
        cases.append(Case(
            number=f"SLP-{n:06d}", organisation_id=site.organisation_id, site=site,
            contact=contacts[k], channel=Case.Channel.PORTAL, title=f"Case {n}",
            proposed_priority=prio, priority=assigned, status=status,
            information_complete=any(e[1] == "info_complete" for e in events),
            kind=next((e[3] for e in reversed(events) if e[1] == "classified"), "incident"),
            policy_version=version, calendar=calendar, time_zone=site.time_zone,
            received_at=received, updated_at=events[-1][0],
            assignee=None if rng.random() < 0.2 else rng.choice(agents),
            escalation_level=1 if any(e[1] == "escalated" for e in events) else 0,
        ))
        logs.append(events)
        counts["cases"] += 1
        if len(cases) == CHUNK:
            flush()
    if cases:
        flush()
    return {**counts, "agents": agents, "contacts": contacts, "sites": sites}


PUBLIC = ("responded", "status_update", "info_requested", "resolved")


def check_sample(now: datetime, size: int = 200, seed: int = 1) -> list[str]:
    """Replay ``size`` random cases one by one, as a service would, and list every
    SLA column that differs from what the loader stored (empty: all equal)."""
    from slpdesk.desk import services
    from slpdesk.desk.models import Case

    ids = list(Case.objects.order_by("pk").values_list("pk", flat=True))
    sample = random.Random(seed).sample(ids, min(size, len(ids)))
    stored = {c.pk: c for c in Case.objects.filter(pk__in=sample)}
    fresh = {c.pk: c for c in Case.objects.filter(pk__in=sample)}
    problems = []
    for pk in sample:
        services.store_sla([fresh[pk]], now)
        for column in services.SLA_COLUMNS:
            if column == "sla_computed_at":
                continue
            a, b = getattr(stored[pk], column), getattr(fresh[pk], column)
            if a != b:
                problems.append(f"{stored[pk].number} {column}: {a!r} != {b!r}")
    return problems
