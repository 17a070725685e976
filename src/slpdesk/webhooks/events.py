"""Writing deliveries: :func:`emit`, called once per event from the service that
makes the change, inside its transaction (like the mail outbox), so a change
that rolls back sends nothing and a committed change has its deliveries.

Cheap when nobody listens: one SELECT of the enabled subscriptions (a handful
of rows) per transaction, and nothing more when none wants the event; else the
payload is built once and one INSERT writes a delivery per subscription. The body is stored as
it will be sent (the same bytes and ``id`` on every attempt).

Where each event comes from (one place each):

=========================  ===================================================
``case.created``           :func:`slpdesk.desk.services.receive_case`
``case.updated``           the services that change priority, assignee, status
``case.message``           reply, log_call, request_information,
                           record_customer_reply (never an internal note)
``case.resolved``          :func:`slpdesk.desk.services.resolve`
``case.reopened``          :func:`slpdesk.desk.services.reopen`
``sla.at_risk/breached``   :func:`slpdesk.worker.steps.fire_notices` (once each)
``escalation.*``           escalate, acknowledge_escalation
``policy.published``       :func:`slpdesk.desk.publishing.publish_policy`
``update.published``       :func:`slpdesk.desk.publishing.publish_update`
=========================  ===================================================
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction

from slpdesk.api import represent
from slpdesk.desk.models import User, read_rows

from .models import Delivery, Event, Webhook
from .schemas import PAYLOADS

SYSTEM = represent.SYSTEM


def iso(at: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``: ``2026-03-02T14:05:00Z``."""
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _in_utc(value):
    """``value`` with every datetime in it in UTC (a case just changed holds the
    caller's ``now`` as given, in any zone; the payload says UTC, as the API does)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    if isinstance(value, dict):
        return {k: _in_utc(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_in_utc(v) for v in value]
    return value


class _Listeners:
    """The enabled subscriptions and their events, read once per transaction: valid
    while the ``on_commit`` hook registered with them is pending (a commit clears
    it; a rollback, of the transaction or of the savepoint it was read in, drops
    the hook and so the reading). Outside a transaction, read every time."""

    def __init__(self, rows):
        self.rows = rows

    def __call__(self):  # the on_commit hook
        if getattr(connection, _ATTR, None) is self:
            setattr(connection, _ATTR, None)


_ATTR = "slpdesk_webhook_listeners"


def _subscriptions() -> list[tuple[int, list]]:
    cached = getattr(connection, _ATTR, None)
    if cached is not None and connection.in_atomic_block and any(
            entry[1] is cached for entry in connection.run_on_commit):
        return cached.rows
    # (written out: every case opened asks, and compiling the ORM's query took two
    # thirds of the time; a JSON column reads as its text on both engines)
    rows = [(pk, json.loads(events)) for pk, events in
            read_rows(Webhook, "SELECT id, events FROM {table} WHERE enabled", [])]
    if connection.in_atomic_block:
        cached = _Listeners(rows)
        setattr(connection, _ATTR, cached)
        transaction.on_commit(cached)
    return rows


def forget_listeners() -> None:
    """A subscription changed in this transaction: read them again."""
    setattr(connection, _ATTR, None)


def listeners(event: str) -> list[int]:
    """The enabled subscriptions that want ``event``."""
    return [pk for pk, events in _subscriptions() if event in events]


def emit(event: str, data: dict | Callable[[], dict], *, now: datetime, case=None) -> int:
    """Write a delivery of ``event`` for each subscription that wants it. ``data`` is
    the payload's ``data`` (or a function making it, called only when someone
    listens); ``case`` orders the deliveries of one case. Returns how many."""
    if event not in Event.values:
        raise ValueError(f"unknown webhook event {event!r}")
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    hooks = listeners(event)
    if not hooks:
        return 0
    schema = PAYLOADS[event][0]
    payload = schema.model_validate(_in_utc(data() if callable(data) else data)).model_dump(
        mode="json", by_alias=True)
    if "changes" in payload:  # only what changed
        payload["changes"] = {k: v for k, v in payload["changes"].items() if v is not None}
    occurred = iso(now)
    rows = []
    for pk in hooks:
        uid = uuid.uuid4()
        body = json.dumps({"id": str(uid), "event": event, "occurred_at": occurred,
                           "data": payload}, ensure_ascii=False, separators=(",", ":"),
                          cls=DjangoJSONEncoder)
        rows.append(Delivery(uuid=uid, webhook_id=pk, event=event, case=case, body=body,
                             next_attempt_at=now, created_at=now))
    Delivery.objects.bulk_create(rows)
    return len(rows)


# ------------------------------------------------------- for the services
def _case(case, now: datetime, **extra) -> Callable[[], dict]:
    return lambda: {"case": represent.case_detail(case, now, SYSTEM), **extra}


def tracked(case) -> dict:
    """What ``case.updated`` watches, before a change (compare with :func:`case_updated`)."""
    return {"priority": case.priority or None, "status": case.status,
            "assignee": case.assignee_id}


def case_updated(case, before: dict, *, now: datetime) -> int:
    """``case.updated`` if the priority, status or assignee differ from ``before``
    (:func:`tracked`)."""
    after = tracked(case)
    changes = {}
    for name in ("priority", "status"):
        if before[name] != after[name]:
            changes[name] = {"from": before[name], "to": after[name]}
    if before["assignee"] != after["assignee"]:
        people = User.objects.in_bulk([pk for pk in (before["assignee"], after["assignee"])
                                       if pk])
        changes["assignee"] = {
            "from": represent.person(people.get(before["assignee"]), SYSTEM),
            "to": represent.person(people.get(after["assignee"]), SYSTEM)}
    if not changes:
        return 0
    return emit(Event.CASE_UPDATED, _case(case, now, changes=changes), now=now, case=case)


def case_event(event: str, case, *, now: datetime, **extra) -> int:
    """An event whose data is the case and ``extra``."""
    return emit(event, _case(case, now, **extra), now=now, case=case)


def case_message(case, message, *, now: datetime) -> int:
    """``case.message`` for a public message (an internal note sends nothing)."""
    if message.kind == message.Kind.INTERNAL:
        return 0
    return emit(Event.CASE_MESSAGE,
                lambda: {"case": represent.case_detail(case, now, SYSTEM),
                         "message": represent.message(message, SYSTEM)}, now=now, case=case)


def escalation(event: str, case, escalation, *, now: datetime) -> int:
    return emit(event, lambda: {"case": represent.case_detail(case, now, SYSTEM),
                                "escalation": represent.escalation(escalation)},
                now=now, case=case)


def sla_notice(case, notice, *, breach: bool, now: datetime) -> int:
    """``sla.at_risk`` / ``sla.breached`` for an SLA notice the worker just recorded."""
    return emit(Event.SLA_BREACHED if breach else Event.SLA_AT_RISK,
                _case(case, now, clock=notice.clock, due=notice.due, notice=notice.kind),
                now=now, case=case)


def policy_published(version, *, now: datetime) -> int:
    return emit(Event.POLICY_PUBLISHED, lambda: {"policy": {
        "policy_id": version.policy_id, "version": version.version,
        "published_at": version.published_at, "effective_at": version.effective_at}},
        now=now)


def update_published(update, *, now: datetime) -> int:
    return emit(Event.UPDATE_PUBLISHED, lambda: {"update": represent.program_update(update)},
                now=now)
