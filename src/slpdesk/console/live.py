"""The queue's working tools (issue 13): saved views, bulk assign and bulk priority,
the light poll that tells the queue how many cases arrived or changed, and the case
page's poll of who else is on the case.

Bulk actions take each case through the same service function and checks as the
case page does one by one (:func:`services.assign`, :func:`services.assign_priority`,
each case in its own transaction), and report per case what was done and what was
refused and why. The polls answer small JSON documents; both are for staff only
(anyone else gets the console's 404).
"""

from __future__ import annotations

from datetime import datetime

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from slpdesk.desk import access, presence, services
from slpdesk.desk.models import PolicyVersion, SavedView, User

from . import forms
from .views import (
    QUEUE_SORTS,
    QUEUE_VIEWS,
    STATUS_FILTERS,
    _errors,
    _id,
    changed_since,
    filtered_ids,
    presence_text,
    queue_filters,
    saved_query,
    staff_required,
)

#: The most cases one bulk action changes (two queue pages).
BULK_LIMIT = 100


def _back(request) -> str:
    """The queue page the form was sent from (never another site)."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return reverse("console:queue")


# ------------------------------------------------------------------ bulk
def _bulk_assignee(value: str, user: User) -> tuple[bool, User | None]:
    """``me``, ``""`` (nobody) or a user's id: (understood, the user)."""
    if value == "me":
        return True, user
    if value == "":
        return True, None
    pk = _id(value)
    found = User.objects.filter(pk=pk).first() if pk is not None else None
    return found is not None, found


@staff_required
@require_POST
def bulk(request):
    """Assign or prioritise the cases ticked on the queue, one service call each."""
    now = timezone.now()
    user = request.user
    if not access.can_work(user):
        raise PermissionDenied(_("Only support staff who work cases can do this."))
    back = _back(request)
    raw = request.POST.getlist("case")
    ids = list(dict.fromkeys(_id(v) for v in raw))
    action = request.POST.get("action", "")
    if not raw:
        messages.error(request, _("Tick the cases to change first."))
        return redirect(back)
    if None in ids or len(ids) > BULK_LIMIT:
        messages.error(request, _("Choose at most %(limit)d cases from the queue.")
                       % {"limit": BULK_LIMIT})
        return redirect(back)
    if action == "assign":
        ok, assignee = _bulk_assignee(request.POST.get("assignee", "").strip(), user)
        if not ok:
            messages.error(request, _("Choose someone to assign the cases to."))
            return redirect(back)

        def run(case):
            services.assign(case, assignee, actor=user, now=now)
        def said(cases):
            if assignee is None:
                return _("Assigned to nobody: %(cases)s.") % {"cases": cases}
            return _("Assigned to %(name)s: %(cases)s.") % {
                "name": assignee.get_full_name() or assignee.username, "cases": cases}
    elif action == "priority":
        priority = request.POST.get("priority", "")
        if priority not in PolicyVersion.objects.in_force(now).load().priorities:
            messages.error(request, _("Choose a priority."))
            return redirect(back)

        def run(case):
            services.assign_priority(case, priority, actor=user, now=now)
        def said(cases):
            return _("Priority %(priority)s set: %(cases)s.") % {
                "priority": priority, "cases": cases}
    else:
        messages.error(request, _("Choose what to do with the cases."))
        return redirect(back)

    found = access.cases_for(user).select_related("policy_version").in_bulk(ids)
    done, refused = [], []
    for pk in ids:
        case = found.get(pk)
        if case is None:
            refused.append((str(pk), _("No such case.")))
            continue
        try:
            run(case)
        except services.DeskError as err:
            refused.append((case.number, str(err)))
        else:
            done.append(case.number)
    if done:
        messages.success(request, said(", ".join(done)))
    for number, reason in refused:
        messages.error(request, _("%(case)s not changed: %(reason)s") % {
            "case": number, "reason": reason})
    return redirect(back)


# ----------------------------------------------------------- saved views
def _view_form(request, now, instance=None):
    policy = PolicyVersion.objects.in_force(now).load()
    return forms.SavedViewForm(request.POST, user=request.user, policy=policy,
                               views=QUEUE_VIEWS, statuses=list(STATUS_FILTERS),
                               sorts=list(QUEUE_SORTS), instance=instance)


@staff_required
@require_POST
def save_view(request):
    """Save the queue as it is shown (filters, order, columns) under a name."""
    now = timezone.now()
    form = _view_form(request, now)
    if not form.is_valid():
        messages.error(request, _errors(form))
        return redirect(_back(request))
    saved = SavedView.objects.create(
        owner=request.user, name=form.cleaned_data["name"], shared=form.cleaned_data["shared"],
        filters=form.filters(), columns=form.columns(), created_at=now, updated_at=now)
    messages.success(request, _("The view “%(name)s” is saved.") % {"name": saved.name})
    return redirect(f"{reverse('console:queue')}?{saved_query(saved)}")


def _editable(request, pk: int) -> SavedView:
    """A view the user may use (else 404) and change (else 403)."""
    saved = get_object_or_404(access.saved_views_for(request.user), pk=pk)
    if not access.can_edit_saved_view(request.user, saved):
        raise PermissionDenied(_("Only the owner of a shared view, a supervisor or an "
                                 "administrator can change it."))
    return saved


@staff_required
@require_POST
def edit_view(request, pk: int):
    """Rename, share or unshare a view, and keep the queue's current filters in it."""
    now = timezone.now()
    saved = _editable(request, pk)
    form = _view_form(request, now, instance=saved)
    if not form.is_valid():
        messages.error(request, _errors(form))
        return redirect(_back(request))
    saved.name, saved.shared = form.cleaned_data["name"], form.cleaned_data["shared"]
    saved.filters, saved.columns, saved.updated_at = form.filters(), form.columns(), now
    saved.save()
    messages.success(request, _("The view “%(name)s” is changed.") % {"name": saved.name})
    return redirect(f"{reverse('console:queue')}?{saved_query(saved)}")


@staff_required
@require_POST
def delete_view(request, pk: int):
    saved = _editable(request, pk)
    saved.delete()
    messages.success(request, _("The view “%(name)s” is deleted.") % {"name": saved.name})
    return redirect(_back(request))


# ----------------------------------------------------------------- polls
def _stamp(value: str) -> datetime | None:
    try:
        stamp = datetime.fromisoformat(value or "")
    except ValueError:
        return None
    return stamp if stamp.tzinfo is not None else None


@staff_required
@require_GET
def changes(request):
    """How many cases of the queue as filtered arrived or changed after ``since`` (the
    time the queue page was drawn): ``{"count": N, "text": "…"}``."""
    now = timezone.now()
    since = _stamp(request.GET.get("since", ""))
    if since is None:
        return JsonResponse({"error": _("The time to look from is not valid.")}, status=400)
    policy = PolicyVersion.objects.in_force(now).load()
    f = queue_filters(request.GET, request.user, policy)
    count = filtered_ids(request.user, f, now).filter(updated_at__gt=since).order_by().count()
    return JsonResponse({
        "count": count,
        "text": ngettext("%(count)d case is new or changed.",
                         "%(count)d cases are new or changed.", count) % {"count": count},
    })


@staff_required
@require_POST
def case_presence(request, number: str):
    """The case page's poll: records that the user has the case open (and is typing,
    ``typing=1``), answers who else is on it and how many changes by others came
    after ``stamp``."""
    now = timezone.now()
    case = access.case_or_404(request.user, number)
    presence.record(case, request.user, now, typing=request.POST.get("typing") == "1")
    others = presence.others(case, request.user, now)
    changed = len(changed_since(request.user, case, _stamp(request.POST.get("stamp", ""))))
    return JsonResponse({
        "others": others,
        "text": presence_text(others),
        "changed": changed,
        "changed_text": ngettext(
            "%(count)d change by someone else since you opened the case: reload to see it.",
            "%(count)d changes by others since you opened the case: reload to see them.",
            changed) % {"count": changed} if changed else "",
    })
