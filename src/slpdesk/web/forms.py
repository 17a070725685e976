from django import forms
from django.utils.translation import gettext_lazy as _

from slpdesk.desk.models import User


class PreferencesForm(forms.ModelForm):
    """A user's own language and time zone."""

    class Meta:
        model = User
        fields = ["language", "time_zone"]
        help_texts = {
            "language": _("Empty: follow the browser."),
            "time_zone": _("IANA name, e.g. Europe/Stockholm or America/New_York. "
                           "Empty: UTC."),
        }
