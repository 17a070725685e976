"""Around every request: its id and log line (:class:`RequestLogMiddleware`); the
language and time zone from the user's profile (:class:`UserPreferencesMiddleware`)."""

from __future__ import annotations

import logging
import re
import secrets
import time

from django.conf import settings
from django.utils import timezone, translation
from django.utils.functional import empty

from slpdesk import logs
from slpdesk.sla import CalendarError, get_zone

log = logging.getLogger("slpdesk.request")

#: A request id given by a proxy in front (nginx's $request_id) is kept when it looks
#: like one; otherwise a new one is made.
_GIVEN_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")


def _user_id(request) -> int | None:
    """The user's id if the request looked them up (never a look-up just for the log)."""
    user = request.__dict__.get("user")
    if user is None or getattr(user, "_wrapped", None) is empty:
        return None
    return user.pk if getattr(user, "is_authenticated", False) else None


class RequestLogMiddleware:
    """First of all middleware: gives the request an id (``request.request_id``, the
    ``X-Request-ID`` header of the answer, every log record written meanwhile), answers
    the health checks whatever the Host header, and logs one line when the answer is
    ready: method, path (never the query string), status, duration, user id.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from . import views

        given = request.META.get("HTTP_X_REQUEST_ID", "")
        request.request_id = given if _GIVEN_ID.fullmatch(given) else secrets.token_hex(8)
        token = logs.request_id.set(request.request_id)
        started = time.monotonic()
        try:
            # The health checks are answered before anything reads the Host header.
            response = views.HEALTH_CHECKS.get(request.path_info, self.get_response)(request)
            response["X-Request-ID"] = request.request_id
            millis = (time.monotonic() - started) * 1000
            user_id = _user_id(request)
            log.info("%s %s %s %.0f ms user=%s", request.method, request.path,
                     response.status_code, millis, user_id if user_id else "-",
                     extra={"method": request.method, "path": request.path,
                            "status": response.status_code, "duration_ms": round(millis, 1),
                            "user_id": user_id})
            return response
        finally:
            logs.request_id.reset(token)


class UserPreferencesMiddleware:
    """After authentication: a logged-in user's own language wins over the browser's,
    and every time is shown in the user's zone (UTC when they have not set one).

    Must come after ``AuthenticationMiddleware`` and ``LocaleMiddleware``.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        zone = "UTC"
        if user is not None and user.is_authenticated:
            if user.language:
                translation.activate(user.language)
                request.LANGUAGE_CODE = translation.get_language()
            zone = user.time_zone or zone
        try:  # a name stored before names were checked may be anything
            timezone.activate(get_zone(zone))
        except CalendarError:
            timezone.activate(get_zone("UTC"))
        try:
            response = self.get_response(request)
        finally:
            timezone.deactivate()
        if (user is not None and user.is_authenticated and user.language
                and request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME) != user.language):
            # Remembered in the browser too, so that pages that cannot look the user
            # up (the database is down: 503) still speak their language.
            response.set_cookie(settings.LANGUAGE_COOKIE_NAME, user.language,
                                max_age=365 * 24 * 3600, samesite="Lax",
                                secure=settings.SESSION_COOKIE_SECURE, httponly=True)
        return response
