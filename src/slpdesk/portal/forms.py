"""The portal's forms: opening a case, replying, adding files, escalating, reopening.

The forms only check what the customer typed; whether the change is allowed
is decided by :mod:`slpdesk.desk.services` (and :mod:`slpdesk.desk.access`).
"""

from __future__ import annotations

import secrets
from datetime import date

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from slpdesk.desk import access
from slpdesk.desk.models import Release, User
from slpdesk.sla import Policy


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Any number of files (``<input type=file multiple>``), each at most
    ``SLPDESK_MAX_ATTACHMENT_BYTES``; cleans to a list."""

    widget = MultipleFileInput

    def clean(self, data, initial=None):
        files = [f for f in data if f] if isinstance(data, list | tuple) else (
            [data] if data else [])
        if not files:
            if self.required:
                raise ValidationError(self.error_messages["required"], code="required")
            return []
        cleaned = [super(MultipleFileField, self).clean(f, initial) for f in files]
        limit = settings.SLPDESK_MAX_ATTACHMENT_BYTES
        too_large = [
            ValidationError(
                _("“%(name)s” is too large (%(size)s): a file can be at most %(limit)s."),
                code="too_large",
                params={"name": f.name, "size": filesizeformat(f.size),
                        "limit": filesizeformat(limit)},
            )
            for f in cleaned if f.size > limit
        ]
        if too_large:
            raise ValidationError(too_large)
        return cleaned


class NewCaseForm(forms.Form):
    """A new case from the portal (R1: what support needs to know)."""

    site = forms.ModelChoiceField(
        label=_("Site"), queryset=None, empty_label=_("Choose the site"),
        help_text=_("Where the software with the problem is used."))
    title = forms.CharField(
        label=_("Title"), max_length=200,
        help_text=_("One line that sums up the problem."))
    proposed_priority = forms.ChoiceField(
        label=_("How urgent is it?"), widget=forms.RadioSelect,
        help_text=_("Your proposal: support confirms the priority when it looks at the "
                    "case. Until then, your proposal sets the response target."))
    release = forms.ModelChoiceField(
        label=_("Release"), queryset=None, required=False, empty_label=_("Not sure"))
    request_type = forms.ChoiceField(label=_("What is it about?"), required=False)
    description = forms.CharField(
        label=_("Description"), widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_("Describe what happens and what you expected instead, and list the steps "
                    "that reproduce the problem. Include error messages word for word."))
    system_details = forms.CharField(
        label=_("Operating system and hardware"), required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("For example: Windows 11 23H2, 32 GB RAM, NVIDIA RTX A2000, "
                    "licence on a network server."))
    attachments = MultipleFileField(label=_("Files"), required=False)
    # One-time: the same form sent twice opens one case (FormSubmission).
    form_token = forms.RegexField(regex=r"^[A-Za-z0-9_-]{16,64}$", required=False,
                                  widget=forms.HiddenInput)

    def __init__(self, *args, user: User, policy: Policy, today: date, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.fields["form_token"].initial = secrets.token_urlsafe(24)
        lang = translation.get_language() or "en"
        sites = access.sites_for(user).select_related("organisation")
        self.fields["site"].queryset = sites
        self.sites = list(sites)
        if len(self.sites) == 1:
            self.fields["site"].initial = self.sites[0].pk
            self.fields["site"].empty_label = None
        self.fields["proposed_priority"].choices = [
            (code, f"{code} {p.name.get(lang)}") for code, p in policy.priorities.items()]
        self.supported_releases = Release.objects.supported(today, policy.supported_releases)
        self.fields["release"].queryset = self.supported_releases
        self.fields["request_type"].choices = [("", _("Problem with the product"))] + [
            (c.code, c.name.get(lang)) for c in policy.out_of_scope]
        self.fields["attachments"].help_text = _(
            "Screenshots, log files or parts that show the problem (optional; at most "
            "%(limit)s per file).") % {"limit": filesizeformat(
                settings.SLPDESK_MAX_ATTACHMENT_BYTES)}


class ReplyForm(forms.Form):
    body = forms.CharField(label=_("Your message"), widget=forms.Textarea(attrs={"rows": 5}))


class UploadForm(forms.Form):
    files = MultipleFileField(label=_("Files"))


class EscalateForm(forms.Form):
    prefix = "escalate"
    reason = forms.CharField(
        label=_("Why does the case need escalating?"), widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("For example: the resolution target has passed, or the problem stops "
                    "production and progress is too slow."))


class ReopenForm(forms.Form):
    prefix = "reopen"
    reason = forms.CharField(
        label=_("Why are you reopening the case?"), widget=forms.Textarea(attrs={"rows": 3}))
