from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DeskConfig(AppConfig):
    name = "slpdesk.desk"
    label = "desk"
    verbose_name = _("Support desk")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.conf import settings

        from . import search

        search.connect()
        if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
            from slpdesk import sqlite_times

            sqlite_times.install()
