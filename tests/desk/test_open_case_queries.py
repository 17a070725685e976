"""Opening a case costs a fixed, small number of queries (issue 14)."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from desk.conftest import ny
from slpdesk.desk import services
from slpdesk.desk.models import Case, Outbox
from slpdesk.mail.outbound import enqueue

#: Transaction control is not a query: BEGIN/COMMIT, or the test's savepoints.
CONTROL = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK")


def test_opening_a_case_takes_at_most_ten_queries(cast):
    now = ny(2026, 7, 6, 9, 0)
    # The first case stores the shipped policy version; count a later one.
    services.receive_case(cast.hartford, contact=cast.alice, channel="portal",
                          proposed_priority="P3", title="First", release=cast.r2026,
                          actor=cast.alice, now=now)
    with CaptureQueriesContext(connection) as ctx:
        case = services.receive_case(cast.hartford, contact=cast.alice, channel="portal",
                                     proposed_priority="P2", title="Printer on fire",
                                     release=cast.r2026, actor=cast.alice, now=now)
    queries = [q["sql"] for q in ctx.captured_queries
               if not q["sql"].upper().startswith(CONTROL)]
    # Access, policy in force, agreement, the case's id, closures, the case with its
    # number and SLA columns, its search document, event, outbox row, webhooks.
    assert len(queries) <= 10, "\n".join(queries)
    # The row is written once, whole: no UPDATE of the case just inserted.
    assert [q for q in queries if q.startswith('UPDATE "desk_case"')] == []
    case = Case.objects.get(pk=case.pk)
    # P2: first response within 8 business hours, Mon 09:00 -> Mon 17:00.
    assert (case.number, case.response_due) == (f"SLP-{case.pk:06d}", ny(2026, 7, 6, 17, 0))
    assert Outbox.objects.filter(case=case, kind="case_received").count() == 1


def test_a_mail_written_twice_is_one_row_without_a_savepoint(cast):
    """enqueue writes its row with INSERT … ON CONFLICT DO NOTHING: the second time for
    the same Message-ID writes nothing and leaves the caller's transaction usable."""
    now = ny(2026, 7, 6, 9, 0)
    case = services.receive_case(cast.hartford, contact=cast.alice, channel="portal",
                                 proposed_priority="P3", title="First", release=cast.r2026,
                                 actor=cast.alice, now=now)
    with CaptureQueriesContext(connection) as ctx:
        first = enqueue("case_received", to=cast.alice, case=case, now=now, key="again")
        second = enqueue("case_received", to=cast.alice, case=case, now=now, key="again")
    assert [q["sql"] for q in ctx.captured_queries if "SAVEPOINT" in q["sql"]] == []
    assert second is None
    stored = Outbox.objects.get(pk=first.pk)
    assert (stored.message_id, stored.recipient_id) == (first.message_id, cast.alice.pk)
    assert Outbox.objects.filter(message_id=first.message_id).count() == 1
    assert Case.objects.filter(pk=case.pk).exists()  # the transaction goes on
