"""Every error of the API is JSON: ``{"code", "message"}`` (and ``errors`` for a request
that does not validate). ``code`` is stable, for programs; ``message`` is for people,
in the request's language (``Accept-Language``, else the token user's language).

=====  ==========================================================================
 400   ``bad_request`` (body not readable), ``invalid_input`` (SLA engine input),
       and the desk's refusals of bad values (``empty``, ``priority``, ``kind``,
       ``reason``, ``too_large``, ``contact``, ``assignee``, ``site``, ...)
 401   ``unauthenticated``: no token, a wrong one, revoked, or its user deactivated
 403   ``forbidden`` (the role may not do this), ``field_forbidden`` (a field the
       role may not set)
 404   ``not_found``: missing, or not visible to the caller (the same answer)
 409   the desk's refusals of the case's state (``closed``, ``resolved``,
       ``unchanged``, ``waiting``, ``not_resolved``, ``not_open``, ``top``,
       ``acknowledged``, ``clock``)
 422   ``validation_error`` (with ``errors``), ``invalid_cursor``,
       ``idempotency_key_reused``
 413   ``too_large_request``: a body over the limit (a file over
       ``SLPDESK_MAX_ATTACHMENT_BYTES`` plus 1 MiB, other bodies over
       ``DATA_UPLOAD_MAX_MEMORY_SIZE``)
 429   ``rate_limited``, with ``Retry-After``
=====  ==========================================================================
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, Throttled, ValidationError

from slpdesk.desk.services import DeskError

#: The desk's refusals that are about the case's state, not the request's values.
CONFLICT_CODES = frozenset({
    "closed", "resolved", "unchanged", "waiting", "not_resolved", "not_open", "top",
    "acknowledged", "clock", "exists",
})


class ApiError(Exception):
    """An error answer: HTTP ``status``, stable ``code``, translated ``message``."""

    def __init__(self, status: int, code: str, message: str, *, errors: list | None = None):
        super().__init__(code)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors


def desk_status(code: str) -> int:
    if code == "forbidden":
        return 403
    return 409 if code in CONFLICT_CODES else 400


def _response(api: NinjaAPI, request: HttpRequest, status: int, code: str, message: str,
              errors: list | None = None) -> HttpResponse:
    body = {"code": code, "message": str(message)}
    if errors is not None:
        body["errors"] = errors
    response = api.create_response(request, body, status=status)
    response["Cache-Control"] = "no-store"
    return response


def body_limit(request) -> int:
    """The largest body the API reads: one file and a little more for a multipart
    upload, else what Django keeps in memory."""
    if request.content_type == "multipart/form-data":
        return settings.SLPDESK_MAX_ATTACHMENT_BYTES + 1024 * 1024
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def refuse_large_body(request) -> None:
    """Raise ``RequestDataTooBig`` (413) for a body announced larger than
    :func:`body_limit`, before any of it is read."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > body_limit(request):
        raise RequestDataTooBig("request body too large")


def _field_errors(errors: list[dict]) -> list[dict]:
    """pydantic's errors without the input they echo (it may be large or secret)."""
    out = []
    for err in errors:
        out.append({
            "loc": [str(part) for part in err.get("loc", ())],
            "msg": str(err.get("msg", "")),
            "type": str(err.get("type", "")),
        })
    return out


def unauthenticated_message() -> str:
    return _("Authentication required: send a valid API token as "
             "“Authorization: Bearer <token>”.")


def not_found_message() -> str:
    return _("Not found.")


def install(api: NinjaAPI) -> None:
    """Register the JSON error handlers on ``api``."""

    @api.exception_handler(ApiError)
    def api_error(request, exc: ApiError):
        return _response(api, request, exc.status, exc.code, exc.message, exc.errors)

    @api.exception_handler(DeskError)
    def desk_error(request, exc: DeskError):
        return _response(api, request, desk_status(exc.code), exc.code, str(exc))

    @api.exception_handler(ValidationError)
    def validation_error(request, exc: ValidationError):
        return _response(api, request, 422, "validation_error",
                         _("The request is not valid; see errors."), _field_errors(exc.errors))

    @api.exception_handler(AuthenticationError)
    def authentication_error(request, exc):
        response = _response(api, request, 401, "unauthenticated", unauthenticated_message())
        response["WWW-Authenticate"] = 'Bearer realm="slpdesk"'
        return response

    @api.exception_handler(Throttled)
    def throttled(request, exc: Throttled):
        limit = getattr(request, "slpdesk_rate", None)
        seconds = int(exc.wait or 1)
        if getattr(request, "slpdesk_per_address", False):
            message = _("Too many requests without a valid token from your address: at most "
                        "%(requests)d per %(seconds)d seconds. Try again in %(wait)d "
                        "seconds.") % {"requests": limit.requests, "seconds": limit.seconds,
                                       "wait": seconds}
        elif limit is not None:
            message = _("Too many requests: at most %(requests)d per %(seconds)d seconds "
                        "for a token. Try again in %(wait)d seconds.") % {
                "requests": limit.requests, "seconds": limit.seconds, "wait": seconds}
        else:
            message = _("Too many requests. Try again in %(wait)d seconds.") % {
                "wait": seconds}
        response = _response(api, request, 429, "rate_limited", message)
        response["Retry-After"] = str(seconds)
        return response

    @api.exception_handler(RequestDataTooBig)
    def too_large(request, exc):
        return _response(api, request, 413, "too_large_request",
                         _("The request is too large: at most %(limit)s.") % {
                             "limit": filesizeformat(body_limit(request))})

    @api.exception_handler(Http404)
    def not_found(request, exc):
        return _response(api, request, 404, "not_found", not_found_message())

    @api.exception_handler(PermissionDenied)
    def forbidden(request, exc):
        return _response(api, request, 403, "forbidden", _("You may not do this."))

    @api.exception_handler(HttpError)
    def http_error(request, exc: HttpError):
        if exc.status_code == 400:
            return _response(api, request, 400, "bad_request",
                             _("The request body could not be read (malformed JSON or "
                               "form data)."))
        if exc.status_code == 403:
            return _response(api, request, 403, "forbidden", _("You may not do this."))
        if exc.status_code == 404:
            return _response(api, request, 404, "not_found", not_found_message())
        return _response(api, request, exc.status_code, "error", str(exc))
