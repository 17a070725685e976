"""Every queue query uses its index, whatever statistics the planner has (issue 14).

A generated desk (the bench's bulk loader), then ``ANALYZE`` and ``PRAGMA
optimize`` on SQLite (``ANALYZE`` on PostgreSQL): with statistics, SQLite once
chose to start the queue from the organisations table, read every case and
sort them. The queue now orders the cases table alone
(:func:`slpdesk.console.views.queue_ids`), and each view of the open cases has
an index that gives its order: the plan reads the index, stops after a page,
and sorts nothing.
"""

import pytest
from django.db import connection

from desk.conftest import ny
from desk_load import load
from slpdesk.console.views import QUEUE_SORTS, QUEUE_VIEWS, STATUS_FILTERS, queue_ids
from slpdesk.desk.models import Case

ANY_QUEUE_INDEX = ("case_queue_open", "case_queue_mine", "case_queue_escalated",
                   "case_queue_status", "case_queue_any", "case_queue_updated",
                   "case_queue_received", "case_queue_priority")
#: sort -> the index that gives the order of the views over many cases (all cases, the
#: open ones, a big status), read in order (backwards for the newest first).
SORT_INDEX = {"due": ("case_queue_open", "case_queue_any"), "priority": ("case_queue_priority",),
              "updated": ("case_queue_updated",), "received": ("case_queue_received",)}
#: (view, status) -> the indexes that give the page in order. The planner may take
#: another index that also does (PostgreSQL reads case_queue_open for one status
#: of the open ones; SQLite may scan case_queue_any in order for the escalated).
ORDERED = {
    # (SQLite may read case_queue_any in order instead: the open cases' running clocks
    # put them first in it, so the page still stops early and sorts nothing)
    ("all", "open"): ("case_queue_open", "case_queue_any"),
    ("mine", "open"): ("case_queue_mine",),
    ("unassigned", "open"): ("case_queue_mine",),  # assignee IS NULL
    ("escalated", "open"): ("case_queue_escalated", "case_queue_any"),
    ("all", "any"): ("case_queue_any",),
    ("all", "new"): ANY_QUEUE_INDEX,
    ("all", "triaged"): ANY_QUEUE_INDEX,
    ("all", "waiting"): ANY_QUEUE_INDEX,
    ("all", "resolved"): ("case_queue_status", "case_queue_any"),
    ("all", "closed"): ("case_queue_status", "case_queue_any"),
}


@pytest.fixture
def desk(db):
    data = load(1500, ny(2026, 11, 20, 15, 7), seed=11)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA optimize")
    return data


def plan(qs) -> str:
    return qs[:50].explain()


def full_scan(text: str) -> bool:
    if connection.vendor == "sqlite":
        return any(line.strip().endswith("SCAN desk_case") for line in text.splitlines())
    return "Seq Scan on desk_case" in text


def sorts(text: str) -> bool:
    """SQLite sorts the page's rows instead of reading them in order. (PostgreSQL may
    sort the few rows of a small test desk that its index found; it is not fooled
    at any size, so only its index and the absence of a full scan are checked.)"""
    return connection.vendor == "sqlite" and "TEMP B-TREE" in text


def test_each_view_of_the_queue_reads_its_index_in_order(desk):
    agent = desk["agents"][3]
    for (view, status), index in ORDERED.items():
        if connection.vendor != "sqlite":
            # PostgreSQL may find the few open cases of a desk this small through the
            # tab counts' index (status, assignee) and sort them: see sorts().
            index = (*index, "case_queue_counts")
        text = plan(queue_ids(agent, view, status))
        assert any(name in text for name in index), (view, status, text)
        assert not full_scan(text), (view, status, text)
        assert not sorts(text), (view, status, text)


def test_no_filter_makes_the_queue_read_every_case(desk):
    """On SQLite (PostgreSQL rightly reads a small test desk whole for rare filters)."""
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL's costs favour a full read of a desk this small")
    agent = desk["agents"][3]
    org = desk["sites"][5].organisation_id
    for view in QUEUE_VIEWS:
        for status in STATUS_FILTERS:
            for extra in ({}, {"priority": "P2"}, {"organisation": org},
                          {"region": "uk"}):
                text = plan(queue_ids(agent, view, status, **extra))
                assert not full_scan(text), (view, status, extra, text)


def test_every_view_and_sort_reads_an_index_and_no_view_reads_every_case(desk):
    """Each view x each sort the console offers x each status filter: a queue index,
    never the whole cases table read."""
    agent = desk["agents"][3]
    for view in QUEUE_VIEWS:
        for sort in QUEUE_SORTS:
            for status in STATUS_FILTERS:
                if connection.vendor != "sqlite" and (
                        status != "any" or view in ("focus", "unassigned")):
                    continue  # PostgreSQL rightly reads a desk this small whole for some
                text = plan(queue_ids(agent, view, status, sort=sort))
                assert any(index.name in text for index in Case._meta.indexes), (
                    view, sort, status, text)
                assert not full_scan(text), (view, sort, status, text)


def test_each_sort_of_all_cases_reads_its_index_in_order(desk):
    """All cases, and all those not yet resolved, in each order: the page comes off the
    sort's index in order, nothing sorted, whatever the statistics say."""
    agent = desk["agents"][3]
    for sort, index in SORT_INDEX.items():
        for status in ("any", "open") if connection.vendor == "sqlite" else ("any",):
            # (PostgreSQL rightly sorts the few open cases of a small desk)
            if (sort, status) == ("due", "open"):
                index = ORDERED[("all", "open")]
            text = plan(queue_ids(agent, "all", status, sort=sort))
            assert any(name in text for name in index), (sort, status, text)
            assert not full_scan(text), (sort, status, text)
            assert not sorts(text), (sort, status, text)


def test_the_queue_rows_due_times_read_as_the_filters_write_them(settings):
    """The queue works out its due cells once per row (console.views.due_texts): the
    same text as the filters iso, local, local_date and local_time, in both languages."""
    from datetime import UTC, datetime

    from django.utils import timezone, translation

    from slpdesk.console.views import due_texts
    from slpdesk.web.templatetags.slpdesk import iso, local, local_date, local_time

    due = datetime(2026, 3, 9, 16, 30, tzinfo=UTC)
    for language in ("en", "sv"):
        with translation.override(language), timezone.override("Europe/Stockholm"):
            texts = due_texts(due, "America/New_York")
            assert texts == {
                "iso": iso(due),
                "you": (local(due), local_date(due), local_time(due)),
                "customer": (local(due, "America/New_York"),
                             local_date(due, "America/New_York"),
                             local_time(due, "America/New_York")),
            }
            assert texts["customer"][2] == "12:30 EDT"  # worked out: UTC-4 after 8 March
    assert due_texts(None, "UTC") is None
