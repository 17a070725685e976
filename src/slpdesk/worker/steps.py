"""The worker's steps. Each does one small piece of work and says whether it did any:
``handle_one_…(now, ctx) -> bool``.

* :func:`handle_one_outbox` - send one waiting e-mail (urgent ones first).
* :func:`handle_one_sla_event` - act on one case whose SLA moment has come: a
  clock at risk or breached, a status update owed soon or overdue.
* :func:`handle_one_recompute_batch` - recompute up to 500 cases a calendar
  change handed to the worker (:func:`slpdesk.desk.services.request_recompute`)
  in one transaction (claimed by their row locks), then act on those whose SLA
  moment has come.

A step that fails on a row pushes that row ahead instead of failing again at
once: a mail waits ``outbound.backoff(attempts)`` (1 min doubling to 1 h, given
up after two days), a case waits :data:`SLA_RETRY`. Database errors are not
caught here: the loop (:mod:`.loop`) reconnects and goes on.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, InterfaceError, OperationalError, transaction

from slpdesk.desk import services
from slpdesk.desk.models import (
    CalendarClosure,
    Case,
    Claimable,
    Outbox,
    RecomputeWaiting,
    SlaNotice,
)
from slpdesk.mail import notifications, outbound
from slpdesk.mail.transport import SendError
from slpdesk.reports import statements
from slpdesk.sla import SlaState
from slpdesk.webhooks import events as hooks

from . import claims
from .schedule import CLOCKS, NOTICE_KINDS

log = logging.getLogger("slpdesk.worker")

#: How long a claimed row is ours. While a step works on a mail (an SMTP conversation
#: times out after 30 s, ``timeout=`` in SLPDESK_EMAIL_URL, 120 s at most) the
#: worker renews its claims every :data:`RENEW_EVERY` (:class:`.claims.Renewer`), so
#: the lease can be short: a worker that dies loses its row within a minute.
LEASE = timedelta(seconds=60)
RENEW_EVERY = timedelta(seconds=15)
#: A case whose SLA step raised is looked at again this much later.
SLA_RETRY = timedelta(minutes=10)
#: Cases recomputed by one step after a calendar change.
RECOMPUTE_BATCH = services.RECOMPUTE_BATCH


def default_name() -> str:
    """``host:pid``: unique among the workers sharing a database."""
    return f"{socket.gethostname()}:{os.getpid()}"[:100]


@dataclass
class Context:
    """Who is working (the name claims carry), for how long a claim holds (renewed
    every ``renew_every`` while a step runs), and marks to write again once the
    database is back. Reports go to the ``slpdesk.worker`` logger."""

    name: str = field(default_factory=default_name)
    lease: timedelta = LEASE
    renew_every: timedelta = RENEW_EVERY
    #: Writes that failed because the database went away after the work was done
    #: (a mail sent, not yet marked sent): the loop retries them first.
    unfinished: list[Callable[[], object]] = field(default_factory=list)
    #: When this worker last looked for monthly SLA statements that are due.
    statements_checked_at: datetime | None = None

    def say(self, text: str, **fields) -> None:
        log.info("%s", text, extra={"worker": self.name, **fields})

    def warn(self, text: str, *, trace: bool = False, **fields) -> None:
        log.warning("%s", text, exc_info=trace, extra={"worker": self.name, **fields})


_DEFAULT = Context()


# ------------------------------------------------------------------ outbox
def handle_one_outbox(now: datetime, ctx: Context | None = None) -> bool:
    """Send one waiting e-mail; temporary failures wait and retry, permanent ones
    (and mails still undelivered after two days) are marked failed for agents."""
    ctx = ctx or _DEFAULT
    qs = Outbox.objects.due(now).order_by("-urgent", "next_attempt_at", "pk")
    row = claims.claim_next(qs, now=now, lease=ctx.lease, name=ctx.name)
    if row is None:
        return False
    delivered = []
    try:
        _send(row, now, ctx, delivered)
    except (OperationalError, InterfaceError):
        # The database went away while we held the row. Once it is back: a mail that
        # went out is marked sent (never sent twice); one that did not is let go at
        # once instead of when the lease ends.
        if delivered:
            ctx.unfinished.append(lambda: claims.finish(
                row, name=ctx.name, now=now, state=Claimable.State.DONE))
        else:
            ctx.unfinished.append(lambda: claims.release(row, name=ctx.name))
        raise
    return True


def _send(row: Outbox, now: datetime, ctx: Context, delivered: list) -> None:
    reason = outbound.reason_not_to_send(row)
    if reason:
        claims.finish(row, name=ctx.name, now=now, state=Claimable.State.DONE,
                      error=f"not sent: {reason}")
        ctx.say(f"mail {row.message_id} not sent: {reason}", **_mail_fields(row, "skipped"))
        return
    try:
        where = outbound.deliver(row)
    except SendError as exc:
        attempts = row.attempts + 1
        if exc.permanent or now - row.created_at >= outbound.GIVE_UP_AFTER:
            error = str(exc) if exc.permanent else f"gave up after {attempts} attempts: {exc}"
            claims.finish(row, name=ctx.name, now=now, state=Claimable.State.FAILED,
                          error=error)
            ctx.warn(f"mail to {row.to_address} failed ({row.message_id}): {error}",
                     **_mail_fields(row, "failed"))
        else:
            delay = outbound.backoff(attempts)
            claims.retry_later(row, name=ctx.name, now=now, delay=delay, error=str(exc))
            ctx.warn(f"mail to {row.to_address} not sent yet (attempt {attempts}): {exc}; "
                     f"next try in {int(delay.total_seconds())} s",
                     **_mail_fields(row, "retry"))
        return
    except Exception as exc:  # a bug or bad data: this row waits, the loop goes on
        if _is_database_error(exc):
            raise
        error = f"{type(exc).__name__}: {exc}"
        if now - row.created_at >= outbound.GIVE_UP_AFTER:
            claims.finish(row, name=ctx.name, now=now, state=Claimable.State.FAILED,
                          error=f"gave up after {row.attempts + 1} attempts: {error}")
        else:
            claims.retry_later(row, name=ctx.name, now=now,
                               delay=outbound.backoff(row.attempts + 1), error=error)
        ctx.warn(f"mail {row.message_id} raised {error}", trace=True,
                 **_mail_fields(row, "retry"))
        return
    delivered.append(where)
    claims.finish(row, name=ctx.name, now=now, state=Claimable.State.DONE)
    if settings.SLPDESK_EMAIL is None:
        ctx.say(f"mail {row.kind} to {row.to_address} kept in {where} (not sent: "
                f"SLPDESK_EMAIL_URL is unset)", **_mail_fields(row, "kept"))
    else:
        ctx.say(f"mail {row.kind} to {row.to_address} sent ({row.message_id})",
                **_mail_fields(row, "sent"))


def _mail_fields(row: Outbox, outcome: str) -> dict:
    """A mail's outcome for JSON logs: never its subject or body."""
    return {"mail": row.message_id, "mail_kind": row.kind, "outcome": outcome}


def _is_database_error(exc: BaseException) -> bool:
    return isinstance(exc, OperationalError | InterfaceError)


# ------------------------------------------------------------------ SLA
def handle_one_sla_event(now: datetime, ctx: Context | None = None) -> bool:
    """Act on the case whose SLA moment came first (``next_sla_event_at`` ≤ now)."""
    ctx = ctx or _DEFAULT
    pks = claims.claim_cases(Case.objects.all(), now=now, lease=ctx.lease, limit=1)
    if not pks:
        return False
    _process(pks[0], now, ctx, {})
    return True


def handle_one_recompute_batch(now: datetime, ctx: Context | None = None, *,
                               size: int = RECOMPUTE_BATCH) -> bool:
    """Recompute up to ``size`` cases whose SLA columns a calendar change marked not
    current (``sla_computed_at`` empty) in one go (:func:`services.recompute_cases`:
    events and notices read for all of them at once, one bulk UPDATE), then fire
    what falls due now for those whose SLA moment has come (each once, as the SLA
    step would). The batch is claimed by locking its rows in the same transaction
    (:func:`_claim_batch`), not by writing a lease: a row written once, not twice
    (on PostgreSQL each write is a new entry in every index of the case, unless no
    indexed column changes). A batch that cannot be recomputed in one go (a case
    whose events the engine refuses) is taken case by case, so one bad case holds
    up no other."""
    ctx = ctx or _DEFAULT
    closed: dict[str, list] = {}
    with transaction.atomic():
        pks = _claim_batch(size)
        if not pks:
            return False
        try:
            cases = services.recompute_cases(pks, now, closed)
        except Exception as exc:
            if _is_database_error(exc):
                raise  # nothing was written: the cases wait for the next round
            cases = None
    if cases is None:
        due = pks
    else:
        due = [c.pk for c in cases
               if c.next_sla_event_at is not None and c.next_sla_event_at <= max(now, c.updated_at)]
    for n, pk in enumerate(due):
        try:
            _process(pk, now, ctx, closed)
        except (OperationalError, InterfaceError):
            for rest in due[n + 1:]:  # (the one that failed is let go by _process)
                ctx.unfinished.append(_releaser(rest, now, ctx))
            raise
        if cases is None:
            # Taken case by case: off the list once done (or, if it failed, once
            # handed to the SLA step, which looks at it again SLA_RETRY later).
            RecomputeWaiting.objects.filter(case_id=pk).delete()
    return True


def _claim_batch(size: int) -> list[int]:
    """Up to ``size`` cases waiting for a recompute (:class:`RecomputeWaiting`), their
    rows in the list locked for the caller's transaction (``FOR UPDATE SKIP LOCKED``
    on PostgreSQL: another worker takes the next ones; SQLite's write lock holds the
    whole transaction), which takes them off the list as it recomputes them."""
    waiting = RecomputeWaiting.objects.order_by("case_id")
    return list(claims.skip_locked(waiting).values_list("case_id", flat=True)[:size])


def _releaser(pk: int, now: datetime, ctx: Context) -> Callable[[], object]:
    """Let a claimed case go (when the database is back after failing us)."""
    return lambda: Case.objects.filter(pk=pk, next_sla_event_at=now + ctx.lease).update(
        next_sla_event_at=now)


def _process(pk: int, now: datetime, ctx: Context, closed: dict[str, list]) -> None:
    try:
        case, fired = process_case(pk, now, closed)
    except Case.DoesNotExist:
        return
    except Exception as exc:
        if _is_database_error(exc):
            ctx.unfinished.append(_releaser(pk, now, ctx))
            raise
        Case.objects.filter(pk=pk).update(next_sla_event_at=now + SLA_RETRY)
        ctx.warn(f"case {pk}: {type(exc).__name__}: {exc}; looked at again in "
                 f"{int(SLA_RETRY.total_seconds())} s", trace=True)
        return
    for notice in fired:
        ctx.say(f"{case.number}: {notice.kind} ({notice.clock}, due "
                f"{notice.due.isoformat()})")


def process_case(pk: int, now: datetime, closed: dict[str, list] | None = None
                 ) -> tuple[Case, list[SlaNotice]]:
    """Recompute one claimed case at ``now``, record and announce the SLA moments
    that have come, and store when it next needs the worker - one transaction."""
    closed = {} if closed is None else closed
    with transaction.atomic():
        # The row alone: on PostgreSQL a join read with FOR UPDATE may pair the row as
        # it is once the lock is ours with joined rows from before (an assignee id
        # without its user), so related rows are read after the lock.
        case = Case.objects.select_for_update().get(pk=pk)
        # Another machine's clock may be a little behind the case's last change.
        at = max(now, case.updated_at)
        if case.calendar not in closed:
            closed[case.calendar] = CalendarClosure.dates(case.calendar)
        state = services.refresh_sla(case, at, closed[case.calendar])
        fired = fire_notices(case, state, at)
        next_at = services.next_sla_event(case, state, closed[case.calendar]) if fired \
            else case.next_sla_event_at
        if next_at is not None and next_at <= at:
            # Nothing left to fire at this instant: never spin on the same case.
            next_at = at + timedelta(seconds=1)
        if next_at != case.next_sla_event_at:
            case.next_sla_event_at = next_at
            case.save(update_fields=["next_sla_event_at"])
    return case, fired


def fire_notices(case: Case, state: SlaState, now: datetime) -> list[SlaNotice]:
    """Record each SLA moment that has come and is not recorded yet (once per case,
    kind, clock and due time, even with racing workers) and write its mails."""
    fired = []
    for name in CLOCKS:
        clock = getattr(state, name)
        if not clock.is_live or clock.due is None:
            continue
        warn, breach = NOTICE_KINDS[name]
        if clock.state == "breached":
            kind = breach
        elif clock.state == "at_risk":
            kind = warn
        else:
            continue
        done = SlaNotice.objects.filter(case=case, clock=name, due=clock.due,
                                        kind__in=(kind, breach)).exists()
        if done:
            continue
        try:
            with transaction.atomic():
                notice = SlaNotice.objects.create(case=case, kind=kind, clock=name,
                                                  due=clock.due, fired_at=now)
        except IntegrityError:  # another worker recorded it a moment ago
            continue
        notifications.sla_notice(case, notice, clock, now=now)
        hooks.sla_notice(case, notice, breach=kind == breach, now=now)
        fired.append(notice)
    return fired


# ------------------------------------------------------------------ statements
#: How often a worker looks for monthly SLA statements that are due (each is sent once).
STATEMENTS_EVERY = timedelta(hours=1)


def handle_statements(now: datetime, ctx: Context | None = None) -> bool:
    """At most once an hour: send last month's SLA statements of the organisations whose
    first business day of this month has begun (:func:`statements.send_due`). Returns
    False: the check is never a reason to skip the pause between rounds."""
    ctx = ctx or _DEFAULT
    if (ctx.statements_checked_at is not None
            and now - ctx.statements_checked_at < STATEMENTS_EVERY):
        return False
    ctx.statements_checked_at = now
    for outcome in statements.send_due(now):
        if outcome.sent:
            ctx.say("SLA statement written to the outbox", organisation=outcome.organisation.pk,
                    month=outcome.month)
    return False
