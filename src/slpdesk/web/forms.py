import zoneinfo
from functools import cache

from django import forms
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from slpdesk.desk.models import User


@cache
def zone_names() -> tuple[str, ...]:
    """Every IANA zone name zoneinfo knows, sorted: the time-zone picker's list."""
    return tuple(sorted(zoneinfo.available_timezones()))


class ZoneInput(forms.TextInput):
    """A text field with a searchable list of zone names (``<input list>`` and a
    ``<datalist>``: the browser filters as one types, no script). The model's
    validator still checks the name on the server."""

    template_name = "web/zone_input.html"

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["widget"]["attrs"]["list"] = f"{context['widget']['attrs']['id']}-zones"
        context["widget"]["zones"] = zone_names()
        return context


class PreferencesForm(forms.ModelForm):
    """A user's own language and time zone."""

    # Always one of the languages: none empty (a user with none set sees the one the
    # pages are in now, which is what the browser asked for).
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)

    class Meta:
        model = User
        fields = ["language", "time_zone"]
        widgets = {"time_zone": ZoneInput(attrs={"autocomplete": "off"})}
        help_texts = {
            "time_zone": _("Type to search, e.g. Europe/Stockholm or America/New_York. "
                           "Empty: UTC."),
        }

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        if not self.initial.get("language"):
            self.initial["language"] = translation.get_language()
