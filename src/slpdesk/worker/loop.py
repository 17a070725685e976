"""``slpdesk worker``: a loop of small steps with the database as the queue.

Each round runs every step once with a fresh ``now``: send one e-mail, send one
webhook delivery (:mod:`slpdesk.webhooks.delivery`), act on
one case whose SLA moment has come, recompute one batch of cases after a
calendar change, take in one received e-mail (when the intake is installed).
A round that did something is followed at once by the next; an idle round
sleeps ``poll`` seconds. ``once`` stops after the first idle round (tests,
cron).

* Several workers may run at once, on one machine or many (:mod:`.claims`).
* SIGTERM or SIGINT: the step in progress finishes, then the loop ends
  (exit status 0).
* The database going away (a restart, a fail-over) is survived: the error is
  reported, connections are closed, and the round is tried again after 1, 2,
  4… up to 30 seconds. With ``once`` the worker gives up (status 75, try again
  later) after about 30 seconds (five waits: 1 + 2 + 4 + 8 + 16).
* While a step runs, a thread renews the worker's claims (:class:`.claims.Renewer`),
  so leases are short and a worker that dies loses its rows within a minute.
* Each worker keeps a heartbeat row (:class:`WorkerHeartbeat`, every 15 s)
  that the console's mail page shows; a calendar change hands its recompute
  to the workers while one is alive (:func:`slpdesk.desk.services.calendar_changed`).
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections, connections
from django.utils import timezone

from slpdesk.desk.models import WorkerHeartbeat
from slpdesk.privacy import retention
from slpdesk.webhooks.delivery import handle_one_webhook

from . import steps as steps_mod
from .claims import Renewer
from .steps import Context

DB_ERRORS = (OperationalError, InterfaceError)
HEARTBEAT_EVERY = timedelta(seconds=15)
#: Heartbeats of workers not seen for this long are removed when a worker starts.
HEARTBEAT_FORGET = timedelta(days=7)
MAX_DB_WAIT = 30.0
ONCE_DB_TRIES = 6  # the sixth failure in a row gives up (after 1+2+4+8+16 s)
EX_TEMPFAIL = 75  # --once gave up on the database: try again later

Step = Callable[[datetime, Context], bool]


def _inbound_step() -> Step | None:
    """The e-mail intake's step, when the intake is installed."""
    try:
        from slpdesk.mail import inbound
    except ImportError:
        return None
    handle = getattr(inbound, "handle_one_inbound", None)
    if handle is None:
        return None

    def handle_one_inbound(now: datetime, ctx: Context) -> bool:
        return handle(now, worker=ctx.name)

    return handle_one_inbound


def default_steps() -> list[tuple[str, Step]]:
    found: list[tuple[str, Step]] = [
        ("outbox", steps_mod.handle_one_outbox),
        ("sla", steps_mod.handle_one_sla_event),
        ("recompute", steps_mod.handle_one_recompute_batch),
        ("statements", steps_mod.handle_statements),
        ("webhooks", handle_one_webhook),
    ]
    inbound = _inbound_step()
    if inbound is not None:
        found.append(("inbound", inbound))
    # Once a day, with SLPDESK_RETENTION_YEARS set: old cases lose their personal data.
    found.append(("retention", retention.handle_one_retention))
    return found


class Worker:
    def __init__(self, *, poll: float = 2.0, steps: list[tuple[str, Step]] | None = None,
                 ctx: Context | None = None, clock: Callable[[], datetime] = timezone.now):
        self.poll = poll
        self.steps = default_steps() if steps is None else steps
        self.ctx = ctx or Context()
        self.clock = clock
        self.stopping = threading.Event()
        self.started_at: datetime | None = None
        self._last_beat: datetime | None = None
        self.renewer: Renewer | None = None

    # ------------------------------------------------------------- control
    def stop(self, *_args) -> None:
        """Finish the step in progress, then leave the loop."""
        self.stopping.set()

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stopping.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, 0.1))

    # ---------------------------------------------------------------- loop
    def run(self, *, once: bool = False) -> int:
        """Loop until stopped (or, with ``once``, until there is nothing to do)."""
        mail = settings.SLPDESK_EMAIL or f"kept in {settings.SLPDESK_MAIL_DIR}"
        self.ctx.say(f"{self.ctx.name} started (poll {self.poll:g} s; lease "
                     f"{self.ctx.lease.total_seconds():g} s; mail: {mail})")
        if not _in_transaction():  # (inside a test's transaction nobody else may write)
            self.renewer = Renewer(name=self.ctx.name, lease=self.ctx.lease,
                                   every=self.ctx.renew_every, clock=self.clock)
            self.renewer.start()
        try:
            return self._loop(once)
        finally:
            if self.renewer is not None:
                self.renewer.stop()

    def _loop(self, once: bool) -> int:
        failures = 0
        rested = True
        while not self.stopping.is_set():
            try:
                if rested and not _in_transaction():
                    # After a rest (not between busy rounds: reconnecting costs), drop
                    # connections that are too old or that a restart broke.
                    close_old_connections()
                rested = False
                self._redo_unfinished()
                self._beat()
                did = self.round()
                failures = 0
            except DB_ERRORS as exc:
                failures += 1
                if once and failures >= ONCE_DB_TRIES:
                    self.ctx.warn(f"database unavailable, giving up: {exc}")
                    return EX_TEMPFAIL
                wait = min(2.0 ** (failures - 1), MAX_DB_WAIT)
                self.ctx.warn(f"database unavailable ({type(exc).__name__}: "
                              f"{str(exc).strip()}); trying again in {wait:g} s")
                self._close_connections()
                self._sleep(wait)
                continue
            if did:
                continue
            if once:
                break
            self._sleep(self.poll)
            rested = True
        self._goodbye()
        self.ctx.say(f"{self.ctx.name} stopped")
        return 0

    def round(self) -> bool:
        """Every step once; True if any did something."""
        did = False
        for name, step in self.steps:
            if self.stopping.is_set():
                break
            if self.renewer is not None:
                self.renewer.working(True)
            try:
                did = bool(step(self.clock(), self.ctx)) or did
            except DB_ERRORS:
                raise
            except Exception as exc:  # the steps push failing rows ahead; this is a net
                self.ctx.warn(f"step {name} raised {type(exc).__name__}: {exc}", trace=True)
            finally:
                if self.renewer is not None:
                    self.renewer.working(False)
        return did

    # ------------------------------------------------------------- helpers
    def _redo_unfinished(self) -> None:
        while self.ctx.unfinished:
            self.ctx.unfinished[0]()
            self.ctx.unfinished.pop(0)

    def _beat(self) -> None:
        now = self.clock()
        if self._last_beat is not None and now - self._last_beat < HEARTBEAT_EVERY:
            return
        if self.started_at is None:
            self.started_at = now
            WorkerHeartbeat.objects.filter(seen_at__lt=now - HEARTBEAT_FORGET).delete()
        WorkerHeartbeat.objects.update_or_create(
            name=self.ctx.name, defaults={"seen_at": now},
            create_defaults={"seen_at": now, "started_at": self.started_at})
        self._last_beat = now

    def _goodbye(self) -> None:
        with contextlib.suppress(*DB_ERRORS):
            WorkerHeartbeat.objects.filter(name=self.ctx.name).delete()
        self._close_connections()

    @staticmethod
    def _close_connections() -> None:
        if _in_transaction():  # run inside a test's transaction: leave it be
            return
        for conn in connections.all(initialized_only=True):
            with contextlib.suppress(Exception):  # a connection that is already broken
                conn.close()


def _in_transaction() -> bool:
    return any(conn.in_atomic_block for conn in connections.all(initialized_only=True))
