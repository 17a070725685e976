from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PortalConfig(AppConfig):
    """Customers and partners: open and follow their cases."""

    name = "slpdesk.portal"
    label = "portal"
    verbose_name = _("Portal")
