"""Per-request language and time zone from the user's profile (else the browser)."""

from __future__ import annotations

from django.utils import timezone, translation

from slpdesk.sla import CalendarError, get_zone


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
            return self.get_response(request)
        finally:
            timezone.deactivate()
