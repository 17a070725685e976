"""Is the database there? For the web pages (wait a little, else 503), the health
checks and the command line (one clear line, never a traceback).

* :func:`problem` says whether an exception means the database is *unavailable*
  (unreachable, restarting, locked, an unreadable or missing file) rather than a
  fault of the program; :func:`describe` puts it in one line.
* :func:`wait` connects, trying again for a few seconds.
* :func:`pending_migrations` counts the migrations not applied yet.

An SQLite database file that does not exist is never created here (SQLite would
create an empty one on connecting): only migrating creates it.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from django.db import DatabaseError, InterfaceError, OperationalError, connection

#: Exit statuses of the command line (sysexits.h).
EX_TEMPFAIL = 75  # unreachable, or not migrated yet (an upgrade under way): try again
EX_CONFIG = 78    # the database does not exist: a setting or a missing file

# SQLite's messages that mean "the schema is not what the program expects": a fault
# (or a database never migrated), not an outage.
_SCHEMA_ERRORS = ("no such table", "no such column", "has no column", "syntax error")


class Unavailable(Exception):
    """The database cannot be used now: ``kind`` is ``unreachable`` (down, restarting,
    locked, unreadable), ``missing`` (it does not exist) or ``not_migrated``."""

    def __init__(self, message: str, *, kind: str = "unreachable"):
        super().__init__(message)
        self.kind = kind

    @property
    def exit_status(self) -> int:
        return EX_CONFIG if self.kind == "missing" else EX_TEMPFAIL


def sqlite_path() -> Path | None:
    """The SQLite database file, or None (PostgreSQL, or an in-memory database)."""
    if connection.vendor != "sqlite":
        return None
    name = str(connection.settings_dict["NAME"])
    if connection.is_in_memory_db() or name.startswith("file:"):
        return None
    return Path(name)


def _sqlite_is_set_up(path: Path) -> bool:
    """True if ``path`` is an SQLite database that has been migrated at least once
    (read-only: never creates the file)."""
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
    except sqlite3.Error:
        return False
    try:
        return db.execute("SELECT 1 FROM sqlite_master WHERE name = 'django_migrations'") \
            .fetchone() is not None
    except sqlite3.Error:
        return False
    finally:
        db.close()


def missing() -> Unavailable | None:
    """The database does not exist (an SQLite file not there, or never migrated)."""
    path = sqlite_path()
    if path is None:
        return None
    if not path.exists():
        return Unavailable(f"the database file {path} does not exist", kind="missing")
    return None


def problem(exc: BaseException) -> Unavailable | None:
    """``exc`` as an :class:`Unavailable` if it means the database cannot be used now;
    None if it is a fault of the program (it keeps its traceback)."""
    if isinstance(exc, Unavailable):
        return exc
    if isinstance(exc, InterfaceError):
        return Unavailable(f"the database connection broke ({_one_line(exc)})")
    if not isinstance(exc, OperationalError):
        return None
    text = _one_line(exc)
    if connection.vendor == "sqlite" and any(s in text for s in _SCHEMA_ERRORS):
        path = sqlite_path()
        if path is not None and not _sqlite_is_set_up(path):
            return Unavailable(f"the database {path} is empty (never migrated)", kind="missing")
        return None
    if "does not exist" in text and "database" in text:  # PostgreSQL: no such database
        return Unavailable(f"the database does not exist ({text})", kind="missing")
    return Unavailable(f"the database is unavailable ({text})")


def describe(exc: BaseException) -> str:
    found = problem(exc)
    return str(found) if found is not None else _one_line(exc)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def wait(seconds: float) -> Unavailable | None:
    """Make sure the connection works, trying again for up to ``seconds``: None once it
    does, else what is wrong. Costs nothing on a connection already checked in this
    request (Django's health check is done once per request)."""
    deadline = time.monotonic() + seconds
    pause = 0.1
    while True:
        found = missing()
        if found is None:
            try:
                connection.close_if_health_check_failed()
                connection.ensure_connection()
                return None
            except DatabaseError as exc:
                found = problem(exc) or Unavailable(_one_line(exc))
                if not connection.in_atomic_block:
                    connection.close()
        left = deadline - time.monotonic()
        if left <= 0:
            return found
        time.sleep(min(pause, left))
        pause = min(pause * 2, 1.0)


def pending_migrations() -> int:
    """How many migrations are not applied to the database (raises DatabaseError when it
    cannot be read)."""
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    return len(executor.migration_plan(executor.loader.graph.leaf_nodes()))


def check_ready() -> None:
    """Raise :class:`Unavailable` unless the database exists, answers and is migrated."""
    found = missing()
    if found is not None:
        raise found
    try:
        pending = pending_migrations()
    except DatabaseError as exc:
        raise problem(exc) or Unavailable(_one_line(exc)) from None
    if pending:
        raise Unavailable(f"the database is not migrated ({pending} migrations pending)",
                          kind="not_migrated")
