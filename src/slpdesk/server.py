"""Django-side work of the ``slpdesk`` command: ``manage``, ``serve`` and ``demo``.

:mod:`slpdesk.cli` imports this module only inside those subcommands, so
``slpdesk sla`` never loads Django. Settings come from ``slpdesk.settings``
unless ``DJANGO_SETTINGS_MODULE`` names another module.
"""

from __future__ import annotations

import fcntl
import os
import sys
from contextlib import contextmanager
from pathlib import Path

SETTINGS_MODULE = "slpdesk.settings"


def setup() -> None:
    """Configure Django (settings from the environment) and load the apps."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS_MODULE)
    import django

    django.setup()


def manage(argv: list[str]) -> int:
    """Run a Django management command, as ``manage.py`` would (``argv`` after ``manage``)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS_MODULE)
    from django.core.management import execute_from_command_line

    execute_from_command_line(["slpdesk manage", *argv])  # exits non-zero on errors
    return 0


def migrate() -> None:
    """Bring the database schema up to date (idempotent).

    Safe when several processes start at once: on PostgreSQL they queue on an
    advisory lock, on SQLite on a lock file in the data directory, and each
    one after the first finds nothing left to do.
    """
    from django.core.management import call_command

    with exclusive():
        call_command("migrate", interactive=False, verbosity=1)


_LOCK_KEY = 0x51_9D_E5_C0  # an arbitrary, fixed advisory-lock number for slpdesk set-up


@contextmanager
def exclusive():
    """One process at a time, across machines sharing the database: for set-up steps
    (migrations, loading the demo) that several processes may start at once."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", [_LOCK_KEY])
        try:
            yield
        finally:
            with connection.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(%s)", [_LOCK_KEY])
        return
    from django.conf import settings

    with open(Path(settings.DATA_DIR) / "migrate.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def serve(host: str, port: int, *, threads: int = 8) -> None:
    """Serve the WSGI application with waitress until interrupted.

    Raises OSError when the address cannot be listened on.
    """
    from waitress import create_server

    from slpdesk.wsgi import application

    server = create_server(application, host=host, port=port, threads=threads,
                           ident="slpdesk")
    print(f"slpdesk: serving on http://{server.effective_host}:{server.effective_port}/ "
          "(Ctrl-C to stop)", flush=True)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()


def demo(*, now=None) -> bool:
    """Load the demo data set unless it is there; print the log-ins. True if loaded now."""
    from django.utils import timezone

    from slpdesk.desk import demo as demo_data

    now = now or timezone.now()
    with exclusive():
        loaded = demo_data.load_demo(now)
    if loaded:
        print(f"slpdesk: demo data loaded ({demo_data.summary()})")
    else:
        print("slpdesk: demo data already loaded; left as it is")
    print(demo_data.logins_text())
    sys.stdout.flush()
    return loaded
