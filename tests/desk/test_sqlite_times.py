"""SQLite date-times read straight into aware UTC values (slpdesk.sqlite_times): the
same values Django's own converters give, for every shape of text a column may hold."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db import connection

from slpdesk.desk.models import Case
from slpdesk.sqlite_times import read_datetime


@pytest.mark.parametrize("raw, expected", [
    (b"2026-05-03 14:18:00", datetime(2026, 5, 3, 14, 18, tzinfo=UTC)),
    (b"2026-05-03 14:18:00.000250", datetime(2026, 5, 3, 14, 18, 0, 250, tzinfo=UTC)),
    (b"2026-12-31T23:59:59", datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)),
    # Not Django's own shapes: read as Django reads them (an offset kept, else naive).
    (b"2026-05-03 16:18:00+02:00",
     datetime(2026, 5, 3, 16, 18, tzinfo=timezone(timedelta(hours=2)))),
    (b"2026-05-03 14:18", datetime(2026, 5, 3, 14, 18)),
])
def test_each_shape_of_text_is_read_as_django_reads_it(raw, expected):
    got = read_datetime(raw)
    assert got == expected and got.utcoffset() == expected.utcoffset()


def test_a_stored_time_comes_back_aware_and_equal(cast):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's converters")
    from slpdesk.desk import services

    case = services.receive_case(cast.hartford, contact=cast.alice, channel="portal",
                                 proposed_priority="P3", title="Clock", actor=cast.alice,
                                 now=datetime(2026, 3, 2, 15, 0, tzinfo=UTC))
    at = datetime(2026, 3, 29, 0, 59, 59, 999999, tzinfo=UTC)  # the night of a DST change
    Case.objects.filter(pk=case.pk).update(received_at=at)
    with connection.cursor() as cursor:
        cursor.execute("SELECT received_at FROM desk_case WHERE id = %s", [case.pk])
        (raw,) = cursor.fetchone()
    assert raw == at and raw.tzinfo is UTC  # the driver's value, before Django's converter
    assert Case.objects.values_list("received_at", flat=True).get(pk=case.pk) == at
