from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebConfig(AppConfig):
    """What the portal and the console share: layout, log-in, preferences, formatting."""

    name = "slpdesk.web"
    label = "web"
    verbose_name = _("Web")
