"""The console's mail page: what the desk could not tell people, and why.

E-mail the SMTP server refused for good (failed) comes first, then mail that
waits for another attempt (with the last error), then mail waiting to be
sent and mail sent, for the whole desk or one case (``?case=SLP-000001``), and
the workers' heartbeats: with no worker alive, nothing is sent. Staff who work
cases can send a failed mail again (after fixing the address, say).
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from slpdesk.desk import access
from slpdesk.desk.models import Claimable, Outbox, WorkerHeartbeat

from .views import staff_required

State = Claimable.State
PAGE_SIZE = 50
#: A worker whose heartbeat is older than this is shown as not running.
ALIVE = timedelta(minutes=2)
SHOW = {
    "problems": Q(state=State.FAILED) | Q(state=State.PENDING, attempts__gt=0),
    "waiting": Q(state=State.PENDING),
    "sent": Q(state=State.DONE),
    "all": Q(),
}


@staff_required
def outbox(request):
    now = timezone.now()
    show = request.GET.get("show", "problems")
    if show not in SHOW:
        show = "problems"
    rows = Outbox.objects.select_related("case", "recipient").defer("body_text", "body_html")
    case = None
    number = request.GET.get("case", "").strip()
    if number:
        case = access.case_or_404(request.user, number)
        rows = rows.filter(case=case)
    counts = rows.aggregate(
        failed=Count("pk", filter=Q(state=State.FAILED)),
        retrying=Count("pk", filter=Q(state=State.PENDING, attempts__gt=0)),
        waiting=Count("pk", filter=Q(state=State.PENDING)),
        sent=Count("pk", filter=Q(state=State.DONE)),
    )
    # Failed first ("failed" sorts before "pending"), then what waits longest; sent
    # mail newest first.
    order = ("-finished_at", "-pk") if show == "sent" else ("state", "next_attempt_at", "pk")
    page = Paginator(rows.filter(SHOW[show]).order_by(*order), PAGE_SIZE).get_page(
        request.GET.get("page"))
    workers = list(WorkerHeartbeat.objects.order_by("-seen_at")[:20])
    for w in workers:
        w.alive = now - w.seen_at <= ALIVE
    return render(request, "console/outbox.html", {
        "page": page,
        "show": show,
        "case": case,
        "counts": counts,
        "workers": workers,
        "any_worker_alive": any(w.alive for w in workers),
        "can_work": access.can_work(request.user),
        "now": now,
    })


@staff_required
@require_POST
def retry(request, pk: int):
    """Send a failed mail again: it waits for the worker like a new one."""
    if not access.can_work(request.user):
        raise PermissionDenied(_("Only support staff who work cases can send mail again."))
    row = get_object_or_404(Outbox, pk=pk)
    now = timezone.now()
    changed = Outbox.objects.filter(pk=row.pk, state=State.FAILED).update(
        state=State.PENDING, attempts=0, next_attempt_at=now, claimed_until=None,
        claimed_by="", finished_at=None)
    if changed:
        messages.success(request, _("The mail to %(address)s will be sent again.") % {
            "address": row.to_address})
    else:
        messages.info(request, _("Only a failed mail can be sent again."))
    target = reverse("console:outbox")
    if request.POST.get("case") and row.case_id:
        target += f"?case={row.case.number}"
    return redirect(target)
