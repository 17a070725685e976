"""The user's own API tokens: list, create (the token is shown once, then only its
prefix), revoke. Reached from Preferences."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from .forms import TokenForm
from .models import ApiToken

#: A user has at most this many live tokens.
MAX_TOKENS = 20


@never_cache
@login_required
def tokens(request):
    """The list and, on POST, a new token: shown on this one answer only."""
    user = request.user
    form = TokenForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        if ApiToken.objects.active().filter(user=user).count() >= MAX_TOKENS:
            form.add_error(None, _("You have %(count)d tokens; revoke one first.") % {
                "count": MAX_TOKENS})
        else:
            token, raw = ApiToken.issue(user, form.cleaned_data["name"], now=timezone.now())
            created = {"token": token, "raw": raw}
            form = TokenForm()
    return render(request, "api/tokens.html", {
        "form": form,
        "created": created,
        "tokens": ApiToken.objects.filter(user=user),
        "docs": reverse("api:openapi-view"),
    })


@login_required
@require_POST
def revoke(request, pk: int):
    """Revoke one of the user's own tokens (another user's is a 404)."""
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    token.revoke(now=timezone.now())
    messages.success(request, _("The token “%(name)s” is revoked; it no longer works.") % {
        "name": token.name})
    return redirect("api_tokens")
