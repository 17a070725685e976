from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConsoleConfig(AppConfig):
    """The vendor's agents, supervisors and managers: work the queue."""

    name = "slpdesk.console"
    label = "console"
    verbose_name = _("Console")
