"""Django-side work of the ``slpdesk`` command: ``manage``, ``serve`` and ``demo``.

:mod:`slpdesk.cli` imports this module only inside those subcommands, so
``slpdesk sla`` never loads Django. Settings come from ``slpdesk.settings``
unless ``DJANGO_SETTINGS_MODULE`` names another module.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import signal
import socket
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from gunicorn.workers.gthread import ThreadWorker

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


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: any free port).

    Raises OSError when the address cannot be listened on.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family, backlog=2048)


def serve(host: str, port: int, *, workers: int = 2, threads: int = 8,
          on_exit=None) -> None:
    """Serve the WSGI application with gunicorn (``workers`` processes of ``threads``
    threads each) until SIGTERM or SIGINT; then stop accepting connections, let the
    requests in flight finish for up to ``SLPDESK_SHUTDOWN_GRACE`` seconds and exit 0
    (``on_exit()`` runs first, in this process only). The forked workers leave through
    SystemExit too: callers must not clean up in ``finally`` blocks around this call.

    Raises OSError when the address cannot be listened on.
    """
    from django.conf import settings
    from django.db import connections

    sock = listen(host, port)
    # No connection may be shared by the processes gunicorn forks.
    connections.close_all()
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host

    def when_ready(arbiter):
        sock.detach()  # gunicorn took the descriptor over (and closes it when it stops)
        print(f"slpdesk: serving on http://{shown}:{bound_port}/ (Ctrl-C to stop)",
              flush=True)

    options = {
        "bind": [f"fd://{sock.fileno()}"],
        "workers": workers,
        "threads": threads,
        "worker_class": GracefulThreadWorker,
        "graceful_timeout": settings.SLPDESK_SHUTDOWN_GRACE,
        "timeout": 120,                 # a worker stuck for 2 minutes is replaced
        "max_requests": 5000,           # recycle workers now and then (bounded memory)
        "max_requests_jitter": 500,
        # X-Forwarded-* are judged by slpdesk.web.proxy (SLPDESK_TRUSTED_PROXIES), not here.
        "forwarded_allow_ips": "",
        "proc_name": "slpdesk",
        "control_socket_disable": True,
        "when_ready": when_ready,
    }
    if on_exit is not None:
        options["on_exit"] = lambda arbiter: on_exit()

    class Application(BaseApplication):
        def load_config(self):
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self):
            from slpdesk.wsgi import application

            return application

        def run(self):
            _GracefulArbiter(self).run()  # ends the process: sys.exit(0) after a stop

    Application().run()


class _GracefulArbiter(Arbiter):
    """SIGINT stops as gracefully as SIGTERM (gunicorn's own SIGINT is abrupt)."""

    def handle_int(self):
        raise StopIteration


class GracefulThreadWorker(ThreadWorker):
    """A worker that finishes its requests on SIGINT too (Ctrl-C in a terminal signals
    every process of the group, not only the master)."""

    def init_signals(self):
        super().init_signals()
        signal.signal(signal.SIGINT, self.handle_exit)


def start_worker_process() -> subprocess.Popen:
    """``slpdesk worker`` as a child process beside the demo's web server: it mails (to
    files without SLPDESK_EMAIL_URL) and gives the SLA warnings. It is stopped with the
    server (:func:`stop_process`), and by the kernel if this process dies first."""

    def die_with_parent():  # Linux: SIGTERM the worker when its parent goes away
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG

    return subprocess.Popen([sys.executable, "-m", "slpdesk.cli", "worker"],
                            stdin=subprocess.DEVNULL, preexec_fn=die_with_parent)


def stop_process(proc: subprocess.Popen, timeout: float = 30) -> None:
    """SIGTERM ``proc`` and wait for it (SIGKILL after ``timeout`` seconds)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


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
