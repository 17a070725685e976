"""URL routes of slpdesk: the front door and log-in, the customer portal, the agent
console, and the configuration (Django admin)."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.i18n import set_language

from slpdesk.privacy import views as privacy
from slpdesk.web import calendar_feed, password, sso, twofactor
from slpdesk.web import views as web

urlpatterns = [
    path("", web.home, name="home"),
    path("login/", sso.LoginView.as_view(), name="login"),
    path("login/sso/", sso.SsoStart.as_view(), name="sso_start"),
    path("login/sso/callback/", sso.SsoCallback.as_view(), name="sso_callback"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("login/verify/", twofactor.verify, name="two_factor_verify"),
    path("preferences/two-factor/", twofactor.setup, name="two_factor_setup"),
    path("", include(password.urlpatterns)),  # password reset and change
    path("preferences/", web.preferences, name="preferences"),
    path("language/", set_language, name="set_language"),
    path("attachments/<int:pk>/", web.download, name="download"),
    path("health/", web.health, name="health"),  # (answered by RequestLogMiddleware)
    path("health/ready", web.ready, name="ready"),
    # Public: the support calendars' hours and holidays as iCalendar feeds.
    path("calendars/<str:calendar>.ics", calendar_feed.feed, name="calendar_feed"),
    path("portal/", include("slpdesk.portal.urls")),
    path("preferences/my-data/", privacy.my_data, name="my_data"),
    path("console/privacy/", include("slpdesk.privacy.urls")),  # administrators
    path("console/", include("slpdesk.console.urls")),
    path("reports/", include("slpdesk.reports.urls")),
    path("admin/", admin.site.urls),
    path("", include("slpdesk.api.urls")),  # /api/v1/ and /preferences/api-tokens/
]

# Error pages in the site's layout with the request id; 503 when the database is away.
handler403 = "slpdesk.web.errors.forbidden"
handler404 = "slpdesk.web.errors.not_found"
handler500 = "slpdesk.web.errors.server_error"
