"""Two-factor sign-in (TOTP, RFC 6238) with django-otp: an authenticator app and
one-time recovery codes.

After the password, a user with an authenticator app is asked for a code before any
page opens (:class:`TwoFactorMiddleware`); a user whose role must have one
(``SLPDESK_REQUIRE_2FA``: ``off``, ``staff`` or ``admin``) and has none is sent to
enrol first; not someone who signed in through the single sign-on provider
(:mod:`slpdesk.web.sso`), whose own factors count. The API's personal tokens are not
affected: the API never uses the session. Codes are checked by django-otp: a code is
good once (no replay), a clock drift of one step is tolerated, and repeated wrong
codes slow down (exponential back-off per device). An administrator removes a lost
device in the admin (*TOTP devices*, *Static devices*); the user then enrols again.
"""

from __future__ import annotations

from base64 import b32encode

import segno
from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from slpdesk.desk import access
from slpdesk.desk.models import User
from slpdesk.web.sso import SSO_SESSION_KEY

RECOVERY_CODES = 10
#: Pages a signed-in user reaches before the second step (and the API, which uses tokens).
OPEN_PREFIXES = ("/static/", "/api/", "/logout/", "/language/", "/health/")
_NO_DEVICE = "slpdesk_2fa_none"  # session: this user (pk) had no device when last asked


def required_for(user) -> bool:
    """Whether ``SLPDESK_REQUIRE_2FA`` makes this user enrol."""
    mode = settings.SLPDESK_REQUIRE_2FA
    admin = user.is_superuser or user.is_staff or user.role == User.Role.ADMIN
    if mode == "admin":
        return admin
    if mode == "staff":
        return admin or access.is_staff(user)
    return False


def has_device(user) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def _next(request, default: str = "home") -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                       require_https=request.is_secure()):
        return target
    return reverse(default)


class TwoFactorMiddleware:
    """After ``OTPMiddleware``: a signed-in user who has not given a second factor
    yet reaches nothing but the code page (with a device) or the enrolment page
    (without one, when their role requires it)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if (user.is_authenticated and not user.is_verified()
                and not request.path.startswith(OPEN_PREFIXES)):
            target = self._step(request, user)
            if target and request.path != reverse(target):
                url = reverse(target)
                if request.method == "GET":
                    query = QueryDict(mutable=True)
                    query["next"] = request.get_full_path()
                    url += "?" + query.urlencode(safe="/")
                return redirect(url)
        return self.get_response(request)

    @staticmethod
    def _step(request, user) -> str | None:
        if request.session.get(SSO_SESSION_KEY) == user.pk:
            return None  # signed in through the provider, which asks its own factors
        if request.session.get(_NO_DEVICE) == user.pk and not required_for(user):
            return None
        if has_device(user):
            return "two_factor_verify"
        if required_for(user):
            return "two_factor_setup"
        request.session[_NO_DEVICE] = user.pk
        return None


class CodeForm(forms.Form):
    code = forms.CharField(label=gettext_lazy("Code"), max_length=16,
                           widget=forms.TextInput(attrs={
                               "autocomplete": "one-time-code", "inputmode": "numeric",
                               "autofocus": True}))

    def clean_code(self) -> str:
        return "".join(self.cleaned_data["code"].split()).lower()


def _recovery_device(user) -> StaticDevice:
    device, _created = StaticDevice.objects.get_or_create(
        user=user, name="recovery", defaults={"confirmed": True})
    return device


def _new_recovery_codes(user) -> list[str]:
    device = _recovery_device(user)
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=c) for c in codes)
    return codes


def qr_data_uri(text: str) -> str:
    """``text`` as a QR code, an SVG ``data:`` URI (no script, allowed by the CSP)."""
    return segno.make(text, error="m").svg_data_uri(scale=5, border=2)


@login_required
@require_http_methods(["GET", "POST"])
def setup(request):
    """Enrol an authenticator app (QR code and key), confirm it with a code, receive
    the recovery codes; later: see the state, renew the recovery codes."""
    user = request.user
    if has_device(user):
        codes = None
        if request.method == "POST" and request.POST.get("action") == "codes":
            codes = _new_recovery_codes(user)
        return render(request, "web/two_factor.html", {
            "enrolled": True, "codes": codes,
            "codes_left": StaticToken.objects.filter(device__user=user).count()})
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if not device.verify_is_allowed()[0]:
            form.add_error("code", _("Too many wrong codes: wait a little and try again."))
        elif device.verify_token(form.cleaned_data["code"]):
            with transaction.atomic():
                device.confirmed = True
                device.save()
                codes = _new_recovery_codes(user)
            otp_login(request, device)
            return render(request, "web/two_factor.html", {
                "enrolled": True, "codes": codes, "codes_left": len(codes),
                "next": _next(request)})
        else:
            form.add_error("code", _("That code is not right. Check the clock of your "
                                     "phone and try the code shown now."))
    return render(request, "web/two_factor.html", {
        "form": form, "enrolled": False, "required": required_for(user),
        "qr": qr_data_uri(device.config_url),
        "secret": b32encode(device.bin_key).decode().rstrip("="),
        "next": request.GET.get("next", "")})


@login_required
@require_http_methods(["GET", "POST"])
def verify(request):
    """The second step of signing in: a code from the app, or a recovery code."""
    user = request.user
    if user.is_verified() or not has_device(user):
        return redirect(_next(request))
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        code = form.cleaned_data["code"]
        devices = list(TOTPDevice.objects.filter(user=user, confirmed=True))
        devices += list(StaticDevice.objects.filter(user=user, confirmed=True))
        if not all(device.verify_is_allowed()[0] for device in devices):
            form.add_error("code", _("Too many wrong codes: wait a little and try again."))
        else:
            for device in devices:
                if device.verify_token(code):
                    otp_login(request, device)
                    return redirect(_next(request))
            form.add_error("code", _("That code is not right, or it was used already."))
    return render(request, "registration/two_factor_verify.html",
                  {"form": form, "next": request.GET.get("next", "")})
