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
from slpdesk.console.views import (
    QUEUE_SORTS,
    QUEUE_VIEWS,
    STATUS_FILTERS,
    URGENT_STATES,
    queue_ids,
    queue_list,
)
from slpdesk.desk.models import Case

#: The generated desk's "now" (its cases were received in the year before).
NOW = ny(2026, 11, 20, 15, 7)

ANY_QUEUE_INDEX = ("case_queue_open", "case_queue_mine", "case_queue_escalated",
                   "case_queue_status", "case_queue_any", "case_queue_updated",
                   "case_queue_received", "case_queue_priority", "case_queue_assignee",
                   "case_queue_escalated_any", "case_queue_open_priority")
#: sort -> the index that gives the order of the views over many cases (all cases, the
#: open ones, a big status), read in order (backwards for the newest first).
SORT_INDEX = {"due": ("case_queue_open", "case_queue_any"),
              # (the cases not yet resolved: case_queue_open_priority, over them alone)
              "priority": ("case_queue_priority", "case_queue_open_priority"),
              "updated": ("case_queue_updated",), "received": ("case_queue_received",)}
#: (view, status) -> the indexes that give the page in order. The planner may take
#: another index that also does (PostgreSQL reads case_queue_open for one status
#: of the open ones; SQLite may scan case_queue_any in order for the escalated).
ORDERED = {
    # (SQLite may read case_queue_any in order instead: the open cases' running clocks
    # put them first in it, so the page still stops early and sorts nothing)
    ("all", "open"): ("case_queue_open", "case_queue_any"),
    # (or case_queue_assignee, over any status in the same order: the open cases'
    # running clocks put them first in it)
    ("mine", "open"): ("case_queue_mine", "case_queue_assignee"),
    ("unassigned", "open"): ("case_queue_mine", "case_queue_assignee"),  # assignee IS NULL
    # (PostgreSQL may read case_queue_any in order for the unassigned, a fifth of
    # the cases: the page still stops early and sorts nothing)
    ("mine", "any"): ("case_queue_assignee", "case_queue_any"),
    ("unassigned", "any"): ("case_queue_assignee", "case_queue_any"),
    ("escalated", "any"): ("case_queue_escalated_any", "case_queue_any"),
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
    data = load(1500, NOW, seed=11)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA optimize")
    return data


def plan(qs) -> str:
    return qs[:50].explain()


def page_plan(agent, view, status, **filters) -> str:
    """The plan of the query that reads a page (queue_ids(page=True))."""
    return plan(queue_ids(agent, view, status, page=True, **filters))


def count_plan(qs) -> str:
    """The plan of the query that counts ``qs`` (the paginator's)."""
    seen = []

    def keep(execute, sql, params, many, context):
        seen.append((sql, params))
        return execute(sql, params, many, context)
    with connection.execute_wrapper(keep):
        qs.count()
    sql, params = seen[-1]
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
            return "\n".join(str(row[-1]) for row in cursor.fetchall())
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


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
            # tab counts' index (status, assignee), or one agent's few cases through
            # the assignee's foreign key index, and sort them: see sorts().
            index = (*index, "case_queue_counts", "desk_case_assignee_id")
        text = page_plan(agent, view, status)
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
                text = page_plan(agent, view, status, **extra)
                assert not full_scan(text), (view, status, extra, text)
                text = count_plan(queue_ids(agent, view, status, **extra))
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
                text = page_plan(agent, view, status, sort=sort)
                # (or the assignee's own index: mine or unassigned, found and sorted)
                assert any(index.name in text for index in Case._meta.indexes) or (
                    view != "all" and "desk_case_assignee_id" in text), (
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
            text = page_plan(agent, "all", status, sort=sort)
            assert any(name in text for name in index), (sort, status, text)
            assert not full_scan(text), (sort, status, text)
            assert not sorts(text), (sort, status, text)


def test_the_few_are_sorted_and_the_many_read_in_order(desk):
    """On SQLite, whose planner knows no skew: the escalated and one's own cases are
    found through their own index and sorted (not looked for along a sort's index over
    every case); the cases not yet resolved, and the unassigned of any status, in
    another order than due, come off that order's index (not found through a status
    or assignee index, every one of them, and sorted); the escalated of one status
    come off the escalated cases' index in order."""
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL's planner weighs the rows it expects; see the tests above")
    agent = desk["agents"][3]
    sort_index = {"updated": "case_queue_updated", "received": "case_queue_received",
                  "priority": "case_queue_priority"}
    for sort, index in sort_index.items():
        for view, status in (("escalated", "open"), ("escalated", "any"), ("mine", "open"),
                             ("mine", "any")):
            text = page_plan(agent, view, status, sort=sort)
            assert index not in text and not full_scan(text), (view, status, sort, text)
        for view, status in (("all", "open"), ("unassigned", "any"), ("all", "any")):
            text = page_plan(agent, view, status, sort=sort)
            ok = (index, "case_queue_open_priority") if (view, status) == ("all", "open") \
                else (index,)  # (the priority order over the open alone)
            assert any(name in text for name in ok) and not sorts(text), (
                view, status, sort, text)
    for status in ("resolved", "closed"):
        text = page_plan(agent, "escalated", status)
        assert "case_queue_escalated_any" in text and not sorts(text), (status, text)


def test_needs_me_reads_the_urgent_and_the_rest_each_off_an_index(desk):
    """"Needs me" is read as two queries (console.views.FocusList): the cases breached
    or at risk, then the rest, each in the sort's order. Neither reads every case;
    on SQLite the view over every case (any status) reads its sort's index in order,
    and one status in the order due its status's, and sorts nothing (a status's cases
    in another order are found through their index and sorted)."""
    agent = desk["agents"][3]
    for sort in QUEUE_SORTS:
        for status in STATUS_FILTERS:
            for urgent in (True, False):
                text = page_plan(agent, "focus", status, sort=sort, urgent=urgent, now=NOW)
                assert any(index.name in text for index in Case._meta.indexes) or (
                    "desk_case_assignee_id" in text) or (
                    connection.vendor != "sqlite" and "case_queue_counts" in text), (
                    sort, status, urgent, text)
                if connection.vendor == "sqlite":  # (PostgreSQL: see the tests above)
                    assert not full_scan(text), (sort, status, urgent, text)
                    if status == "any" or sort == "due":
                        assert not sorts(text), (sort, status, urgent, text)


def _sort_key(sort: str):
    """The queue's order (console.views.QUEUE_SORTS) as a Python key and direction."""
    if sort == "priority":
        return (lambda c: (c.priority or c.proposed_priority, c.queue_due, c.received_at,
                           c.pk)), False
    if sort == "updated":
        return (lambda c: (c.updated_at, c.pk)), True
    if sort == "received":
        return (lambda c: (c.received_at, c.pk)), True
    return (lambda c: (c.queue_due, c.received_at, c.pk)), False


def test_needs_me_pages_are_the_urgent_first_then_the_rest_in_the_sorts_order(desk):
    """Every page of "Needs me" (mine and unassigned), for each status and sort, read
    through the paginator with pages of 50 and of 7 (so that pages fall before, across
    and after the last urgent case): the cases sorted here in Python, those breached
    or at risk (a clock in such a state, or the next due time past) first."""
    from django.core.paginator import Paginator

    agent = desk["agents"][3]
    crossed = 0
    for status, statuses in STATUS_FILTERS.items():
        cases = [c for c in Case.objects.all()
                 if c.assignee_id in (agent.pk, None)
                 and (statuses is None or c.status in statuses)]
        for sort in QUEUE_SORTS:
            key, newest = _sort_key(sort)
            urgent = sorted((c for c in cases if (
                c.earliest_due is not None and c.earliest_due <= NOW) or set(URGENT_STATES)
                & {c.response_state, c.resolution_state, c.next_update_state}),
                key=key, reverse=newest)
            first = {c.pk for c in urgent}
            rest = sorted((c for c in cases if c.pk not in first), key=key, reverse=newest)
            expected = [c.pk for c in urgent + rest]
            filters = {"view": "focus", "status": status, "priority": "", "organisation": "",
                       "region": "", "sort": sort, "q": ""}
            for size in (50, 7):
                paginator = Paginator(queue_list(agent, filters, NOW), size)
                assert paginator.count == len(expected), (status, sort)
                got = [pk for n in paginator.page_range for pk in paginator.page(n)]
                assert got == expected, (status, sort, size)
            crossed += 0 < len(urgent) < len(cases) and len(urgent) % 7 != 0
    assert crossed  # some page held both urgent cases and others


def test_the_queue_counts_read_an_index_alone(desk):
    """The paginator's count of the escalated not yet resolved, and of one priority
    among them, reads a partial index of theirs (on SQLite without the rows)."""
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL rightly reads a desk this small whole for some")
    agent = desk["agents"][3]
    text = count_plan(queue_ids(agent, "escalated", "open"))
    assert ("case_queue_escalated" in text or "COVERING INDEX case_queue_counts" in text) \
        and not full_scan(text), text
    text = count_plan(queue_ids(agent, "all", "open", priority="P2"))
    assert "case_queue_open_priority" in text and not full_scan(text), text
    text = count_plan(queue_ids(agent, "all", "open"))
    assert "COVERING INDEX" in text, text


def test_the_tab_counts_read_their_index_alone(desk):
    """The tabs' counts name no column outside case_queue_counts (status, assignee,
    escalation level; PostgreSQL's index holds no id), so the plan reads that index
    alone: on SQLite a covering index, on PostgreSQL an index-only scan once vacuumed."""
    from slpdesk.console.views import _tab_counts

    agent = desk["agents"][3]
    seen = []

    def keep(execute, sql, params, many, context):
        seen.append((sql, params))
        return execute(sql, params, many, context)
    with connection.execute_wrapper(keep):
        counts = _tab_counts(agent)
    sql, params = seen[-1]
    assert '"id"' not in sql, sql
    open_cases = Case.objects.filter(status__in=("new", "open", "waiting"))
    assert counts == {  # each counted here another way
        "all": len(open_cases),
        "mine": sum(c.assignee_id == agent.pk for c in open_cases),
        "unassigned": sum(c.assignee_id is None for c in open_cases),
        "focus": sum(c.assignee_id in (agent.pk, None) for c in open_cases),
        "escalated": sum(c.escalation_level > 0 for c in open_cases)}
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
            text = "\n".join(str(row[-1]) for row in cursor.fetchall())
        assert "COVERING INDEX case_queue_counts" in text, text


def test_a_priority_filter_finds_the_assigned_else_the_proposed_priority(desk):
    """The filter reads the index expression (COALESCE(NULLIF(priority, ''),
    proposed_priority)): the same cases as the rule written out by hand."""
    agent = desk["agents"][3]
    for priority in ("P1", "P2", "P3", "P4"):
        expected = {c.pk for c in Case.objects.filter(status__in=("new", "open", "waiting"))
                    if (c.priority or c.proposed_priority) == priority}
        assert set(queue_ids(agent, "all", "open", priority=priority)) == expected
        assert set(queue_ids(agent, "all", "open", priority=priority, page=True)) == expected


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
