"""The REST API, version 1 (``/api/v1/``): its OpenAPI document is derived from the
typed schemas in :mod:`slpdesk.api.schemas` and served at ``/api/v1/openapi.json``,
with interactive documentation at ``/api/v1/docs`` (Swagger UI from django-ninja's
own static files: no internet needed).

Thin, as every front end of the desk: parse, authorise, call a service, answer.
Every read takes its rows from :mod:`slpdesk.desk.access`; every change goes
through :mod:`slpdesk.desk.services`, with ``now`` read once per request. A case,
message, file or organisation the caller may not see is a 404, exactly like one
that does not exist.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
from datetime import UTC, datetime

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as ModelValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import FileResponse, Http404, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import File, Form, Header, NinjaAPI, Path, Query, Status
from ninja.files import UploadedFile

from slpdesk.desk import access, badges, canned, search, services
from slpdesk.desk.models import (
    Case,
    Escalation,
    Organisation,
    PolicyVersion,
    ProgramUpdate,
    Release,
    User,
)
from slpdesk.sla import tools
from slpdesk.webhooks.openapi import add_webhooks

from . import errors, represent
from .auth import TokenAuth, TokenRateThrottle
from .errors import ApiError
from .models import IDEMPOTENCY_TTL, IdempotencyKey
from .represent import attachment as _attachment
from .represent import case_detail as _detail
from .represent import case_summary as _summary
from .represent import escalation as _escalation
from .represent import message as _message
from .represent import org_ref as _org_ref
from .schemas import (
    AssignIn,
    AttachmentOut,
    CannedRenderOut,
    CannedReplyIn,
    CannedReplyOut,
    CannedReplyPatch,
    CaseIn,
    CaseOut,
    CasePage,
    ClassifyIn,
    DueIn,
    DueOut,
    EmptyIn,
    ErrorOut,
    EscalationOut,
    ExcludeIn,
    MessageOut,
    OrganisationOut,
    OrganisationPage,
    PriorityCode,
    ProgramUpdateOut,
    ReasonIn,
    ReleaseOut,
    ReplayIn,
    ReplayOut,
    ResolveIn,
    SitePage,
    StatusCode,
    TextIn,
    TriageIn,
)
from .webhooks import router as webhooks_router

__all__ = ["api"]

DESCRIPTION = """\
The slpdesk support desk for integrations: cases with their SLA clocks, the
actions of the portal and the console, reference data, and the SLA engine.

**Authentication.** Every operation needs a personal API token (create one under
Preferences → API tokens): `Authorization: Bearer slp_…`. The token acts as its
user, with the user's role and organisation; revoking it, or deactivating the
user, ends it at once.

**Errors** are JSON `{"code", "message"}`: `code` is stable, `message` is in the
request's language (`Accept-Language`, else the user's). 401 unauthenticated,
403 forbidden / field_forbidden, 404 not_found (also for what you may not see),
409 a refusal of the case's state, 422 validation_error (with `errors`),
429 rate_limited (with `Retry-After`).

**Webhooks** (administrators, `/webhooks`) POST the events under `webhooks` in
this document to your URL, signed: `Slpdesk-Signature: t=<unix>,v1=<hex HMAC-SHA256
of "<t>.<raw body>">` with the subscription's secret (see the README).

**Lists** are paged by an opaque cursor: pass `next_cursor` back as `cursor`
(`page_size` at most 100).

**Opening a case** with an `Idempotency-Key` header (up to 255 printable ASCII
characters) is safe to retry: the same key and body within 24 hours return the
same case (200 instead of 201, with `Idempotent-Replayed: true`); the same key
with another body is a 422 `idempotency_key_reused`.
"""

class DeskApi(NinjaAPI):
    """The API, its OpenAPI document with the webhooks' payloads (3.1 ``webhooks``)."""

    def get_openapi_schema(self, **kwargs):
        return add_webhooks(super().get_openapi_schema(**kwargs))


api = DeskApi(
    title="slpdesk API",
    version="1",
    description=DESCRIPTION,
    urls_namespace="api",
    auth=TokenAuth(),
    throttle=[TokenRateThrottle()],
    docs_url="/docs",
    openapi_url="/openapi.json",
)
errors.install(api)
api.add_router("/webhooks", webhooks_router)

MAX_PAGE = 100
MAX_ID = 2**53  # far above any primary key; keeps integers inside every database's range
NUMBER = r"^[A-Za-z0-9-]{1,20}$"

#: Every operation may answer these (besides its own success).
ERRORS = {code: ErrorOut for code in (400, 401, 403, 404, 409, 422, 429)}


def responses(ok: dict) -> dict:
    return {**ok, **ERRORS}


# ------------------------------------------------------------------- helpers
def _now() -> datetime:
    return timezone.now()


def _number_param():
    return Path(..., pattern=NUMBER, description="The case number, e.g. SLP-000042.")


def _reject_unknown(params, allowed: set[str], where: str) -> None:
    """Unknown query or form fields are refused, as unknown body fields are."""
    unknown = sorted(set(params.keys()) - allowed)
    if unknown:
        raise ApiError(422, "validation_error", _("The request is not valid; see errors."),
                       errors=[{"loc": [where, name], "msg": "Unknown field.",
                                "type": "extra_forbidden"} for name in unknown])


def _forbidden(message: str | None = None) -> ApiError:
    return ApiError(403, "forbidden", message or _("You may not do this."))


def _require_work(user) -> None:
    """Staff-only actions refuse other roles before looking anything else up."""
    if not access.can_work(user):
        raise _forbidden(_("Only support staff who work cases can do this."))


def _require_party(user) -> None:
    """The customer's side (contacts) and support staff who work cases; executives
    read and write notes only."""
    if not (access.is_contact(user) or access.can_work(user)):
        raise _forbidden(_("Only the customer's people and support staff who work cases "
                           "can do this."))


def _case(request, number: str) -> Case:
    return access.case_or_404(request.user, number)


def _fresh(request, number: str, now: datetime) -> dict:
    """The case as stored after a change, as the caller sees it."""
    return _detail(_case(request, number), now, request.user)


def _changes(view):
    """An operation that changes a case runs in one transaction with the building of
    its answer: an error answer (a 503 when the database goes away half-way) means
    nothing was stored. (``@transaction.atomic`` itself would hide the view's
    signature from django-ninja.)"""

    @functools.wraps(view)
    def run(request, *args, **kwargs):
        with transaction.atomic():
            return view(request, *args, **kwargs)

    return run


# ------------------------------------------------------------------ cursors
def _encode_cursor(values: list) -> str:
    raw = json.dumps(values, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, shape: tuple) -> list:
    """The values of a cursor this API made with ``shape`` (a tuple of types);
    anything else is a 422 ``invalid_cursor``."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
        if not isinstance(values, list) or len(values) != len(shape) or not all(
                type(v) is t for v, t in zip(values, shape, strict=True)):
            raise ValueError
        return values
    except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError):
        raise ApiError(422, "invalid_cursor", _("The cursor is not valid; start again "
                                                "without one.")) from None


def _by_id(qs, cursor: str | None, page_size: int) -> tuple[list, str | None]:
    """One page of ``qs`` in id order, and the cursor of the next."""
    if cursor:
        (after,) = _decode_cursor(cursor, (int,))
        qs = qs.filter(pk__gt=after)
    rows = list(qs.order_by("pk")[:page_size + 1])
    more = len(rows) > page_size
    rows = rows[:page_size]
    return rows, _encode_cursor([rows[-1].pk]) if more and rows else None


# ---------------------------------------------------------------------- cases
CASE_LIST_PARAMS = {"q", "status", "priority", "organisation", "updated_since", "order", "cursor",
                    "page_size"}


@api.get("/cases", response=responses({200: CasePage}), operation_id="list_cases",
         tags=["cases"], summary="The cases you may see")
def list_cases(
    request,
    q: str | None = Query(None, max_length=200, description=(
        "Words to find in the number, title, description, messages (internal notes for "
        "support staff only), organisation, site and contact names and defect reference; "
        "every word must occur. Combines with the other filters and the order.")),
    status: list[StatusCode] = Query(None, description="Any of these statuses."),
    priority: list[PriorityCode] = Query(
        None, description="Any of these priorities (the assigned one, else the proposed)."),
    organisation: int | None = Query(None, ge=1, le=MAX_ID,
                                     description="Only this organisation's cases."),
    updated_since: datetime | None = Query(None, description="Changed at or after this "
                                                             "time (ISO 8601)."),
    order: str = Query("-updated", pattern=r"^-?updated$",
                       description="-updated (newest change first) or updated (oldest "
                                   "first: for syncing with updated_since)."),
    cursor: str | None = Query(None, max_length=200),
    page_size: int = Query(25, ge=1, le=MAX_PAGE),
):
    _reject_unknown(request.GET, CASE_LIST_PARAMS, "query")
    user = request.user
    now = _now()
    qs = access.cases_for(user).select_related("organisation", "site", "policy_version")
    if status:
        qs = qs.filter(status__in=status)
    if priority:
        qs = qs.filter(Q(priority__in=priority) | Q(priority="", proposed_priority__in=priority))
    if organisation is not None:
        qs = qs.filter(organisation_id=organisation)
    if q:
        qs = search.search(qs, q, staff=access.can_see_internal(user))
    if updated_since is not None:
        try:  # ISO 8601 only (pydantic would also take a number of seconds)
            datetime.fromisoformat(request.GET.get("updated_since", ""))
        except ValueError:
            updated_since = None
        if updated_since is not None and timezone.is_naive(updated_since):
            updated_since = updated_since.replace(tzinfo=UTC)
        if updated_since is None or not 1900 <= updated_since.year <= 2199:
            raise ApiError(422, "validation_error", _("The request is not valid; see errors."),
                           errors=[{"loc": ["query", "updated_since"],
                                    "msg": "Give an ISO 8601 time in the years 1900-2199.",
                                    "type": "datetime"}])
        qs = qs.filter(updated_at__gte=updated_since)
    newest_first = order == "-updated"
    if cursor:
        stamp, pk, ordering = _decode_cursor(cursor, (str, int, str))
        try:
            at = datetime.fromisoformat(stamp)
        except ValueError:
            at = None
        if at is None or at.tzinfo is None or ordering != order:
            raise ApiError(422, "invalid_cursor", _("The cursor is not valid; start again "
                                                    "without one."))
        if newest_first:
            qs = qs.filter(Q(updated_at__lt=at) | Q(updated_at=at, pk__lt=pk))
        else:
            qs = qs.filter(Q(updated_at__gt=at) | Q(updated_at=at, pk__gt=pk))
    qs = qs.order_by("-updated_at", "-pk") if newest_first else qs.order_by("updated_at", "pk")
    rows = list(qs[:page_size + 1])
    more = len(rows) > page_size
    rows = rows[:page_size]
    closed = badges.closures_by_calendar()
    next_cursor = None
    if more and rows:
        last = rows[-1]
        next_cursor = _encode_cursor([last.updated_at.isoformat(), last.pk, order])
    return {"items": [_summary(c, now, closed) for c in rows], "next_cursor": next_cursor}


def _request_hash(payload: CaseIn) -> str:
    text = json.dumps(payload.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@api.post("/cases", response=responses({200: CaseOut, 201: CaseOut}), operation_id="open_case",
          tags=["cases"], summary="Open a case (idempotent with Idempotency-Key)")
def open_case(
    request,
    response: HttpResponse,
    payload: CaseIn,
    idempotency_key: str | None = Header(
        None, alias="Idempotency-Key", pattern=r"^[\x21-\x7e]{1,255}$",
        description="Makes a retry safe: the same key and body within 24 hours return "
                    "the same case (200)."),
):
    """Customers and partners open cases for their sites (channel portal, they are the
    contact, they propose the priority); support staff log a case for a customer's
    contact (`contact`, `channel` phone or email). 201 with the new case; 200 with the
    case an earlier request with the same `Idempotency-Key` opened."""
    user = request.user
    now = _now()
    if not access.can_open_case(user):
        raise _forbidden(_("You cannot open cases."))
    staff = access.can_work(user)
    if not staff:
        for field in ("contact", "channel"):
            if getattr(payload, field) is not None:
                raise ApiError(403, "field_forbidden",
                               _("Only support staff can set %(field)s.") % {"field": field})
    digest = _request_hash(payload)
    if idempotency_key:
        IdempotencyKey.objects.filter(user=user, created_at__lt=now - IDEMPOTENCY_TTL).delete()
        earlier = IdempotencyKey.objects.filter(user=user, key=idempotency_key).first()
        if earlier is not None:
            return _replayed(request, response, earlier, digest, now)

    site = access.sites_for(user).select_related("organisation").filter(pk=payload.site).first()
    if site is None:
        raise ApiError(400, "site", _("There is no such site among yours (GET /sites)."))
    release = None
    if payload.release is not None:
        release = Release.objects.filter(name=payload.release).first()
        if release is None:
            raise ApiError(400, "release", _("There is no release called %(name)s.") % {
                "name": payload.release})
    if staff:
        contact = User.objects.filter(
            username=payload.contact or "", is_active=True, role=User.Role.CUSTOMER,
            organisation__isnull=False).first()
        if contact is None:
            raise ApiError(400, "contact", _("Give the username of the customer's contact "
                                             "as contact."))
        channel = payload.channel or Case.Channel.PHONE
    else:
        contact, channel = user, Case.Channel.PORTAL

    try:
        with transaction.atomic():
            record = None
            if idempotency_key:
                record = IdempotencyKey.objects.create(user=user, key=idempotency_key,
                                                       request_hash=digest, created_at=now)
            case = services.receive_case(
                site, contact=contact, channel=channel,
                proposed_priority=payload.proposed_priority, title=payload.title,
                description=payload.description, system_details=payload.system_details,
                release=release, request_type=payload.request_type, actor=user, now=now)
            if record is not None:
                record.case = case
                record.save(update_fields=["case"])
            # The answer is built in the transaction that stores the case: if building
            # it fails, nothing is stored, so an error answer never hides a new case.
            body = _detail(case, now, user)
    except IntegrityError:
        # Another request with the same key won the race: answer as its retry.
        earlier = IdempotencyKey.objects.filter(user=user, key=idempotency_key or "").first()
        if earlier is None:
            raise
        return _replayed(request, response, earlier, digest, now)
    response["Location"] = f"/api/v1/cases/{case.number}"
    return Status(201, body)


def _replayed(request, response, earlier: IdempotencyKey, digest: str, now):
    if earlier.request_hash != digest:
        raise ApiError(422, "idempotency_key_reused",
                       _("This Idempotency-Key was used with another request; use a new "
                         "key for a new case."))
    case = access.cases_for(request.user).filter(pk=earlier.case_id).first()
    if case is None:
        raise Http404("no such case")
    response["Idempotent-Replayed"] = "true"
    response["Location"] = f"/api/v1/cases/{case.number}"
    return Status(200, _fresh(request, case.number, now))


@api.get("/cases/{number}", response=responses({200: CaseOut}), operation_id="get_case",
         tags=["cases"], summary="A case with its SLA clocks")
def get_case(request, number: str = _number_param()):
    return _detail(_case(request, number), _now(), request.user)


@api.get("/cases/{number}/messages", response=responses({200: list[MessageOut]}),
         operation_id="list_messages", tags=["cases"], summary="The conversation")
def list_messages(request, number: str = _number_param()):
    case = _case(request, number)
    rows = access.messages_for(request.user, case).select_related("author")
    return [_message(m, request.user) for m in rows]


@api.get("/cases/{number}/attachments", response=responses({200: list[AttachmentOut]}),
         operation_id="list_attachments", tags=["cases"], summary="The files")
def list_attachments(request, number: str = _number_param()):
    case = _case(request, number)
    return [_attachment(a) for a in access.attachments_for(request.user).filter(case=case)]


@api.get("/cases/{number}/attachments/{attachment_id}", response=responses({200: None}),
         operation_id="download_attachment", tags=["cases"], summary="Download a file",
         openapi_extra={"responses": {200: {
             "description": "The file, always as a download.",
             "content": {"application/octet-stream": {
                 "schema": {"type": "string", "format": "binary"}}}}}})
def download_attachment(request, number: str = _number_param(),
                        attachment_id: int = Path(..., ge=1, le=MAX_ID)):
    case = _case(request, number)
    attachment = access.attachments_for(request.user).filter(case=case, pk=attachment_id).first()
    if attachment is None or not attachment.file:  # (a file erased: slpdesk.privacy)
        raise Http404("no such file")
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError:
        raise Http404("file missing") from None
    out = FileResponse(handle, as_attachment=True, filename=attachment.name,
                       content_type="application/octet-stream")
    out["X-Content-Type-Options"] = "nosniff"
    out["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return out


@api.post("/cases/{number}/reply", response=responses({201: MessageOut}),
          operation_id="reply", tags=["cases"], summary="A public message on the case")
@_changes
def reply(request, payload: TextIn, number: str = _number_param()):
    """From a customer or partner: their reply (it ends a wait on them). From support
    staff: a public reply (the first response, then status updates)."""
    user = request.user
    case = _case(request, number)
    _require_party(user)
    now = _now()
    if access.is_contact(user):
        message = services.record_customer_reply(case, payload.body, actor=user, now=now)
    else:
        message = services.reply(case, payload.body, actor=user, now=now)
    return Status(201, _message(message, user))


@api.post("/cases/{number}/attachments", response=responses({201: AttachmentOut}),
          operation_id="upload_attachment", tags=["cases"], summary="Add a file")
@_changes
def upload_attachment(request, number: str = _number_param(),
                      file: UploadedFile = File(..., description="One file."),
                      internal: bool = Form(False, description="Support staff only: "
                                                               "visible to staff only.")):
    user = request.user
    case = _case(request, number)
    _reject_unknown(request.POST, {"internal"}, "form")
    _reject_unknown(request.FILES, {"file"}, "form")
    if len(request.FILES.getlist("file")) != 1:
        raise ApiError(422, "validation_error", _("The request is not valid; see errors."),
                       errors=[{"loc": ["form", "file"], "msg": "Send exactly one file.",
                                "type": "too_many"}])
    _require_party(user)
    if internal and not access.can_see_internal(user):
        raise ApiError(403, "field_forbidden",
                       _("Only support staff can set %(field)s.") % {"field": "internal"})
    attachment = services.attach_file(case, file, actor=user, now=_now(), internal=internal)
    return Status(201, _attachment(attachment))


@api.post("/cases/{number}/escalate", response=responses({201: EscalationOut}),
          operation_id="escalate", tags=["cases"], summary="Escalate the case (X1)")
@_changes
def escalate(request, payload: ReasonIn, number: str = _number_param()):
    user = request.user
    case = _case(request, number)
    _require_party(user)
    channel = Escalation.Channel.PORTAL if access.is_contact(user) else \
        Escalation.Channel.SUPPORT
    escalation = services.escalate(case, payload.reason, channel=channel, actor=user,
                                   now=_now())
    return Status(201, _escalation(escalation))


@api.post("/cases/{number}/reopen", response=responses({200: CaseOut}), operation_id="reopen",
          tags=["cases"], summary="Reopen a resolved case")
@_changes
def reopen(request, payload: ReasonIn, number: str = _number_param()):
    case = _case(request, number)
    _require_party(request.user)
    now = _now()
    services.reopen(case, payload.reason, actor=request.user, now=now)
    return _fresh(request, number, now)


@api.post("/cases/{number}/notes", response=responses({201: MessageOut}),
          operation_id="add_note", tags=["agents"], summary="An internal note (staff)")
@_changes
def add_note(request, payload: TextIn, number: str = _number_param()):
    user = request.user
    case = _case(request, number)
    if not access.can_add_note(user):
        raise _forbidden(_("Only support staff can do this."))
    return Status(201, _message(services.add_note(case, payload.body, actor=user, now=_now()),
                                user))


# -------------------------------------------------------------------- triage
@api.post("/cases/{number}/triage", response=responses({200: CaseOut}), operation_id="triage",
          tags=["agents"], summary="Assign the priority (P1, P2)")
@_changes
def triage(request, payload: TriageIn, number: str = _number_param()):
    case = _case(request, number)
    _require_work(request.user)
    now = _now()
    services.assign_priority(case, payload.priority,
                             information_complete=payload.information_complete,
                             actor=request.user, now=now)
    return _fresh(request, number, now)


@api.post("/cases/{number}/information-complete", response=responses({200: CaseOut}),
          operation_id="mark_information_complete", tags=["agents"],
          summary="Support has what it needs (K2)")
@_changes
def mark_information_complete(request, payload: EmptyIn | None = None,
                              number: str = _number_param()):
    case = _case(request, number)
    _require_work(request.user)
    now = _now()
    services.mark_information_complete(case, actor=request.user, now=now)
    return _fresh(request, number, now)


@api.post("/cases/{number}/request-information", response=responses({201: MessageOut}),
          operation_id="request_information", tags=["agents"],
          summary="Ask the customer; the case waits on them (K2)")
@_changes
def request_information(request, payload: TextIn, number: str = _number_param()):
    case = _case(request, number)
    _require_work(request.user)
    message = services.request_information(case, payload.body, actor=request.user, now=_now())
    return Status(201, _message(message, request.user))


@api.post("/cases/{number}/assign", response=responses({200: CaseOut}), operation_id="assign",
          tags=["agents"], summary="Give the case to a staff member, or to nobody")
@_changes
def assign(request, payload: AssignIn, number: str = _number_param()):
    case = _case(request, number)
    _require_work(request.user)
    assignee = None
    if payload.assignee is not None:
        assignee = access.staff_users().filter(username=payload.assignee).first()
        if assignee is None:
            raise ApiError(400, "assignee", _("Cases can only be assigned to support staff."))
    now = _now()
    services.assign(case, assignee, actor=request.user, now=now)
    return _fresh(request, number, now)


@api.post("/cases/{number}/classify", response=responses({200: CaseOut}),
          operation_id="classify", tags=["agents"], summary="Incident, bug or defect (K4)")
@_changes
def classify(request, payload: ClassifyIn, number: str = _number_param()):
    case = _case(request, number)
    _require_work(request.user)
    now = _now()
    services.classify(case, payload.kind, payload.defect_reference, actor=request.user, now=now)
    return _fresh(request, number, now)


@api.post("/cases/{number}/resolve", response=responses({200: CaseOut}), operation_id="resolve",
          tags=["agents"], summary="Resolve the case (K3)")
@_changes
def resolve(request, payload: ResolveIn, number: str = _number_param()):
    case = _case(request, number)
    _require_work(request.user)
    now = _now()
    services.resolve(case, payload.resolution, payload.summary, actor=request.user, now=now)
    return _fresh(request, number, now)


@api.post("/cases/{number}/exclude", response=responses({200: CaseOut}), operation_id="exclude",
          tags=["agents"], summary="Take the case out of the SLA (E6)")
@_changes
def exclude(request, payload: ExcludeIn, number: str = _number_param()):
    case = _case(request, number)
    _require_work(request.user)
    now = _now()
    services.exclude(case, payload.reason, payload.note, actor=request.user, now=now)
    return _fresh(request, number, now)


# ------------------------------------------------------------ reference data
@api.get("/organisations", response=responses({200: OrganisationPage}),
         operation_id="list_organisations", tags=["reference"],
         summary="The organisations you may see")
def list_organisations(request, cursor: str | None = Query(None, max_length=200),
                       page_size: int = Query(MAX_PAGE, ge=1, le=MAX_PAGE)):
    _reject_unknown(request.GET, {"cursor", "page_size"}, "query")
    rows, after = _by_id(access.organisations_for(request.user).select_related("supported_by"),
                         cursor, page_size)
    return {"items": [_organisation(o) for o in rows], "next_cursor": after}


def _organisation(o: Organisation) -> dict:
    return {"id": o.pk, "name": o.name, "kind": o.kind,
            "supported_by": _org_ref(o.supported_by) if o.supported_by else None}


@api.get("/organisations/{organisation_id}", response=responses({200: OrganisationOut}),
         operation_id="get_organisation", tags=["reference"], summary="An organisation")
def get_organisation(request, organisation_id: int = Path(..., ge=1, le=MAX_ID)):
    found = access.organisations_for(request.user).select_related("supported_by").filter(
        pk=organisation_id).first()
    if found is None:
        raise Http404("no such organisation")
    return _organisation(found)


@api.get("/sites", response=responses({200: SitePage}), operation_id="list_sites",
         tags=["reference"], summary="The sites you may open cases for")
def list_sites(request, cursor: str | None = Query(None, max_length=200),
               page_size: int = Query(MAX_PAGE, ge=1, le=MAX_PAGE)):
    _reject_unknown(request.GET, {"cursor", "page_size"}, "query")
    rows, after = _by_id(access.sites_for(request.user).select_related("organisation"),
                         cursor, page_size)
    return {"items": [{"id": s.pk, "organisation": _org_ref(s.organisation), "name": s.name,
                       "country": s.country, "time_zone": s.time_zone} for s in rows],
            "next_cursor": after}


@api.get("/releases", response=responses({200: list[ReleaseOut]}),
         operation_id="list_releases", tags=["reference"], summary="The product's releases")
def list_releases(request):
    _reject_unknown(request.GET, set(), "query")
    now = _now()
    policy = PolicyVersion.objects.in_force(now).load()
    today = now.date()
    supported = set(Release.objects.supported(today, policy.supported_releases)
                    .values_list("pk", flat=True))
    return [{"name": r.name, "released": r.released, "supported": r.pk in supported}
            for r in Release.objects.order_by("-released", "-pk")]


@api.get("/updates", response=responses({200: list[ProgramUpdateOut]}),
         operation_id="list_updates", tags=["reference"],
         summary="Published program updates (U1)")
def list_updates(request):
    _reject_unknown(request.GET, set(), "query")
    now = _now()
    rows = (ProgramUpdate.objects.filter(published_at__isnull=False, published_at__lte=now)
            .prefetch_related("applies_to").order_by("-released", "-pk"))
    return [represent.program_update(u) for u in rows]


# ------------------------------------------------------------------------ SLA
def _engine_error(exc: Exception) -> ApiError:
    detail = str(exc).replace("\n", " ")
    if detail.startswith("slpdesk: "):
        detail = detail[len("slpdesk: "):]
    return ApiError(400, "invalid_input", _("The SLA engine refused the input: %(detail)s")
                    % {"detail": detail})


@api.post("/sla/due", response=responses({200: DueOut}), operation_id="sla_due", tags=["sla"],
          summary="Deadlines of a case received at a given time (slpdesk sla due)")
def sla_due(request, payload: DueIn):
    """As `slpdesk sla due`, with the policy in force: as if the priority were assigned
    and the information complete at receipt; times in `time_zone` with its offset."""
    policy = PolicyVersion.objects.in_force(_now()).load()
    try:
        return tools.sla_due(policy, priority=payload.priority, received=payload.received,
                             time_zone=payload.time_zone, calendar=payload.calendar)
    except (ValueError) as exc:
        raise _engine_error(exc) from None


@api.post("/sla/replay", response=responses({200: ReplayOut}), operation_id="sla_replay",
          exclude_unset=True, tags=["sla"],
          summary="The SLA state of a case from its events (slpdesk sla replay)")
def sla_replay(request, payload: ReplayIn):
    """As `slpdesk sla replay`, with the policy in force. Event fields other than `at`,
    `type`, `priority`, `kind` and `resolution` are ignored."""
    policy = PolicyVersion.objects.in_force(_now()).load()
    try:
        parsed = tools.parse_replay_document(payload.model_dump())
        return tools.sla_replay(policy, parsed)
    except (ValueError) as exc:
        raise _engine_error(exc) from None


# ------------------------------------------------------------ canned replies
def _require_staff(user) -> None:
    if not access.is_staff(user):
        raise _forbidden(_("Only support staff can do this."))


def _canned_or_404(user, canned_id: int):
    found = access.canned_replies_for(user).select_related("owner").filter(
        pk=canned_id).first()
    if found is None:
        raise Http404("no such canned reply")
    return found


def _canned(reply, viewer) -> dict:
    return {"id": reply.pk, "title": reply.title, "body_en": reply.body_en,
            "body_sv": reply.body_sv, "action": reply.action, "shared": reply.shared,
            "owner": represent.person(reply.owner, viewer),
            "can_edit": access.can_edit_canned(viewer, reply),
            "created_at": reply.created_at, "updated_at": reply.updated_at}


def _save_canned(request, reply, fields: dict):
    """``canned.save`` with its refusals as the API's errors (403, 422); nothing is
    stored on a refusal."""
    try:
        return canned.save(reply, fields, actor=request.user, now=_now())
    except PermissionDenied as err:
        raise _forbidden(str(err)) from None
    except ModelValidationError as err:
        raise ApiError(422, "validation_error", _("The request is not valid; see errors."),
                       errors=[{"loc": ["body", field], "msg": " ".join(msgs),
                                "type": "invalid"}
                               for field, msgs in err.message_dict.items()]) from None


CANNED_ID = Path(..., ge=1, le=MAX_ID)


@api.get("/canned-replies", response=responses({200: list[CannedReplyOut]}),
         operation_id="list_canned_replies", tags=["canned replies"],
         summary="Your own and the shared canned replies (staff)")
def list_canned_replies(request):
    _require_staff(request.user)
    _reject_unknown(request.GET, set(), "query")
    rows = access.canned_replies_for(request.user).select_related("owner").order_by(
        "title", "pk")
    return [_canned(r, request.user) for r in rows]


@api.post("/canned-replies", response=responses({201: CannedReplyOut}),
          operation_id="create_canned_reply", tags=["canned replies"],
          summary="A new canned reply, personal or shared (staff)")
def create_canned_reply(request, payload: CannedReplyIn):
    _require_staff(request.user)
    return Status(201, _canned(_save_canned(request, None, payload.dict()), request.user))


@api.get("/canned-replies/{canned_id}", response=responses({200: CannedReplyOut}),
         operation_id="get_canned_reply", tags=["canned replies"], summary="A canned reply")
def get_canned_reply(request, canned_id: int = CANNED_ID):
    _require_staff(request.user)
    return _canned(_canned_or_404(request.user, canned_id), request.user)


@api.patch("/canned-replies/{canned_id}", response=responses({200: CannedReplyOut}),
           operation_id="update_canned_reply", tags=["canned replies"],
           summary="Change a canned reply (its owner; a shared one also a supervisor, "
                   "manager or administrator)")
def update_canned_reply(request, payload: CannedReplyPatch, canned_id: int = CANNED_ID):
    _require_staff(request.user)
    reply = _canned_or_404(request.user, canned_id)
    fields = payload.dict(exclude_unset=True)
    nulls = sorted(name for name, value in fields.items() if value is None)
    if nulls:
        raise ApiError(422, "validation_error", _("The request is not valid; see errors."),
                       errors=[{"loc": ["body", name], "msg": "May not be null.",
                                "type": "null"} for name in nulls])
    return _canned(_save_canned(request, reply, fields), request.user)


@api.delete("/canned-replies/{canned_id}", response=responses({204: None}),
            operation_id="delete_canned_reply", tags=["canned replies"],
            summary="Delete a canned reply (same rule as changing it)")
def delete_canned_reply(request, canned_id: int = CANNED_ID):
    _require_staff(request.user)
    reply = _canned_or_404(request.user, canned_id)
    try:
        canned.delete(reply, actor=request.user)
    except PermissionDenied as err:
        raise _forbidden(str(err)) from None
    return Status(204, None)


@api.get("/cases/{number}/canned-replies/{canned_id}/render",
         response=responses({200: CannedRenderOut}), operation_id="render_canned_reply",
         tags=["canned replies"],
         summary="A canned reply's text for a case, in the contact's language and zone")
def render_canned_reply(request, number: str = _number_param(),
                        canned_id: int = CANNED_ID):
    _require_staff(request.user)
    case = _case(request, number)
    reply = _canned_or_404(request.user, canned_id)
    return {"canned_reply": reply.pk, "case": case.number,
            "language": canned.case_language(case),
            "body": canned.render(reply, case, request.user), "action": reply.action}
