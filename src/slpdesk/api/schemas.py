"""The API's typed schemas: they are its OpenAPI document.

Every input schema forbids unknown fields (``extra="forbid"``): a field the API
does not know (``priority`` on a new case, ``organisation``, ``assignee``,
``response_due``...) is a 422, never silently ignored. The one exception is the
events of an SLA replay document, which may carry other tools' fields (an actor,
a message id) exactly as ``slpdesk sla replay`` ignores them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from ninja import Schema
from pydantic import ConfigDict, Field, model_validator

from slpdesk.desk.models import Case, Priority

PriorityCode = Literal[tuple(Priority.values)]  # type: ignore[valid-type]
StatusCode = Literal[tuple(Case.Status.values)]  # type: ignore[valid-type]
KindCode = Literal[tuple(Case.Kind.values)]  # type: ignore[valid-type]
ResolutionCode = Literal[tuple(Case.Resolution.values)]  # type: ignore[valid-type]

TEXT = 100_000  # longest message, description or reason accepted


def _storable(value, depth: int = 0) -> None:
    """Text a database can store: no NUL characters (PostgreSQL refuses them) and no
    lone surrogates (they are not UTF-8)."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("Text must not contain NUL characters.")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("Text must be valid Unicode.") from None
    elif isinstance(value, dict) and depth < 4:
        for key, item in value.items():
            _storable(key, depth + 1)
            _storable(item, depth + 1)
    elif isinstance(value, list) and depth < 4:
        for item in value:
            _storable(item, depth + 1)


class Clean(Schema):
    @model_validator(mode="before")
    @classmethod
    def _no_unstorable_text(cls, data):
        _storable(data)
        return data


class Strict(Clean):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------------- errors
class FieldError(Schema):
    loc: list[str]
    msg: str
    type: str


class ErrorOut(Schema):
    code: str = Field(description="Stable, for programs: see the API section of the README.")
    message: str = Field(description="For people, in the request's language.")
    errors: list[FieldError] | None = Field(None, description="What did not validate (422).")


# ------------------------------------------------------------ reference data
class OrganisationRef(Schema):
    id: int
    name: str


class OrganisationOut(Schema):
    id: int
    name: str
    kind: str
    supported_by: OrganisationRef | None


class SiteOut(Schema):
    id: int
    organisation: OrganisationRef
    name: str
    country: str
    time_zone: str


class OrganisationPage(Schema):
    items: list[OrganisationOut]
    next_cursor: str | None


class SitePage(Schema):
    items: list[SiteOut]
    next_cursor: str | None


class SiteRef(Schema):
    id: int
    name: str
    country: str
    time_zone: str


class ReleaseOut(Schema):
    name: str
    released: date
    supported: bool = Field(description="Supported today under the policy in force (E4).")


class ProgramUpdateOut(Schema):
    name: str
    released: date
    kind: str
    security: bool
    notes: str
    applies_to: list[str] = Field(description="Names of the releases it updates.")
    published_at: datetime


class Person(Schema):
    name: str
    username: str | None = Field(None, description="Given to support staff only.")


# ---------------------------------------------------------------------- cases
class ClockOut(Schema):
    state: str = Field(description="pending, running, paused, at_risk, met, breached or "
                                   "not_applicable")
    due: datetime | None
    stopped: datetime | None
    remaining_seconds: int | None = Field(
        description="Business seconds left until due (negative once past it), for a "
                    "clock that runs.")
    target_seconds: int | None


class BadgeOut(Schema):
    """The case's most pressing clock, as the queue shows it."""

    state: str
    clock: str = Field(description="response, resolution, next_update, or empty")
    due: datetime | None
    remaining_seconds: int | None


class SlaOut(BadgeOut):
    response: ClockOut
    resolution: ClockOut
    next_update: ClockOut


class EscalationOut(Schema):
    id: int
    level: int
    reason: str
    channel: str
    raised_at: datetime
    acknowledged_at: datetime | None


class CaseSummary(Schema):
    number: str
    title: str
    status: str
    organisation: OrganisationRef
    site: SiteRef
    proposed_priority: str
    priority: str | None = Field(description="Assigned by support; null until triage.")
    effective_priority: str
    received_at: datetime
    updated_at: datetime
    escalation_level: int
    sender_verified: bool = Field(description="False for a case opened by an e-mail the "
                                  "desk's mail server could not verify as the contact's.")
    sla: BadgeOut


class CaseOut(CaseSummary):
    description: str
    system_details: str
    channel: str
    contact: Person
    release: str | None
    request_type: str
    information_complete: bool
    kind: str
    defect_reference: str
    resolution: str | None
    resolution_summary: str
    entitlement: str
    exclusion_reason: str
    assignee: Person | None = Field(description="Given to support staff only.")
    calendar: str
    time_zone: str
    policy_version: str
    sla: SlaOut
    escalations: list[EscalationOut]


class CasePage(Schema):
    items: list[CaseSummary]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null "
                                                "on the last.")


class MessageOut(Schema):
    id: int
    kind: str = Field(description="public, internal (staff only) or call")
    author: Person | None
    body: str
    created_at: datetime


class AttachmentOut(Schema):
    id: int
    name: str
    size: int
    uploaded_at: datetime
    internal: bool
    message: int | None


# --------------------------------------------------------------------- inputs
class CaseIn(Strict):
    site: int = Field(ge=1, le=2**53, description="A site of your organisation (GET /sites).")
    title: str = Field(max_length=200)
    description: str = Field("", max_length=TEXT)
    system_details: str = Field("", max_length=TEXT)
    proposed_priority: PriorityCode = Field(
        description="Your proposal; support assigns the priority at triage.")
    release: str | None = Field(None, max_length=50, description="A release name.")
    request_type: str = Field("", max_length=40)
    contact: str | None = Field(None, max_length=150,
                                description="Support staff only: the customer's username.")
    channel: Literal["phone", "email", "portal"] | None = Field(
        None, description="Support staff only: how the case came in (default phone).")


class TextIn(Strict):
    body: str = Field(max_length=TEXT)


class ReasonIn(Strict):
    reason: str = Field(max_length=TEXT)


class TriageIn(Strict):
    priority: PriorityCode
    information_complete: bool = False


class AssignIn(Strict):
    assignee: str | None = Field(max_length=150, description="A staff username, or null.")


class ClassifyIn(Strict):
    kind: KindCode
    defect_reference: str = Field("", max_length=100)


class ResolveIn(Strict):
    resolution: ResolutionCode
    summary: str = Field(max_length=TEXT)


class ExcludeIn(Strict):
    reason: str = Field(max_length=40, description="One of the policy's exclusion codes.")
    note: str = Field("", max_length=500)


class EmptyIn(Strict):
    pass


# ------------------------------------------------------------------------ SLA
class DueIn(Strict):
    priority: str = Field(max_length=16)
    received: str = Field(max_length=64, description="ISO 8601; without an offset it is "
                                                     "local to time_zone.")
    time_zone: str = Field(max_length=64, description="The site's IANA time zone.")
    calendar: str | None = Field(None, max_length=50)


class DueOut(Schema):
    priority: str
    calendar: str
    time_zone: str
    received: str
    clock_starts: str
    response_due: str
    resolution_due: str
    update_interval_seconds: int


class ReplayEventIn(Clean):
    model_config = ConfigDict(extra="ignore")

    at: str = Field(max_length=64)
    type: str = Field(max_length=32)
    priority: str | None = Field(None, max_length=16)
    kind: str | None = Field(None, max_length=16)
    resolution: str | None = Field(None, max_length=16)


class ReplayIn(Strict):
    time_zone: str = Field(max_length=64)
    calendar: str | None = Field(None, max_length=50)
    now: str = Field(max_length=64)
    events: list[ReplayEventIn] = Field(max_length=10_000)


class ReplayClockOut(Schema):
    state: str
    started: str | None
    due: str | None
    stopped: str | None
    business_seconds: int
    remaining_seconds: int | None
    missed: int | None = Field(None, description="next_update only: intervals missed.")


class ReplayOut(Schema):
    priority: str
    response: ReplayClockOut
    resolution: ReplayClockOut
    next_update: ReplayClockOut


# -------------------------------------------------------------- canned replies
CannedAction = Literal["", "reply", "request_info"]


class CannedReplyOut(Schema):
    id: int
    title: str
    body_en: str = Field(description="The text in English, with {placeholders}.")
    body_sv: str = Field(description="The text in Swedish, with {placeholders}.")
    action: CannedAction = Field(description="How the console offers to send it: '' (the "
                                             "agent chooses), reply or request_info.")
    shared: bool
    owner: Person
    can_edit: bool = Field(description="Whether you may change or delete it.")
    created_at: datetime
    updated_at: datetime


class CannedReplyIn(Strict):
    title: str = Field(min_length=1, max_length=120)
    body_en: str = Field(min_length=1, max_length=TEXT)
    body_sv: str = Field(min_length=1, max_length=TEXT)
    action: CannedAction = ""
    shared: bool = False


class CannedReplyPatch(Strict):
    title: str | None = Field(None, min_length=1, max_length=120)
    body_en: str | None = Field(None, min_length=1, max_length=TEXT)
    body_sv: str | None = Field(None, min_length=1, max_length=TEXT)
    action: CannedAction | None = None
    shared: bool | None = None


class CannedRenderOut(Schema):
    canned_reply: int
    case: str
    language: str = Field(description="The contact's language the text is in.")
    body: str = Field(description="The text with every placeholder filled in for the case.")
    action: CannedAction
