"""Pages for personal data: administrators find a person, download their export and
erase them (with a confirmation step) in the console; everyone downloads their own
export from Preferences."""

from __future__ import annotations

import tempfile
from functools import wraps

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from slpdesk.desk import access
from slpdesk.desk.models import Case, Message, User
from slpdesk.desk.services import DeskError

from .erasure import erase
from .export import collect, write_zip
from .models import Erasure


def admin_required(view):
    """Logged in as an administrator; anyone else gets a 404 (as for a page that does
    not exist)."""

    @wraps(view)
    @login_required
    def wrapped(request, *args, **kwargs):
        if not access.can_manage_personal_data(request.user):
            raise Http404("not found")
        return view(request, *args, **kwargs)

    return wrapped


def _zip_response(document: dict, files, name: str) -> FileResponse:
    spool = tempfile.SpooledTemporaryFile(max_size=8 << 20)  # noqa: SIM115 (closed by the response)
    write_zip(spool, document, files)
    spool.seek(0)
    response = FileResponse(spool, as_attachment=True, filename=name,
                            content_type="application/zip")
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response


# ------------------------------------------------------------- self-service
@login_required
def my_data(request):
    """Preferences → Download my data: the page, and with ``?download=1`` the ZIP."""
    if request.GET.get("download") != "1":
        return render(request, "privacy/my_data.html")
    now = timezone.now()
    document, files = collect(request.user, now=now, self_service=True)
    return _zip_response(document, files, f"personal-data-{now:%Y%m%d}.zip")


# ------------------------------------------------------------------- console
@admin_required
def people(request):
    """Find a person by user name, name, e-mail address or phone; recent erasures."""
    q = (request.GET.get("q") or "").strip()[:200]
    found = []
    if q:
        found = list(access.people_for(request.user).filter(
            Q(username__icontains=q) | Q(email__icontains=q) | Q(first_name__icontains=q)
            | Q(last_name__icontains=q) | Q(phone__icontains=q)).filter(erased_at__isnull=True)
            .select_related("organisation").order_by("username")[:50])
    erasures = Erasure.objects.select_related("by")[:20]
    return render(request, "privacy/people.html", {"q": q, "found": found,
                                                   "erasures": erasures})


class EraseForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("Why (recorded with the erasure)"),
                             max_length=500, widget=forms.Textarea(attrs={"rows": 2}))
    mode = forms.ChoiceField(
        label=gettext_lazy("Their messages"), widget=forms.RadioSelect, initial="redact",
        choices=[("redact", gettext_lazy("Remove the texts they wrote")),
                 ("keep", gettext_lazy("Keep texts needed for the case; remove only their "
                                       "name, address and phone"))])
    confirm = forms.CharField(label=gettext_lazy("Type the user name to confirm"),
                              max_length=150, required=False)


def _person_or_404(request, pk: int) -> User:
    return get_object_or_404(access.people_for(request.user).select_related("organisation"),
                             pk=pk)


@admin_required
def person(request, pk: int):
    """One person: what the desk holds, the export, the erasure."""
    user = _person_or_404(request, pk)
    figures = {
        "cases": Case.objects.filter(contact=user).count(),
        "messages": Message.objects.filter(author=user).count(),
    }
    figures.update(Message.objects.filter(author=user).aggregate(
        internal=Count("pk", filter=Q(kind=Message.Kind.INTERNAL))))
    record = Erasure.objects.filter(subject=user).first()
    return render(request, "privacy/person.html", {
        "person": user, "figures": figures, "form": EraseForm(), "record": record})


@admin_required
def person_export(request, pk: int):
    user = _person_or_404(request, pk)
    now = timezone.now()
    document, files = collect(user, now=now, self_service=False,
                              include_internal=request.GET.get("internal") == "1")
    return _zip_response(document, files, f"personal-data-{user.pk}-{now:%Y%m%d}.zip")


@admin_required
@require_POST
def person_erase(request, pk: int):
    """First POST: the confirmation page; with the user name typed: the erasure."""
    user = _person_or_404(request, pk)
    form = EraseForm(request.POST)
    if not form.is_valid() or user.erased_at is not None:
        if user.erased_at is not None:
            messages.error(request, _("This person's data was already erased."))
            return redirect("privacy:person", pk=user.pk)
        return render(request, "privacy/person.html", {
            "person": user, "form": form, "figures": None,
            "record": None}, status=400)
    if form.cleaned_data["confirm"] != user.username:
        if form.cleaned_data["confirm"]:
            form.add_error("confirm", _("That is not the user name of this account."))
        return render(request, "privacy/confirm_erase.html", {"person": user, "form": form},
                      status=200 if not form.errors else 400)
    try:
        record = erase(user, now=timezone.now(), actor=request.user, by_label="console",
                       reason=form.cleaned_data["reason"],
                       redact=form.cleaned_data["mode"] == "redact")
    except DeskError as exc:
        messages.error(request, str(exc))
        return redirect("privacy:person", pk=user.pk)
    messages.success(request, _("The personal data was erased (%(ref)s).")
                     % {"ref": record.subject_ref})
    return redirect("privacy:people")
