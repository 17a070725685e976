"""Password reset by e-mail and password change, for every user.

Django's views and token generator (the link holds the user's id and a token that
a new password, a log-in or ``PASSWORD_RESET_TIMEOUT`` (an hour) voids), with the
desk's own delivery: the mail is an outbox row in the recipient's language, sent by
the worker like every other mail. The answer to a request is the same whether or
not the address belongs to anybody, and at most three mails an hour go to one
person (so the form cannot flood a mailbox).
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordResetForm
from django.urls import path, reverse
from django.utils import timezone

from slpdesk.desk.models import Outbox
from slpdesk.mail.outbound import enqueue

RESETS_PER_HOUR = 3


class OutboxPasswordResetForm(PasswordResetForm):
    """Writes the reset mail to the outbox instead of sending it at once."""

    def send_mail(self, subject_template_name, email_template_name, context, from_email,
                  to_email, html_email_template_name=None):
        user, now = context["user"], timezone.now()
        recent = Outbox.objects.filter(kind=Outbox.Kind.PASSWORD_RESET, recipient=user,
                                       created_at__gte=now - timedelta(hours=1))
        if recent.count() >= RESETS_PER_HOUR:
            return
        base = settings.SLPDESK_SITE_URL or f"{context['protocol']}://{context['domain']}"
        link = base + reverse("password_reset_confirm",
                              kwargs={"uidb64": context["uid"], "token": context["token"]})
        enqueue(Outbox.Kind.PASSWORD_RESET, to=user, now=now, key=context["token"],
                context={"reset_link": link,
                         "minutes": settings.PASSWORD_RESET_TIMEOUT // 60})


urlpatterns = [
    path("password-reset/", auth_views.PasswordResetView.as_view(
        form_class=OutboxPasswordResetForm,
        template_name="web/password_reset_form.html"), name="password_reset"),
    path("password-reset/sent/", auth_views.PasswordResetDoneView.as_view(
        template_name="web/password_reset_done.html"), name="password_reset_done"),
    path("password-reset/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(
        template_name="web/password_reset_confirm.html"), name="password_reset_confirm"),
    path("password-reset/done/", auth_views.PasswordResetCompleteView.as_view(
        template_name="web/password_reset_complete.html"), name="password_reset_complete"),
    path("password/", auth_views.PasswordChangeView.as_view(
        template_name="web/password_change.html"), name="password_change"),
    path("password/changed/", auth_views.PasswordChangeDoneView.as_view(
        template_name="web/password_change_done.html"), name="password_change_done"),
]
