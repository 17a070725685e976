"""The reports' forms: a period, and a draft policy for the what-if simulator."""

from __future__ import annotations

from datetime import date, timedelta

from django import forms
from django.utils.translation import gettext_lazy as _

from slpdesk.desk.models import PolicyVersion
from slpdesk.sla import PolicyError

from .simulate import MAX_DRAFT_BYTES, parse_draft

#: The longest period a page computes (a year and a bit); the command line has no limit.
MAX_DAYS = 400


def default_period(today: date) -> tuple[date, date]:
    """From the first day of the month two months back to today: this month and the
    two before it."""
    y, m = today.year, today.month - 2
    if m < 1:
        y, m = y - 1, m + 12
    return date(y, m, 1), today


def _date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class PeriodForm(forms.Form):
    # Named from/to in the query string (``from`` is a Python keyword).
    first = forms.DateField(label=_("From"), widget=_date_input())
    last = forms.DateField(label=_("To"), widget=_date_input())

    def __init__(self, data=None, *, today: date, **kw):
        if data is not None:
            data = {"first": data.get("from") or "", "last": data.get("to") or ""}
        first, last = default_period(today)
        super().__init__(data, initial={"first": first, "last": last}, **kw)

    def clean(self):
        d = super().clean()
        first, last = d.get("first"), d.get("last")
        if first and last:
            if last < first:
                raise forms.ValidationError(_("The period ends before it starts."))
            if (last - first) > timedelta(days=MAX_DAYS):
                raise forms.ValidationError(
                    _("Choose a period of at most %(days)d days."), params={"days": MAX_DAYS})
        return d

    def period(self) -> tuple[date, date]:
        """The chosen period, or the default one when nothing (valid) was chosen."""
        if self.is_bound and self.is_valid():
            return self.cleaned_data["first"], self.cleaned_data["last"]
        return self.initial["first"], self.initial["last"]


class DraftForm(forms.Form):
    """A draft policy (a stored version, a pasted text or an uploaded file) and a period."""

    first = forms.DateField(label=_("From"), widget=_date_input())
    last = forms.DateField(label=_("To"), widget=_date_input())
    version = forms.ModelChoiceField(
        PolicyVersion.objects.order_by("-effective_at", "-id"), required=False,
        label=_("A stored policy version"), empty_label=_("– none: paste or upload below –"))
    text = forms.CharField(label=_("Or paste the draft (TOML)"), required=False,
                           widget=forms.Textarea(attrs={"rows": 12, "spellcheck": "false",
                                                        "class": "mono"}))
    file = forms.FileField(label=_("Or upload the draft (a .toml file)"), required=False)

    def clean(self):
        d = super().clean()
        first, last = d.get("first"), d.get("last")
        if first and last:
            if last < first:
                raise forms.ValidationError(_("The period ends before it starts."))
            if (last - first) > timedelta(days=MAX_DAYS):
                raise forms.ValidationError(
                    _("Choose a period of at most %(days)d days."), params={"days": MAX_DAYS})
        sources = [bool(d.get("version")), bool((d.get("text") or "").strip()),
                   bool(d.get("file"))]
        if sum(sources) != 1:
            raise forms.ValidationError(_("Choose one draft: a stored version, a pasted text "
                                          "or an uploaded file."))
        if d.get("version"):
            d["draft_text"], d["source"] = d["version"].toml, str(d["version"])
        elif d.get("file"):
            upload = d["file"]
            if upload.size > MAX_DRAFT_BYTES:
                raise forms.ValidationError(_("The file is too large."))
            try:
                d["draft_text"] = upload.read().decode("utf-8")
            except UnicodeDecodeError:
                raise forms.ValidationError(_("The file is not UTF-8 text.")) from None
            d["source"] = upload.name
        else:
            d["draft_text"], d["source"] = d["text"], "draft"
        try:
            d["draft"] = parse_draft(d["draft_text"], d["source"])
        except PolicyError as exc:
            raise forms.ValidationError(_("The draft is not a valid policy: %(error)s"),
                                        params={"error": str(exc)}) from None
        return d
