"""The console's pages for program updates (U1-U2), policy versions (V1-V2) and the
e-mails the intake held for an agent.

Every page is for the vendor's staff (``staff_required``: anyone else gets 404).
Updates and policy versions are published by managers and administrators
(:func:`slpdesk.desk.publishing.can_publish`); held e-mails are settled by staff
who work cases (:func:`access.can_work`). Every change goes through
:mod:`slpdesk.desk.publishing` or :mod:`slpdesk.mail.inbound`, with ``now`` read
once per request; a refusal is shown with nothing changed.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from slpdesk.desk import access, publishing
from slpdesk.desk.models import (
    Case,
    InboundMessage,
    PolicyVersion,
    ProgramUpdate,
    Release,
    Site,
    User,
)
from slpdesk.desk.services import DeskError
from slpdesk.mail import inbound

from .forms import priority_choices
from .views import _errors, staff_required

MAX_POLICY_BYTES = 256 * 1024


def _lang() -> str:
    return translation.get_language() or "en"


# ------------------------------------------------------------ program updates
class UpdateForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)
    released = forms.DateField(label=gettext_lazy("Release date"),
                               widget=forms.DateInput(attrs={"type": "date"}))
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), choices=ProgramUpdate.Kind.choices)
    security = forms.BooleanField(label=gettext_lazy("Security fix"), required=False)
    notes = forms.CharField(label=gettext_lazy("Notes"), required=False,
                            widget=forms.Textarea(attrs={"rows": 5}))
    releases = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Applies to releases"), queryset=Release.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("Only the current and the previous release get updates."))

    def __init__(self, *args, releases, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["releases"].queryset = Release.objects.filter(
            pk__in=[r.pk for r in releases]).order_by("-released")


def _updates_page(request, now, form=None, status=200):
    releases = publishing.supported_releases(now)
    rows = (ProgramUpdate.objects.prefetch_related("applies_to").select_related("published_by")
            .order_by("-released", "-pk"))
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    organisations = publishing.covered_organisations(now)
    return render(request, "console/updates.html", {
        "page": page,
        "form": form or UpdateForm(releases=releases,
                                   initial={"released": timezone.localdate(now)}),
        "can_publish": publishing.can_publish(request.user),
        "supported": releases,
        "covered": len(organisations),
        "without_contact": [o for o in organisations if o.technical_contact_id is None],
    }, status=status)


@staff_required
def updates(request):
    """Program updates: the list, and for managers a form to record one."""
    now = timezone.now()
    if request.method != "POST":
        return _updates_page(request, now)
    if not publishing.can_publish(request.user):
        raise PermissionDenied(_("Only support managers and administrators can publish."))
    form = UpdateForm(request.POST, releases=publishing.supported_releases(now))
    if form.is_valid():
        d = form.cleaned_data
        try:
            update = publishing.create_update(
                name=d["name"], released=d["released"], kind=d["kind"],
                security=d["security"], notes=d["notes"], releases=d["releases"],
                actor=request.user, now=now)
        except DeskError as err:
            messages.error(request, str(err))
        else:
            messages.success(request, _("%(name)s is recorded; publish it to tell the "
                                        "customers.") % {"name": update.name})
            return redirect("console:updates")
    else:
        messages.error(request, _errors(form))
    return _updates_page(request, now, form=form)


@staff_required
@require_POST
def publish_update(request, pk: int):
    now = timezone.now()
    if not publishing.can_publish(request.user):
        raise PermissionDenied(_("Only support managers and administrators can publish."))
    update = get_object_or_404(ProgramUpdate, pk=pk)
    try:
        told = publishing.publish_update(update, actor=request.user, now=now)
    except DeskError as err:
        messages.error(request, str(err))
    else:
        messages.success(request, _("%(name)s is published; %(count)d technical contacts are "
                                    "told.") % {"name": update.name, "count": told})
    return redirect("console:updates")


# ------------------------------------------------------------ policy versions
class PolicyForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("Policy file (TOML)"), required=False)
    toml = forms.CharField(label=gettext_lazy("…or paste it"), required=False, strip=False,
                           widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "false",
                                                        "class": "mono"}))
    effective = forms.DateField(label=gettext_lazy("Takes effect on (UTC)"),
                                widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        upload = data.get("file")
        if upload:
            if upload.size > MAX_POLICY_BYTES:
                raise forms.ValidationError(_("The policy file is too large."))
            try:
                data["toml"] = upload.read().decode("utf-8")
            except UnicodeDecodeError:
                raise forms.ValidationError(_("The policy file is not UTF-8 text.")) from None
        if not (data.get("toml") or "").strip():
            raise forms.ValidationError(_("Upload the policy file or paste it."))
        return data


@staff_required
def policy(request):
    """The policy in force, the versions coming, the history; managers preview a new
    version's changes and publish it with at least the policy's notice (V1)."""
    now = timezone.now()
    lang = _lang()
    in_force = PolicyVersion.objects.in_force(now)
    can = publishing.can_publish(request.user)
    preview = None
    form = PolicyForm(initial={"effective": publishing.utc_date(
        publishing.earliest_effective(in_force.load().notice_days, now))})
    if request.method == "POST":
        if not can:
            raise PermissionDenied(_("Only support managers and administrators can publish."))
        form = PolicyForm(request.POST, request.FILES)
        if form.is_valid():
            d = form.cleaned_data
            effective_at = publishing.effective_from(d["effective"])
            try:
                new = publishing.parse_policy_text(d["toml"])
                if request.POST.get("action") == "publish":
                    version = publishing.publish_policy(d["toml"], effective_at=effective_at,
                                                        actor=request.user, now=now)
                    messages.success(request, _(
                        "Version %(version)s is published; it takes effect on %(date)s. The "
                        "notice is on its way to the technical contacts.") % {
                        "version": version.version,
                        "date": effective_at.date().isoformat()})
                    return redirect("console:policy")
                previous = publishing.latest_version(now)
                notice_problem = ""
                try:
                    publishing.check_notice(new, effective_at, now)
                except DeskError as err:
                    notice_problem = str(err)
                preview = {
                    "policy": new,
                    "previous": previous,
                    "changes": publishing.describe_changes(previous.load(), new, lang),
                    "notice_problem": notice_problem,
                    "effective_date": d["effective"],
                }
                form = PolicyForm(initial={"toml": d["toml"], "effective": d["effective"]})
            except DeskError as err:
                messages.error(request, str(err))
        else:
            messages.error(request, _errors(form))
    versions = list(PolicyVersion.objects.select_related("published_by")
                    .order_by("-effective_at", "-id"))
    for v in versions:
        v.state = ("coming" if v.effective_at > now else
                   "in_force" if v.pk == in_force.pk else "past")
        v.change_lines = publishing.changes_in(v, lang)
    return render(request, "console/policy.html", {
        "in_force": in_force,
        "versions": versions,
        "form": form,
        "preview": preview,
        "can_publish": can,
        "covered": len(publishing.covered_organisations(now)),
        "now": now,
    })


# -------------------------------------------------------------- inbound mail
INBOUND_FILTERS = {
    "attention": (InboundMessage.State.HELD, InboundMessage.State.FAILED),
    "held": (InboundMessage.State.HELD,),
    "failed": (InboundMessage.State.FAILED,),
    "waiting": (InboundMessage.State.PENDING,),
    "done": (InboundMessage.State.DONE,),
    "all": None,
}

#: What the intake's flags mean, for agents.
FLAG_TEXTS = {
    "unreadable": gettext_lazy("The message could not be read as e-mail."),
    "bad_charset": gettext_lazy("Its text was in an unknown or wrong character set."),
    "html_only": gettext_lazy("It had only HTML; the text was taken from it."),
    "text_truncated": gettext_lazy("Its text was very long and is cut short."),
    "too_many_parts": gettext_lazy("It has very many parts; only the first were read."),
    "too_many_files": gettext_lazy("It has more files than a case takes at once."),
    "unreadable_file": gettext_lazy("A file in it could not be read."),
    "bad_file_name": gettext_lazy("A file name in it could not be read."),
    "no_sender": gettext_lazy("It has no sender address."),
    "several_senders": gettext_lazy("It names several senders."),
    "no_body": gettext_lazy("Its structure is broken; no text was found."),
    "dmarc_fail": gettext_lazy("Our mail server found the sender address forged (DMARC)."),
    "forged_token": gettext_lazy("Its reply address carries a token that is not ours."),
    "no_such_case": gettext_lazy("It refers to a case that does not exist."),
    "sender_not_participant": gettext_lazy("The sender is not a participant of the case its reply "
                                 "address belongs to."),
    "sender_not_of_organisation": gettext_lazy("The sender does not belong to the case's "
                                     "organisation."),
    "ambiguous_sender": gettext_lazy("Several contacts have the sender's address."),
    "no_site": gettext_lazy("The sender's organisation has no site."),
    "sender_not_verified": gettext_lazy("Our mail server did not verify the sender (no DMARC "
                                        "or aligned DKIM pass from a trusted server)."),
    "no_case_number": gettext_lazy("It asks for an escalation but names no case."),
    "confirmation_already_sent": gettext_lazy("The contact was already asked to confirm an "
                                              "escalation of this case a short while ago."),
}


def flag_text(code: str) -> str:
    if code in FLAG_TEXTS:
        return str(FLAG_TEXTS[code])
    if code.startswith("file_too_large:"):
        return _("A file was over the size limit and is not on the case: %(name)s") % {
            "name": code.partition(":")[2]}
    if code.startswith("mime:"):
        return _("MIME problem: %(defect)s") % {"defect": code.partition(":")[2]}
    if code.startswith("auth:"):
        return _("Our mail server said: %(result)s") % {"result": code.partition(":")[2]}
    if code.startswith("bad_header:"):
        return _("A header could not be read: %(name)s") % {"name": code.partition(":")[2]}
    return code


@staff_required
def inbound_list(request):
    show = request.GET.get("show") or "attention"
    if show not in INBOUND_FILTERS:
        show = "attention"
    rows = InboundMessage.objects.select_related("case").defer("raw")
    if INBOUND_FILTERS[show] is not None:
        rows = rows.filter(state__in=INBOUND_FILTERS[show])
    page = Paginator(rows.order_by("-created_at", "-pk"), 50).get_page(request.GET.get("page"))
    counts = InboundMessage.objects.aggregate(
        held=Count("pk", filter=Q(state=InboundMessage.State.HELD)),
        failed=Count("pk", filter=Q(state=InboundMessage.State.FAILED)))
    return render(request, "console/inbound.html", {
        "page": page,
        "show": show,
        "counts": counts,
        "tabs": [("attention", _("Needs an agent")), ("held", _("Held")),
                 ("failed", _("Failed")), ("waiting", _("Waiting")),
                 ("done", _("Done")), ("all", _("All"))],
    })


class ReplyForm(forms.Form):
    case = forms.CharField(label=gettext_lazy("Case number"), max_length=20)
    contact_email = forms.EmailField(label=gettext_lazy("From the contact with the address"))


class NewCaseForm(forms.Form):
    contact_email = forms.EmailField(label=gettext_lazy("For the contact with the address"))
    site = forms.ModelChoiceField(label=gettext_lazy("Site"), queryset=Site.objects.none())
    priority = forms.ChoiceField(label=gettext_lazy("Priority the customer asks for"))

    def __init__(self, *args, policy, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = Site.objects.select_related("organisation").order_by(
            "organisation__name", "name")
        self.fields["site"].label_from_instance = (
            lambda s: f"{s.organisation.name} – {s.name} ({s.country})")
        self.fields["priority"].choices = priority_choices(policy)
        self.fields["priority"].initial = list(policy.priorities)[-1]


def _contact_by_email(address: str, organisation_ids) -> User | None:
    return User.objects.filter(email__iexact=address, is_active=True,
                               role=User.Role.CUSTOMER,
                               organisation_id__in=[o for o in organisation_ids if o]).first()


@staff_required
def inbound_detail(request, pk: int):
    now = timezone.now()
    row = get_object_or_404(InboundMessage.objects.select_related("case", "handled_by"), pk=pk)
    policy = PolicyVersion.objects.in_force(now).load()
    parsed = inbound.parse(bytes(row.raw))
    sender = inbound.sender_contact(row.sender)
    actionable = row.state in (InboundMessage.State.HELD, InboundMessage.State.FAILED)
    initial = {"contact_email": row.sender}
    if sender is not None:
        site = inbound.choose_site(sender, now)
        if site is not None:
            initial["site"] = site.pk
    initial["priority"] = inbound.proposed_priority(parsed.subject, list(policy.priorities))
    found = inbound.CASE_NUMBER.search(parsed.subject)
    return render(request, "console/inbound_detail.html", {
        "row": row,
        "parsed": parsed,
        "flags": [flag_text(code) for code in (row.flags or [])],
        "files": [{"name": name, "size": len(content)} for name, content in parsed.files],
        "sender": sender,
        "can_act": actionable and access.can_work(request.user),
        "reply_form": ReplyForm(initial={
            **initial, "case": f"SLP-{int(found.group(1)):06d}" if found else ""}),
        "new_case_form": NewCaseForm(initial=initial, policy=policy),
    })


@staff_required
@require_POST
def inbound_act(request, pk: int, action: str):
    """Settle a held or failed e-mail: attach as a reply, open a case, dismiss, retry."""
    now = timezone.now()
    user = request.user
    if not access.can_work(user):
        raise PermissionDenied(_("Only support staff who work cases can do this."))
    row = get_object_or_404(InboundMessage, pk=pk)
    done = ""
    try:
        if action == "reply":
            form = ReplyForm(request.POST)
            if not form.is_valid():
                raise DeskError("form", _errors(form))
            case = Case.objects.select_related("organisation").filter(
                number=form.cleaned_data["case"].strip().upper()).first()
            if case is None:
                raise DeskError("case", _("There is no case %(number)s."),
                                number=form.cleaned_data["case"])
            contact = _contact_by_email(form.cleaned_data["contact_email"], [
                case.organisation_id, case.organisation.supported_by_id])
            if contact is None:
                raise DeskError("contact", _("No contact of %(organisation)s has this "
                                             "address."), organisation=case.organisation.name)
            inbound.attach_as_reply(row, case, contact, actor=user, now=now)
            done = _("The e-mail is added to %(number)s.") % {"number": case.number}
        elif action == "new_case":
            form = NewCaseForm(request.POST, policy=PolicyVersion.objects.in_force(now).load())
            if not form.is_valid():
                raise DeskError("form", _errors(form))
            site = form.cleaned_data["site"]
            contact = _contact_by_email(form.cleaned_data["contact_email"], [
                site.organisation_id, site.organisation.supported_by_id])
            if contact is None:
                raise DeskError("contact", _("No contact of %(organisation)s has this "
                                             "address."), organisation=site.organisation.name)
            case = inbound.open_case_for(row, site, contact, form.cleaned_data["priority"],
                                         actor=user, now=now)
            done = _("Case %(number)s is opened from the e-mail.") % {"number": case.number}
        elif action == "dismiss":
            inbound.dismiss(row, actor=user, now=now)
            done = _("The e-mail is dismissed.")
        elif action == "retry":
            inbound.retry(row, actor=user, now=now)
            done = _("The e-mail will be processed again.")
        else:
            raise DeskError("action", _("Unknown action."))
    except DeskError as err:
        messages.error(request, str(err))
        return redirect("console:inbound_detail", pk=row.pk)
    messages.success(request, done)
    return redirect("console:inbound")
