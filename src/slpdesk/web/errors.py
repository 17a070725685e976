"""Error answers: the 403, 404 and 500 pages in the site's layout with the request id,
and 503 when the database is unavailable.

* :class:`DatabaseWaitMiddleware`, before the first database access of a request,
  makes sure the database answers, trying again for ``SLPDESK_DB_WAIT`` seconds;
  then it answers 503 with ``Retry-After``.
* :func:`server_error` (``handler500``) turns a database outage met later in the
  request into the same 503; anything else is a 500 (logged with its traceback by
  Django, with the request id).

500 and 503 pages are rendered without the database (no user, no context
processors that query): in the language of the request (the language cookie, which
:class:`~slpdesk.web.middleware.UserPreferencesMiddleware` keeps equal to the
user's own language, or the browser's). Under ``/api/v1/`` the answer is the API's
JSON error, ``{"code": "unavailable", "message": …}``.
"""

from __future__ import annotations

import logging
import sys

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.translation import gettext as _

from slpdesk import dbstate

log = logging.getLogger("slpdesk.request")

#: Seconds a client is told to wait before trying again after a 503.
RETRY_AFTER = 10
API_PREFIX = "/api/"


def _request_id(request) -> str:
    return getattr(request, "request_id", "-")


def _page_without_database(request, template: str, status: int) -> HttpResponse:
    """``template`` in the site's layout, rendered with nothing that needs the database."""
    context = {"request": request, "user": AnonymousUser(), "is_staff_user": False,
               "request_id": _request_id(request), "csrf_token": get_token(request)}
    return HttpResponse(render_to_string(template, context), status=status)


def unavailable(request, reason: dbstate.Unavailable) -> HttpResponse:
    """503 with ``Retry-After``: the page, or the API's JSON error."""
    log.warning("database unavailable: %s", reason)
    if request.path_info.startswith(API_PREFIX):
        response = JsonResponse({"code": "unavailable", "message": _(
            "The service is unavailable for a moment (its database cannot be reached). "
            "Nothing was changed; try again in %(seconds)d seconds.") % {
            "seconds": RETRY_AFTER}}, status=503)
        response["Cache-Control"] = "no-store"
    else:
        response = _page_without_database(request, "503.html", 503)
    response["Retry-After"] = str(RETRY_AFTER)
    response._has_been_logged = True  # one warning line, not a traceback per request
    return response


class DatabaseWaitMiddleware:
    """Waits out a short database outage before the request touches the database;
    answers 503 when it lasts longer than ``SLPDESK_DB_WAIT`` seconds."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        reason = dbstate.wait(settings.SLPDESK_DB_WAIT)
        if reason is not None:
            return unavailable(request, reason)
        return self.get_response(request)


def server_error(request):
    """``handler500``: 503 if the error was the database going away, else 500."""
    reason = dbstate.problem(sys.exc_info()[1]) if sys.exc_info()[1] else None
    if reason is not None:
        return unavailable(request, reason)
    if request.path_info.startswith(API_PREFIX):
        return JsonResponse({"code": "server_error", "message": _(
            "Something went wrong on our side. Quote this request id if you report it: "
            "%(id)s") % {"id": _request_id(request)}}, status=500)
    return _page_without_database(request, "500.html", 500)


def not_found(request, exception=None):
    """``handler404``: in the layout, with the request id."""
    return render(request, "404.html", {"request_id": _request_id(request)}, status=404)


def forbidden(request, exception=None):
    """``handler403``: in the layout, with the request id."""
    return render(request, "403.html", {"request_id": _request_id(request)}, status=403)
