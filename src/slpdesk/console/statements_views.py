"""The console's statements page: managers preview any organisation's monthly SLA
statement, send or re-send it, and switch statements off or on for an organisation
(issue 15). A stored statement is shown as stored (what was mailed); a month not
generated yet is computed for the preview and stored only when sent."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from slpdesk.desk import access
from slpdesk.desk.models import Organisation
from slpdesk.reports import statements

from .views import staff_required


def manager_required(view):
    @staff_required
    def wrapped(request, *args, **kwargs):
        if not access.can_manage_statements(request.user):
            raise Http404("not found")
        return view(request, *args, **kwargs)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


def _back(org_id, month: str):
    query = {"organisation": org_id, "month": month} if org_id else {}
    return redirect(reverse("console:statements") + ("?" + urlencode(query) if query else ""))


@manager_required
def statements_page(request):
    """Pick an organisation and a month; see its statement."""
    now = timezone.now()
    orgs = Organisation.objects.order_by("name")
    default_month = statements.previous_month(timezone.localdate(now))
    month = request.GET.get("month", "").strip() or default_month
    org = statement = None
    error = ""
    try:
        month = statements.parse_month(month)
    except statements.StatementError as exc:
        error, month = str(exc), default_month
    org_id = request.GET.get("organisation", "").strip()
    if org_id:
        if not org_id.isdigit():
            raise Http404("no such organisation")
        org = get_object_or_404(Organisation.objects.select_related("technical_contact"),
                                pk=int(org_id))
        if not error:
            statement = statements.stored_or_new(org, month, now, save=False)
    return render(request, "console/statements.html", {
        "organisations": orgs, "org": org, "month": month, "statement": statement,
        "figures": statement.figures if statement else None, "error": error,
        "month_start": statements.month_days(month)[0],
    })


@manager_required
@require_POST
def send(request):
    """Send the statement (first time) or send it again (the stored figures)."""
    org = get_object_or_404(Organisation, pk=request.POST.get("organisation") or 0)
    try:
        month = statements.parse_month(request.POST.get("month", ""))
    except statements.StatementError as exc:
        messages.error(request, str(exc))
        return _back(org.pk, "")
    outcome = statements.send(org, month, timezone.now(), again=True)
    if outcome.sent:
        messages.success(request, _("The statement is in the outbox for %(address)s.")
                         % {"address": org.technical_contact.email})
    else:
        messages.error(request, _("Nothing was sent: the organisation has no designated "
                                  "technical contact who can be mailed."))
    return _back(org.pk, month)


@manager_required
@require_POST
def opt_out(request):
    """Switch monthly statements off (or back on) for an organisation."""
    org = get_object_or_404(Organisation, pk=request.POST.get("organisation") or 0)
    off = request.POST.get("opt_out") == "1"
    Organisation.objects.filter(pk=org.pk).update(statements_opt_out=off)
    messages.success(request, (_("%(name)s gets no monthly statements.") if off else
                               _("%(name)s gets monthly statements again.")) % {"name": org.name})
    return _back(org.pk, request.POST.get("month", ""))
