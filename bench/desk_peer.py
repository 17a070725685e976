"""The django-helpdesk peer of ``./scripts/bench desk``, in its own process.

Run by :mod:`bench_desk` with ``DJANGO_SETTINGS_MODULE=peer_settings``: migrates
an empty database, bulk-loads (``bulk_create``) the same shape as
:mod:`desk_load` (the same number of tickets drawn with the same seed and the same
:func:`bench_simulate.story`: open share, one follow-up per event, public ones for
the events that carry a message), prints one JSON line of counts, then serves
the driver over a pipe: each line read on stdin names an operation, which it runs
once with Django's test client and answers with one JSON line ``{"ms": …}``;
``quit`` ends it.

The operations: ``queue_all`` (every ticket, first page of 25), ``queue_open_by_due``
(open and reopened tickets by due date), ``queue_by_priority`` (the same, priority 2):
each the staff ticket list page plus its datatables query, as a browser loads
them; ``case_page`` (a ticket with 10 follow-ups) and ``create_case`` (the staff
ticket creation form, POSTed); ``search`` (the words of one ticket's title, over
every ticket: the list page and its datatables query).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from datetime import datetime, timedelta

from bench_simulate import HOURS, PRIORITIES, PRIORITY_WEIGHTS, story
from desk_load import CHUNK, PUBLIC

DUE = {"P1": timedelta(hours=4), "P2": timedelta(days=1), "P3": timedelta(days=3),
       "P4": timedelta(days=10)}  # when a ticket is due, by its priority (helpdesk's due_date)


def load(n_cases: int, n_sites: int, now: datetime, seed: int) -> dict:
    """Write ``n_cases`` tickets as :func:`desk_load.load` draws its cases."""
    from django.contrib.auth.models import User
    from helpdesk.models import FollowUp, Queue, Ticket

    rng = random.Random(seed)
    queue = Queue.objects.create(title="Support", slug="support")
    agents = [User.objects.create_user(f"agent{i}", is_staff=True) for i in range(20)]
    counts = {"cases": 0, "open": 0, "events": 0, "messages": 0}
    tickets, logs = [], []

    def flush():
        created = Ticket.objects.bulk_create(tickets)
        followups = []
        for ticket, events in zip(created, logs, strict=True):
            for at, type_, *_rest in events:
                public = type_ in PUBLIC or type_ == "customer_replied"
                counts["messages"] += public
                followups.append(FollowUp(ticket_id=ticket.pk, date=at, title=type_,
                                          comment=f"{type_} on {ticket.pk}" if public else "",
                                          public=public, user=ticket.assigned_to))
        FollowUp.objects.bulk_create(followups, batch_size=5000)
        counts["events"] += len(followups)
        tickets.clear()
        logs.clear()

    for n in range(1, n_cases + 1):
        rng.randrange(n_sites)
        day = now - timedelta(days=rng.randrange(1, 366))
        received = day.replace(hour=rng.choice(HOURS), minute=rng.randrange(60), second=0,
                               microsecond=0)
        if received >= now:
            received = now - timedelta(hours=3)
        prio = rng.choices(PRIORITIES, PRIORITY_WEIGHTS)[0]
        events, status = story(rng, received, now, prio)
        counts["open"] += status == "open"
        tickets.append(Ticket(
            title=f"Case {n}", queue=queue, created=received, modified=events[-1][0],
            submitter_email=f"contact{n % 997}@example.com",
            status=Ticket.OPEN_STATUS if status == "open" else Ticket.CLOSED_STATUS,
            priority=int(prio[1]), due_date=received + DUE[prio], description="Case",
            assigned_to=None if rng.random() < 0.2 else rng.choice(agents),
            secret_key=f"{n:012x}",
        ))
        logs.append(events)
        counts["cases"] += 1
        if len(tickets) == CHUNK:
            flush()
    if tickets:
        flush()
    return counts


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, required=True)
    parser.add_argument("--sites", type=int, required=True)
    parser.add_argument("--now", required=True)
    parser.add_argument("--seed", type=int, required=True)
    args = parser.parse_args()
    reply = sys.stdout
    sys.stdout = sys.stderr  # only the answers go down the pipe
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Count
    from django.test import Client
    from helpdesk.models import Queue, Ticket
    from helpdesk.query import query_to_base64

    call_command("migrate", interactive=False, verbosity=0)
    if Ticket.objects.exists():
        print("bench desk: the peer's database is not empty", file=sys.stderr)
        return 2
    counts = load(args.cases, args.sites, datetime.fromisoformat(args.now), args.seed)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    lead = User.objects.create_superuser("bench-lead", "lead@example.com", "x")
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(lead)
    rng = random.Random(5)
    tens = list(Ticket.objects.annotate(n=Count("followup")).filter(n=10)
                .order_by("?").values_list("pk", flat=True)[:200])
    queue = Queue.objects.get()

    def listing(page: str, status: list[int], sorting: str, priority: list[int] | None = None,
                search: str = ""):
        filtering = {"status__in": status} | ({"priority__in": priority} if priority else {})
        query = query_to_base64({"filtering": filtering, "filtering_null": {},
                                 "sorting": sorting, "sortreverse": False,
                                 "search_string": search})
        data = f"/datatables_ticket_list/{query}?draw=1&start=0&length=25"

        def go():
            for url in (page, data):
                response = client.get(url)
                assert response.status_code == 200, (url, response.status_code)
        return go

    def case_page():
        response = client.get(f"/tickets/{rng.choice(tens)}/")
        assert response.status_code == 200, response.status_code

    def create():
        response = client.post("/tickets/submit/", {
            "queue": queue.pk, "title": "Bench case", "body": "Bench case", "priority": 3,
            "submitter_email": "contact1@example.com", "due_date": ""})
        assert response.status_code == 302, (response.status_code,
                                             getattr(response, "context", None)
                                             and response.context["form"].errors)

    every = [s for s, _label in Ticket.STATUS_CHOICES]
    ops = {
        "queue_all": listing("/tickets/?" + "&".join(f"status={s}" for s in every),
                             every, "created"),
        "queue_open_by_due": listing("/tickets/?status=1&status=2&sort=due_date",
                                     [1, 2], "due_date"),
        "queue_by_priority": listing("/tickets/?status=1&status=2&priority=2&sort=due_date",
                                     [1, 2], "due_date", [2]),
        "case_page": case_page,
        # the words of one case's title, in every ticket
        "search": lambda: listing(f"/tickets/?q=Case+{rng.randrange(1, args.cases + 1)}",
                                  every, "created",
                                  search=f"Case {rng.randrange(1, args.cases + 1)}")(),
        "create_case": create,
    }
    reply.write(json.dumps({**counts, "tens": len(tens), "ops": list(ops)}) + "\n")
    reply.flush()
    for line in sys.stdin:
        op = line.strip()
        if op == "quit":
            break
        start = time.perf_counter()
        ops[op]()
        reply.write(json.dumps({"ms": (time.perf_counter() - start) * 1000}) + "\n")
        reply.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
