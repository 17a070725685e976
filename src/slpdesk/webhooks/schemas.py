"""The webhooks' typed schemas: the API's (subscriptions, deliveries) and the
payload of every event (the OpenAPI document's ``webhooks``, :mod:`.openapi`).

Every payload's ``data`` carries the case as ``GET /api/v1/cases/{number}``
shows it to support staff (:class:`CaseOut`), plus what the event adds.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from ninja import Schema
from pydantic import Field

from slpdesk.api.schemas import CaseOut, EscalationOut, MessageOut, Person, ProgramUpdateOut, Strict

from .models import Event

EventCode = Literal[tuple(Event.values)]  # type: ignore[valid-type]


# ----------------------------------------------------------------- the API
class WebhookIn(Strict):
    url: str = Field(max_length=500, description="Where to POST: https:// (http:// only with "
                     "SLPDESK_WEBHOOKS_ALLOW_HTTP=1).")
    events: list[EventCode] = Field(min_length=1, max_length=len(Event.values))
    description: str = Field("", max_length=200)


class WebhookPatch(Strict):
    url: str | None = Field(None, max_length=500)
    events: list[EventCode] | None = Field(None, min_length=1, max_length=len(Event.values))
    description: str | None = Field(None, max_length=200)
    enabled: bool | None = Field(None, description="false stops deliveries; true starts "
                                 "them again (also after the desk disabled it).")


class WebhookOut(Schema):
    id: int
    url: str
    events: list[str]
    description: str
    enabled: bool
    created_at: datetime
    failing_since: datetime | None = Field(description="The first failure since the last "
                                           "success; null while deliveries succeed.")
    disabled_at: datetime | None
    disabled_reason: str


class WebhookCreated(Schema):
    id: int
    url: str
    events: list[str]
    secret: str = Field(description="The signing secret, shown this once: keep it.")


class DeliveryOut(Schema):
    id: UUID = Field(description="The delivery's id: the body's `id` and the "
                     "Slpdesk-Delivery header (the same on every attempt).")
    event: str
    case: str | None = Field(description="The case's number, for case and SLA events.")
    state: str = Field(description="pending (waiting or retrying), done (2xx) or failed "
                       "(given up)")
    attempts: int
    created_at: datetime
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None = Field(description="While pending.")
    response_status: int | None
    duration_ms: int | None
    response_excerpt: str = Field(description="The first bytes of the answer.")
    last_error: str


# ---------------------------------------------------------------- payloads
class Change(Schema):
    to: str | None
    from_: str | None = Field(alias="from")


class PersonChange(Schema):
    to: Person | None
    from_: Person | None = Field(alias="from")


class Changes(Schema):
    priority: Change | None = Field(None, description="The assigned priority (P1).")
    status: Change | None = None
    assignee: PersonChange | None = None


class CaseData(Schema):
    case: CaseOut


class CaseUpdatedData(CaseData):
    changes: Changes = Field(description="Only what changed is present.")


class CaseMessageData(CaseData):
    message: MessageOut = Field(description="A public message or a logged call; internal "
                                "notes are never sent.")


class CaseReopenedData(CaseData):
    reason: str


class SlaData(CaseData):
    clock: Literal["response", "resolution", "next_update"]
    due: datetime
    notice: str = Field(description="at_risk / breached; for the status-update clock "
                        "update_owed / update_overdue.")


class EscalationData(CaseData):
    escalation: EscalationOut


class PolicyOut(Schema):
    policy_id: str
    version: str
    published_at: datetime
    effective_at: datetime


class PolicyData(Schema):
    policy: PolicyOut


class UpdateData(Schema):
    update: ProgramUpdateOut


#: event → (schema of ``data``, what it says)
PAYLOADS: dict[str, tuple[type[Schema], str]] = {
    Event.CASE_CREATED: (CaseData, "A case was opened (portal, e-mail, API or logged by "
                         "support), also one support does not cover (closed at once)."),
    Event.CASE_UPDATED: (CaseUpdatedData, "The case's priority, assignee or status changed "
                         "(resolving and reopening have their own events)."),
    Event.CASE_MESSAGE: (CaseMessageData, "A public message on the case: support's reply, "
                         "an information request, a logged call, or the customer's message."),
    Event.CASE_RESOLVED: (CaseData, "The case was resolved (its resolution is in the case)."),
    Event.CASE_REOPENED: (CaseReopenedData, "A resolved case was reopened."),
    Event.SLA_AT_RISK: (SlaData, "An SLA clock is at risk (K6), or a status update is owed "
                        "soon; once per clock and due time."),
    Event.SLA_BREACHED: (SlaData, "An SLA clock passed its due time, or a status update is "
                         "overdue; once per clock and due time."),
    Event.ESCALATION_RAISED: (EscalationData, "The case was escalated (X1)."),
    Event.ESCALATION_ACKNOWLEDGED: (EscalationData, "An owner took on the escalation (X2)."),
    Event.POLICY_PUBLISHED: (PolicyData, "A new version of the service level policy was "
                             "published (V1)."),
    Event.UPDATE_PUBLISHED: (UpdateData, "A program update was published (U2)."),
}


def envelope(event: str) -> type[Schema]:
    """The body schema of ``event``: ``{"id", "event", "occurred_at", "data"}``."""
    data_schema = PAYLOADS[event][0]
    name = "".join(part.title() for part in event.replace("_", ".").split(".")) + "Event"
    return type(name, (Schema,), {
        "__annotations__": {"id": UUID, "event": Literal[event],  # type: ignore[valid-type]
                            "occurred_at": datetime, "data": data_schema},
        "__module__": __name__,
        "id": Field(description="The delivery's id (Slpdesk-Delivery): the same on a retry; "
                    "drop a delivery you have seen."),
        "occurred_at": Field(description="When the change happened (UTC)."),
    })
