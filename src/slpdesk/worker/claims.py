"""Taking a row of work with several workers running, on one machine or many.

The database is the queue. A step first picks candidates, then **claims** one
with a conditional UPDATE that must change exactly one row: for an outbox or
inbound row ::

    UPDATE … SET claimed_until = now + lease, claimed_by = me
     WHERE id = ? AND state = 'pending' AND next_attempt_at <= now
       AND (claimed_until IS NULL OR claimed_until < now)

and for a case whose SLA needs the worker ::

    UPDATE desk_case SET next_sla_event_at = now + lease
     WHERE id = ? AND next_sla_event_at <= now

If it changed no row another worker got there first, and the step moves on.
On PostgreSQL the candidates are read with ``SELECT … FOR UPDATE SKIP LOCKED``
in the same transaction as the UPDATE, so racing workers take different rows
instead of queueing on one; on SQLite (where ``select_for_update`` does
nothing) ``BEGIN IMMEDIATE`` serialises the transactions and the conditional
UPDATE decides.

The lease (``claimed_until``, or the pushed ``next_sla_event_at``) is what
makes a crash harmless: a worker that dies holding a row loses it when the
lease runs out (a minute), and another worker takes it up then. While a step
runs, a :class:`Renewer` thread extends the worker's claims on mail rows every
15 seconds, so a long SMTP conversation never loses its row and no row is
worked on twice in normal operation; a case is worked on in milliseconds, and
working on one twice is harmless (its notices are recorded once).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q, QuerySet

from slpdesk.desk.models import Case, Claimable, InboundMessage, Outbox
from slpdesk.webhooks.models import Delivery

PENDING = Claimable.State.PENDING


def skip_locked(qs: QuerySet) -> QuerySet:
    """``qs`` read with ``FOR UPDATE SKIP LOCKED`` where the database has it."""
    if connection.features.has_select_for_update_skip_locked:
        return qs.select_for_update(skip_locked=True)
    return qs


def _claimable(model, pk: int, now: datetime) -> QuerySet:
    return model.objects.filter(pk=pk, state=PENDING, next_attempt_at__lte=now).filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))


def claim_next(qs: QuerySet, *, now: datetime, lease: timedelta, name: str,
               candidates: int = 5):
    """Claim the first row of ``qs`` (rows of a :class:`Claimable` model, due at
    ``now``, in the order to take them) for ``name`` until ``now + lease``.
    Returns the claimed row, or None when there is nothing to take."""
    model = qs.model
    with transaction.atomic():
        pks = list(skip_locked(qs).values_list("pk", flat=True)[:candidates])
        for pk in pks:
            if _claimable(model, pk, now).update(claimed_until=now + lease,
                                                 claimed_by=name) == 1:
                return model.objects.get(pk=pk)
    return None


def finish(row, *, name: str, now: datetime, state: str, error: str = "") -> bool:
    """Mark a row ``name`` holds as done or failed. False if it is no longer ours."""
    return type(row).objects.filter(pk=row.pk, claimed_by=name, state=PENDING).update(
        state=state, finished_at=now, claimed_until=None, last_error=error[:2000]) == 1


def release(row, *, name: str) -> bool:
    """Let go of a row ``name`` holds, untouched, for any worker to take at once."""
    return type(row).objects.filter(pk=row.pk, claimed_by=name, state=PENDING).update(
        claimed_until=None, claimed_by="") == 1


def retry_later(row, *, name: str, now: datetime, delay: timedelta, error: str) -> bool:
    """Give a row back for another attempt after ``delay`` (one attempt more)."""
    return type(row).objects.filter(pk=row.pk, claimed_by=name, state=PENDING).update(
        attempts=F("attempts") + 1, next_attempt_at=now + delay, claimed_until=None,
        claimed_by="", last_error=error[:2000]) == 1


def claim_cases(qs: QuerySet, *, now: datetime, lease: timedelta, limit: int) -> list[int]:
    """Claim up to ``limit`` cases of ``qs`` whose SLA needs the worker at ``now``
    (``next_sla_event_at`` come), pushing their ``next_sla_event_at`` to
    ``now + lease``. Returns the ids claimed."""
    claimed = []
    with transaction.atomic():
        due = qs.filter(next_sla_event_at__lte=now).order_by("next_sla_event_at", "pk")
        for pk in list(skip_locked(due).values_list("pk", flat=True)[:limit]):
            if Case.objects.filter(pk=pk, next_sla_event_at__lte=now).update(
                    next_sla_event_at=now + lease) == 1:
                claimed.append(pk)
    return claimed


def renew(*, name: str, now: datetime, lease: timedelta) -> int:
    """Extend every claim ``name`` holds on a mail row (out or in) or a webhook delivery
    to ``now + lease``.
    Returns how many rows."""
    return sum(model.objects.filter(claimed_by=name, state=PENDING,
                                    claimed_until__isnull=False)
               .update(claimed_until=now + lease)
               for model in (Outbox, InboundMessage, Delivery))


#: A step that runs longer than this stops being renewed: its rows go to another
#: worker when the lease ends (a worker stuck for good must not hold them forever).
MAX_HOLD = timedelta(minutes=10)


class Renewer:
    """Renews a worker's claims every ``every`` while it is :meth:`working` (a step
    is running), from a thread of its own with its own database connection. When
    the process dies, the renewals stop and the claims run out after ``lease``."""

    def __init__(self, *, name: str, lease: timedelta, every: timedelta,
                 clock: Callable[[], datetime]):
        self.name, self.lease, self.every, self.clock = name, lease, every, clock
        self._busy_since: datetime | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="slpdesk-renewer",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def working(self, busy: bool) -> None:
        """A step starts (True) or ends (False)."""
        self._busy_since = self.clock() if busy else None

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.every.total_seconds()):
                since = self._busy_since
                if since is None:
                    continue
                now = self.clock()
                if now - since > MAX_HOLD:
                    continue
                try:
                    renew(name=self.name, now=now, lease=self.lease)
                except DatabaseError as exc:  # the loop reports outages; try next time
                    log.warning("could not renew the claims of %s: %s", self.name, exc)
                    connection.close()
        finally:
            connection.close()


log = logging.getLogger("slpdesk.worker")
