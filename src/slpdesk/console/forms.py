"""The console's forms: they parse what an agent posts; the services decide.

Text fields are optional here on purpose: an empty summary, reason or
message is refused by the service, with the service's own message, so the
rule lives in one place. Choice fields offer what the case's policy allows
(priorities, exclusions) in the user's language.
"""

from __future__ import annotations

from django import forms
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from slpdesk.desk import access
from slpdesk.desk.models import CannedReply, Case, Release, SavedView, Site, User
from slpdesk.sla import Policy


def _lang() -> str:
    return translation.get_language() or "en"


def priority_choices(policy: Policy) -> list[tuple[str, str]]:
    lang = _lang()
    return [(code, f"{code} {p.name.get(lang)}") for code, p in policy.priorities.items()]


def _textarea(rows: int = 4) -> forms.Textarea:
    return forms.Textarea(attrs={"rows": rows})


class CaseActionForm(forms.Form):
    """A form about one case; ``case`` gives the policy for the choices."""

    def __init__(self, *args, case: Case, **kwargs):
        self.case = case
        super().__init__(*args, **kwargs)


class TriageForm(CaseActionForm):
    priority = forms.ChoiceField(label=_("Priority"))
    information_complete = forms.BooleanField(
        label=_("The information is complete"), required=False,
        help_text=_("Support has what it needs: the resolution clock starts now."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["priority"].choices = priority_choices(self.case.policy())
        self.fields["priority"].initial = self.case.effective_priority()


class EmptyForm(CaseActionForm):
    """An action without fields (mark the information complete)."""


def case_stamp(case: Case) -> str:
    """The case's last change as the composer carries it (issue 13 item 5)."""
    return case.updated_at.isoformat()


class MessageForm(CaseActionForm):
    body = forms.CharField(label=_("Message"), required=False, widget=_textarea(5),
                           strip=False)
    #: The case's last change when the page was drawn: a message written against an
    #: older state is held once with what changed (``views._changed_since``).
    stamp = forms.DateTimeField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["stamp"].initial = case_stamp(self.case)


class AssignForm(CaseActionForm):
    assignee = forms.ModelChoiceField(queryset=User.objects.none(), required=False,
                                      label=_("Assign to"), empty_label=_("Nobody"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["assignee"]
        field.queryset = access.staff_users().order_by("first_name", "last_name", "username")
        field.label_from_instance = lambda u: u.get_full_name() or u.username
        field.initial = self.case.assignee_id


class ClassifyForm(CaseActionForm):
    kind = forms.ChoiceField(label=_("Kind"), choices=Case.Kind.choices)
    defect_reference = forms.CharField(
        label=_("Defect reference"), required=False, max_length=100,
        help_text=_("Needed for a bug or defect: it has no resolution target then."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].initial = self.case.kind
        self.fields["defect_reference"].initial = self.case.defect_reference


class ResolveForm(CaseActionForm):
    resolution = forms.ChoiceField(label=_("Resolution"), choices=Case.Resolution.choices,
                                   widget=forms.RadioSelect)
    summary = forms.CharField(label=_("Summary for the customer"), required=False,
                              widget=_textarea())


class ExcludeForm(CaseActionForm):
    reason = forms.ChoiceField(label=_("Reason"))
    note = forms.CharField(label=_("Note"), required=False, max_length=500)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        lang = _lang()
        self.fields["reason"].choices = [
            (c.code, c.name.get(lang)) for c in self.case.policy().exclusions]


class ReasonForm(CaseActionForm):
    """Reopen and escalate: a reason in words."""

    reason = forms.CharField(label=_("Reason"), required=False, widget=_textarea(3))


class UploadForm(CaseActionForm):
    file = forms.FileField(label=_("File"), required=False)
    internal = forms.BooleanField(label=_("Internal (support staff only)"), required=False,
                                  initial=True)


# ------------------------------------------------------------------ calendars
class ClosureForm(forms.Form):
    calendar = forms.ChoiceField(label=_("Calendar"), widget=forms.HiddenInput)
    date = forms.DateField(label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}))
    reason = forms.CharField(label=_("Reason"), max_length=200)

    def __init__(self, *args, calendars: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["calendar"].choices = [(name, name) for name in calendars]


# ------------------------------------------------------------------- new case
class NewCaseForm(forms.Form):
    """A case an agent logs for a customer's contact (phone or e-mail)."""

    site = forms.ModelChoiceField(queryset=Site.objects.none(), label=_("Site"))
    contact = forms.ModelChoiceField(queryset=User.objects.none(), label=_("Contact"))
    channel = forms.ChoiceField(label=_("Received by"), choices=[
        (Case.Channel.PHONE, Case.Channel.PHONE.label),
        (Case.Channel.EMAIL, Case.Channel.EMAIL.label),
    ])
    proposed_priority = forms.ChoiceField(label=_("Priority the customer asks for"))
    title = forms.CharField(label=_("Title"), max_length=200, required=False)
    description = forms.CharField(label=_("Description"), required=False, widget=_textarea(6))
    system_details = forms.CharField(label=_("Operating system and hardware"), required=False,
                                     widget=_textarea(2))
    release = forms.ModelChoiceField(queryset=Release.objects.none(), required=False,
                                     label=_("Release"), empty_label=_("Not known"))
    request_type = forms.ChoiceField(label=_("Request type"), required=False)

    def __init__(self, *args, user: User, policy: Policy, organisation=None, **kwargs):
        super().__init__(*args, **kwargs)
        lang = _lang()
        sites = access.sites_for(user).select_related("organisation").order_by(
            "organisation__name", "name")
        contacts = User.objects.filter(role=User.Role.CUSTOMER, is_active=True,
                                       organisation__isnull=False).select_related(
            "organisation").order_by("organisation__name", "last_name", "first_name",
                                     "username")
        if organisation is not None:
            sites = sites.filter(organisation=organisation)
            orgs = [organisation.pk] + ([organisation.supported_by_id]
                                        if organisation.supported_by_id else [])
            contacts = contacts.filter(organisation_id__in=orgs)
        self.fields["site"].queryset = sites
        self.fields["site"].label_from_instance = (
            lambda s: f"{s.organisation.name} – {s.name} ({s.country}, {s.time_zone})")
        self.fields["contact"].queryset = contacts
        self.fields["contact"].label_from_instance = (
            lambda u: f"{u.get_full_name() or u.username} <{u.email}> – {u.organisation.name}")
        self.fields["release"].queryset = Release.objects.order_by("-released")
        self.fields["proposed_priority"].choices = [("", "---------")] + priority_choices(policy)
        if organisation is not None and len(sites) == 1:
            self.fields["site"].initial = sites[0].pk
        self.fields["request_type"].choices = [("", _("A support request"))] + [
            (c.code, c.name.get(lang)) for c in policy.out_of_scope]


class CannedReplyForm(forms.Form):
    """A canned reply as an agent writes it (issue 13); the placeholders and who may
    change it are checked by :func:`slpdesk.desk.canned.save`."""

    title = forms.CharField(label=_("Title"), max_length=120)
    body_en = forms.CharField(label=_("Text in English"), widget=_textarea(6), strip=False)
    body_sv = forms.CharField(label=_("Text in Swedish"), widget=_textarea(6), strip=False)
    action = forms.ChoiceField(label=_("Send it as"), required=False,
                               choices=CannedReply.Action.choices)
    shared = forms.BooleanField(label=_("Shared with all staff"), required=False)


# ------------------------------------------------------------- saved views
#: The queue's columns an agent may hide (the case number always shows), in order.
QUEUE_COLUMNS = (
    ("priority", _("Priority")),
    ("title", _("Title")),
    ("organisation", _("Organisation")),
    ("calendar", _("Calendar")),
    ("status", _("Status")),
    ("assignee", _("Assigned to")),
    ("sla", _("SLA")),
    ("due_you", _("Next due (you)")),
    ("due_customer", _("Next due (customer)")),
)


class SavedViewForm(forms.Form):
    """A queue saved under a name: its filters, order and columns, checked against
    what the queue offers (``views``, ``statuses``, ``sorts``: the queue's codes;
    ``policy``: priorities and calendars in force)."""

    name = forms.CharField(label=_("Name of the view"), max_length=60)
    shared = forms.BooleanField(label=_("Share with all staff"), required=False)
    view = forms.ChoiceField(label=_("Queue"))
    status = forms.ChoiceField(label=_("Status"))
    priority = forms.ChoiceField(label=_("Priority"), required=False)
    organisation = forms.ModelChoiceField(queryset=None, required=False,
                                          label=_("Organisation"))
    region = forms.ChoiceField(label=_("Region"), required=False)
    sort = forms.ChoiceField(label=_("Order"), required=False)
    q = forms.CharField(label=_("Words"), max_length=200, required=False)
    col = forms.MultipleChoiceField(label=_("Columns"), choices=QUEUE_COLUMNS,
                                    required=False)

    def __init__(self, *args, user: User, policy: Policy, views, statuses, sorts,
                 instance=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user, self.instance = user, instance
        self.fields["view"].choices = [(v, v) for v in views]
        self.fields["status"].choices = [(s, s) for s in statuses]
        self.fields["sort"].choices = [("", "")] + [(s, s) for s in sorts]
        self.fields["priority"].choices = [("", "")] + priority_choices(policy)
        self.fields["region"].choices = [("", "")] + [(c, c) for c in policy.calendars]
        self.fields["organisation"].queryset = access.organisations_for(user)

    def clean_name(self):
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise forms.ValidationError(_("Give the view a name."))
        taken = SavedView.objects.filter(
            owner=self.instance.owner if self.instance else self.user, name=name)
        if self.instance is not None:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError(_("There is already a view called “%(name)s”."),
                                        params={"name": name})
        return name

    def filters(self) -> dict[str, str]:
        d = self.cleaned_data
        org = d["organisation"]
        return {"view": d["view"], "status": d["status"], "priority": d["priority"],
                "organisation": str(org.pk) if org else "", "region": d["region"],
                "sort": d["sort"], "q": d["q"].strip()}

    def columns(self) -> list[str]:
        """The columns chosen, in the queue's order (none chosen: all of them)."""
        chosen = set(self.cleaned_data["col"])
        return [code for code, _label in QUEUE_COLUMNS if code in chosen]
