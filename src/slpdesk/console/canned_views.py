"""Canned replies in the console (issue 13 item 4): the page that lists an agent's
own and the shared ones (create, change, delete), and inserting one into a case's
composer, rendered for the case in the customer's language.

Inserting works without JavaScript (``GET /console/cases/N/?canned=ID`` shows the
case with the composer filled in) and with ``console/canned.js``, which asks
``/console/cases/N/canned/ID/`` for the same text as JSON and fills the textarea in
place. A canned reply's action only chooses which of the composer's normal buttons
is the first choice; sending still posts to that button's view, which calls the
service (``services.reply`` / ``services.request_information``) with every check.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from slpdesk.desk import access, canned
from slpdesk.desk.models import CannedReply, Case

from . import forms
from .views import staff_required

#: A canned reply's action: the console view (URL name) its composer sends to first.
ACTION_VIEWS = {
    CannedReply.Action.REPLY: "console:reply",
    CannedReply.Action.REQUEST_INFO: "console:request_info",
}


def _visible(user, pk) -> CannedReply:
    found = access.canned_replies_for(user).filter(pk=pk).select_related("owner").first()
    if found is None:
        raise Http404("not found")
    return found


def _page(request, form, editing: CannedReply | None = None, status: int = 200):
    user = request.user
    rows = list(access.canned_replies_for(user).select_related("owner")
                .order_by("-shared", "title", "pk"))
    for row in rows:
        row.can_edit = access.can_edit_canned(user, row)
    return render(request, "console/canned.html", {
        "rows": rows, "form": form, "editing": editing,
        "placeholders": canned.allowed_list()}, status=status)


def _save(request, reply: CannedReply | None):
    form = forms.CannedReplyForm(request.POST)
    if form.is_valid():
        try:
            saved = canned.save(reply, form.cleaned_data, actor=request.user,
                                now=timezone.now())
        except ValidationError as err:
            form.add_error(None, err)
        else:
            messages.success(request, _("The canned reply “%(title)s” is saved.")
                             % {"title": saved.title})
            return redirect("console:canned")
    if reply is not None:
        reply.refresh_from_db()  # as stored: the refusal changed nothing
    return _page(request, form, reply, status=400)


@staff_required
def canned_list(request):
    """``GET``: the list with an empty form; ``POST``: a new canned reply (personal,
    or shared when ticked)."""
    if request.method == "POST":
        return _save(request, None)
    return _page(request, forms.CannedReplyForm())


@staff_required
def canned_edit(request, pk: int):
    reply = _visible(request.user, pk)
    if not access.can_edit_canned(request.user, reply):
        raise PermissionDenied(_("Only its owner, or a supervisor, manager or administrator "
                                 "for a shared one, can change this canned reply."))
    if request.method == "POST":
        return _save(request, reply)
    initial = {name: getattr(reply, name) for name in canned.FIELDS}
    return _page(request, forms.CannedReplyForm(initial=initial), reply)


@staff_required
@require_POST
def canned_delete(request, pk: int):
    reply = _visible(request.user, pk)
    canned.delete(reply, actor=request.user)
    messages.success(request, _("The canned reply “%(title)s” is deleted.")
                     % {"title": reply.title})
    return redirect("console:canned")


# ---------------------------------------------------------------- composer
def composer(request, case: Case) -> dict:
    """What the case page's composer needs: the canned replies to pick from and, when
    ``?canned=ID`` names one, its text for this case and its first action."""
    user = request.user
    choices = list(access.canned_replies_for(user).order_by("title", "pk"))
    chosen = None
    raw = request.GET.get("canned", "")
    if raw:
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
            raise Http404("not found")
        chosen = _visible(user, int(raw))
    return {
        "canned_replies": choices,
        "canned_chosen": chosen,
        "canned_text": canned.render(chosen, case, user) if chosen else None,
        "canned_action": chosen.action if chosen else "",
    }


@staff_required
def canned_render(request, number: str, pk: int):
    """The canned reply rendered for the case, as JSON for ``console/canned.js``."""
    case = access.case_or_404(request.user, number)
    reply = _visible(request.user, pk)
    action = ACTION_VIEWS.get(reply.action)
    return JsonResponse({
        "id": reply.pk,
        "body": canned.render(reply, case, request.user),
        "language": canned.case_language(case),
        "action": reply.action,
        "action_url": reverse(action, args=[case.number]) if action else None,
    })
