"""The console's webhook pages, for administrators (other staff: 403; customers: 404).

* ``webhooks/``: the subscriptions, and the form for a new one; making one
  shows its signing secret once, on the answer page itself (never stored in the
  session, never shown again).
* ``webhooks/<id>/``: change its URL, events, description; switch it off or on;
  a new secret (shown once); remove it; its delivery log (state, response
  code, duration, the first bytes of the answer) with "Send again".
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from slpdesk.desk import access
from slpdesk.desk.services import DeskError
from slpdesk.webhooks import manage
from slpdesk.webhooks.models import Delivery, Event

from .views import staff_required

PAGE_SIZE = 50


class WebhookForm(forms.Form):
    url = forms.CharField(label=gettext_lazy("URL"), max_length=500,
                          help_text=gettext_lazy("Where the desk POSTs the events (https://)."))
    events = forms.MultipleChoiceField(label=gettext_lazy("Events"), choices=Event.choices,
                                       widget=forms.CheckboxSelectMultiple)
    description = forms.CharField(label=gettext_lazy("Description"), max_length=200,
                                  required=False)


def _admin(request) -> None:
    if not access.can_manage_webhooks(request.user):
        raise PermissionDenied(_("Only administrators can manage webhooks."))


def _hook(request, pk: int):
    _admin(request)
    return get_object_or_404(access.webhooks_for(request.user), pk=pk)


def _apply(form: WebhookForm, call) -> object | None:
    """Run ``call(**cleaned data)``; a refusal becomes the form's error."""
    if not form.is_valid():
        return None
    try:
        return call(**form.cleaned_data)
    except DeskError as err:
        field = err.code if err.code in form.fields else None
        form.add_error(field, str(err))
        return None


@staff_required
def webhooks(request):
    _admin(request)
    now = timezone.now()
    form = WebhookForm(request.POST or None)
    if request.method == "POST":
        made = _apply(form, lambda **d: manage.create(actor=request.user, now=now, **d))
        if made is not None:
            hook, secret = made
            return render(request, "console/webhook_secret.html",
                          {"hook": hook, "secret": secret, "new": True})
    return render(request, "console/webhooks.html", {
        "hooks": access.webhooks_for(request.user), "form": form})


@staff_required
def webhook(request, pk: int):
    hook = _hook(request, pk)
    now = timezone.now()
    form = WebhookForm(request.POST or None, initial={
        "url": hook.url, "events": hook.events, "description": hook.description})
    if request.method == "POST" and _apply(form, lambda **d: manage.update(
            hook, actor=request.user, now=now, **d)) is not None:
        messages.success(request, _("The webhook is saved."))
        return redirect("console:webhook", pk=hook.pk)
    deliveries = Paginator(Delivery.objects.filter(webhook=hook).select_related("case")
                           .defer("body").order_by("-pk"), PAGE_SIZE)
    return render(request, "console/webhook.html", {
        "hook": hook, "form": form, "page": deliveries.get_page(request.GET.get("page")),
        "event_names": dict(Event.choices)})


@staff_required
@require_POST
def webhook_enable(request, pk: int):
    hook = _hook(request, pk)
    on = request.POST.get("enabled") == "1"
    manage.update(hook, actor=request.user, now=timezone.now(), enabled=on)
    messages.success(request, _("The webhook is on: events are sent again.") if on
                     else _("The webhook is off: no events are sent to it."))
    return redirect("console:webhook", pk=hook.pk)


@staff_required
@require_POST
def webhook_rotate(request, pk: int):
    hook = _hook(request, pk)
    secret = manage.rotate_secret(hook, actor=request.user)
    return render(request, "console/webhook_secret.html",
                  {"hook": hook, "secret": secret, "new": False})


@staff_required
@require_POST
def webhook_delete(request, pk: int):
    hook = _hook(request, pk)
    url = hook.url
    manage.delete(hook, actor=request.user)
    messages.success(request, _("The webhook for %(url)s is removed.") % {"url": url})
    return redirect("console:webhooks")


@staff_required
@require_POST
def webhook_resend(request, pk: int, delivery: int):
    hook = _hook(request, pk)
    row = get_object_or_404(Delivery, webhook=hook, pk=delivery)
    if manage.resend(row, actor=request.user, now=timezone.now()):
        messages.success(request, _("The delivery will be sent again, with the same id."))
    else:
        messages.info(request, _("This delivery is still waiting to be sent."))
    return redirect(reverse("console:webhook", kwargs={"pk": hook.pk}))
