from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebConfig(AppConfig):
    """What the portal and the console share: layout, log-in, preferences, formatting."""

    name = "slpdesk.web"
    label = "web"
    verbose_name = _("Web")

    def ready(self) -> None:
        from django.core.signals import request_finished

        request_finished.connect(_forget_language, dispatch_uid="slpdesk.web.language")


def _forget_language(**kwargs) -> None:
    """Once a response is sent, nothing run later on this thread (a worker step, the
    next test) may speak the last user's language."""
    from django.utils import translation

    translation.deactivate()
