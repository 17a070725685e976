"""Pages shared by everyone: the front door, preferences, health."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from slpdesk.desk import access

from .forms import PreferencesForm


def home(request):
    """Staff go to the console's queue, customers and partners to the portal."""
    if not request.user.is_authenticated:
        return redirect("login")
    if access.is_staff(request.user):
        return redirect("console:queue")
    return redirect("portal:home")


@login_required
def preferences(request):
    form = PreferencesForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Your preferences are saved."))
        return redirect("preferences")
    return render(request, "web/preferences.html", {"form": form})


@require_GET
def health(request):
    """For load balancers: the process answers (no database access)."""
    return HttpResponse("ok\n", content_type="text/plain")


def roles(request) -> dict:
    """Template context: what the navigation may offer."""
    user = getattr(request, "user", None)
    return {"is_staff_user": access.is_staff(user)}


@login_required
def download(request, pk: int):
    """An attachment, always as a download (never rendered inline), if the user may
    see it; otherwise 404."""
    attachment = get_object_or_404(access.attachments_for(request.user), pk=pk)
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError:
        raise Http404("file missing") from None
    response = FileResponse(handle, as_attachment=True, filename=attachment.name,
                            content_type="application/octet-stream")
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
