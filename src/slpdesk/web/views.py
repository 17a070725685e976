"""Pages shared by everyone: the front door, preferences, health."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import DatabaseError
from django.db.models import Max, Min
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from slpdesk import dbstate
from slpdesk.desk import access
from slpdesk.desk.models import InboundMessage, Outbox, WorkerHeartbeat

from . import errors
from .forms import PreferencesForm


def start_page(user) -> str:
    """Where a user lands (the URL's name): executives and customer success managers
    on the live board, the rest of the staff on the console's queue, customers and
    partners on the portal."""
    if access.is_staff(user):
        return "reports:board" if user.role == user.Role.EXECUTIVE else "console:queue"
    return "portal:home"


def home(request):
    """The start page of the user (:func:`start_page`); the log-in lands here."""
    if not request.user.is_authenticated:
        return redirect("login")
    return redirect(start_page(request.user))


@login_required
def preferences(request):
    form = PreferencesForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Your preferences are saved."))
        return redirect("preferences")
    return render(request, "web/preferences.html", {"form": form})


def health(request):
    """Liveness, for load balancers and process monitors: the process answers (no
    database access, any Host header)."""
    return HttpResponse("ok\n", content_type="text/plain")


def _age(since) -> float | None:
    return None if since is None else round(max((timezone.now() - since).total_seconds(), 0), 1)


def ready(request):
    """Readiness: 200 only when the database answers and no migration is pending, else
    503 with the reason; with the age of the newest worker heartbeat and of the oldest
    waiting mail (out and in), in seconds (null: none)."""
    try:
        dbstate.check_ready()
        body = {
            "status": "ready",
            "worker_heartbeat_age_seconds": _age(WorkerHeartbeat.objects.aggregate(
                at=Max("seen_at"))["at"]),
            "oldest_waiting_mail_age_seconds": _age(Outbox.objects.filter(
                state=Outbox.State.PENDING).aggregate(at=Min("created_at"))["at"]),
            "oldest_waiting_inbound_age_seconds": _age(InboundMessage.objects.filter(
                state=InboundMessage.State.PENDING).aggregate(at=Min("created_at"))["at"]),
        }
        status = 200
    except DatabaseError as exc:
        body, status = {"status": "unavailable", "reason": dbstate.describe(exc)}, 503
    except dbstate.Unavailable as exc:
        body, status = {"status": "unavailable", "reason": str(exc)}, 503
    response = JsonResponse(body, status=status)
    response["Cache-Control"] = "no-store"
    if status == 503:
        response["Retry-After"] = str(errors.RETRY_AFTER)
    return response


#: Answered before any other middleware (no Host check, no session, no waiting).
HEALTH_CHECKS = {"/health/": require_GET(health), "/health/ready": require_GET(ready)}


def roles(request) -> dict:
    """Template context: what the navigation may offer."""
    user = getattr(request, "user", None)
    return {"is_staff_user": access.is_staff(user)}


@login_required
def download(request, pk: int):
    """An attachment, always as a download (never rendered inline), if the user may
    see it; otherwise 404."""
    attachment = get_object_or_404(access.attachments_for(request.user), pk=pk)
    if not attachment.file:  # erased (slpdesk.privacy): the row stays, the file is gone
        raise Http404("file erased")
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError:
        raise Http404("file missing") from None
    response = FileResponse(handle, as_attachment=True, filename=attachment.name,
                            content_type="application/octet-stream")
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
