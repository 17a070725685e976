"""Single sign-on with one OpenID Connect provider (``SLPDESK_OIDC_*``), on
mozilla-django-oidc: the authorisation-code flow with PKCE, a nonce and a state,
the ID token's signature checked against the provider's published keys (JWKS),
its issuer and audience against the configuration.

Who gets in (the README's *Single sign-on* section says the same for operators):

- The provider must vouch for the e-mail address: an ``email_verified`` claim
  that is not true refuses the log-in (a provider that sends no such claim is
  believed). The address finds the account (case does not matter); two accounts
  with one address refuse the log-in rather than guess.
- Staff: with ``SLPDESK_OIDC_ROLE_MAP`` set, the groups claim decides the staff
  role at every log-in (the most rights among the mapped groups); a staff member in
  no mapped group is refused (the provider is where access is taken away). Without
  a map the role stays as the administrators set it. A staff account is created
  only for someone in a mapped group.
- Customers and partners keep the organisation their account names. Someone with
  no account gets one only when exactly one organisation lists their e-mail
  domain in *single sign-on auto-join e-mail domains*; otherwise they are refused.
  A group mapping never turns an existing customer account into a staff one.
- A log-in through the provider counts as the provider's authentication: the
  desk's own second factor (``SLPDESK_REQUIRE_2FA``) is not asked (the provider
  does its own MFA). Refused and failed attempts count for the client address in
  the lock-out (django-axes), and a locked address cannot sign in this way either;
  a successful one is in axes' access log like a password log-in.
"""

from __future__ import annotations

import logging
import threading
import time

import jwt
import requests
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import SuspiciousOperation, ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.generic import View
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.utils import import_from_settings
from mozilla_django_oidc.views import (
    OIDCAuthenticationCallbackView,
    OIDCAuthenticationRequestView,
)

from slpdesk.desk.models import Organisation, User

log = logging.getLogger(__name__)

#: Session key: this session was opened through the provider (no second step here).
SSO_SESSION_KEY = "slpdesk_sso"
DISCOVERY_TTL = 3600  # seconds a provider's discovery document is kept
_discovered: dict[str, tuple[float, dict]] = {}
_discovery_lock = threading.Lock()


class Unavailable(Exception):
    """The provider cannot be used now (unreachable, or a document that is wrong)."""


class Refused(Exception):
    """The provider vouched for someone the desk does not let in; the message says why."""


def provider():
    """The configured provider (``slpdesk.config.OidcProvider``), or None."""
    return getattr(settings, "SLPDESK_OIDC", None)


def discovery(config) -> dict:
    """The provider's discovery document (OpenID Connect Discovery 1.0), fetched on
    first use and kept for ``DISCOVERY_TTL`` seconds; its issuer must be the
    configured one (§4.3)."""
    now = time.monotonic()
    with _discovery_lock:
        cached = _discovered.get(config.discovery_url)
        if cached and now - cached[0] < DISCOVERY_TTL:
            return cached[1]
        try:
            response = requests.get(config.discovery_url, timeout=settings.OIDC_TIMEOUT,
                                    headers={"Accept": "application/json"})
            response.raise_for_status()
            document = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise Unavailable(f"{config.discovery_url}: {exc}") from None
        missing = [key for key in ("issuer", "authorization_endpoint", "token_endpoint",
                                   "jwks_uri") if not isinstance(document.get(key), str)]
        if missing:
            raise Unavailable(f"{config.discovery_url}: no {missing[0]} in the document")
        if config.issuer and document["issuer"].rstrip("/") != config.issuer.rstrip("/"):
            raise Unavailable(f"{config.discovery_url}: issuer {document['issuer']!r} is not "
                              f"SLPDESK_OIDC_ISSUER {config.issuer!r}")
        _discovered[config.discovery_url] = (now, document)
        return document


def _groups(value) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, list | tuple):
        return {item for item in value if isinstance(item, str)}
    return set()


def match_user(config, claims: dict, *, again: bool = True) -> User:
    """The account the provider's ``claims`` open (created or its role updated as the
    module's rules say), or :class:`Refused` with a translated reason."""
    name = config.name
    email = claims.get(config.email_claim)
    if not isinstance(email, str) or "@" not in email.strip("@"):
        raise Refused(_("%(provider)s did not give the desk your e-mail address.")
                      % {"provider": name})
    email = email.strip()
    verified = claims.get("email_verified", True)
    if verified is not True and str(verified).lower() != "true":
        raise Refused(_("Your e-mail address is not verified at %(provider)s. Verify it "
                        "there, then sign in again.") % {"provider": name})
    roles = config.roles_for(_groups(claims.get(config.groups_claim)))
    role = roles[-1] if roles else None
    users = list(User.objects.filter(email__iexact=email)[:2])
    if len(users) > 1:
        raise Refused(_("More than one account has the e-mail address %(email)s, so the "
                        "desk cannot tell which is yours. Ask an administrator.")
                      % {"email": email})
    if users:
        user = users[0]
        if not user.is_active:
            raise Refused(_("Your account is switched off. Ask an administrator."))
        if user.is_support_staff():
            if role and user.role != role:
                log.info("sso: user %s's role %s -> %s (groups at the provider)", user.pk,
                         user.role, role)
                user.role = role
                user.save(update_fields=["role"])
            elif not role and config.role_map:
                raise Refused(_("%(provider)s does not place you in any support group, so "
                                "you cannot sign in to the desk.") % {"provider": name})
        elif role:
            raise Refused(_("%(email)s is a customer account here, but %(provider)s names "
                            "you as staff. Ask an administrator.")
                          % {"email": email, "provider": name})
        return user
    organisation = None if role else Organisation.for_sso_email(email)
    if not role and organisation is None:
        raise Refused(_("There is no account for %(email)s here. Ask your organisation's "
                        "technical contact or the support team to add you.")
                      % {"email": email})
    try:
        return _create(email, claims, role or User.Role.CUSTOMER, organisation)
    except IntegrityError:  # the same person's sign-in in another tab created it just now
        if not again:
            raise
        return match_user(config, claims, again=False)


def _create(email: str, claims: dict, role: str, organisation) -> User:
    """A new account for ``email`` (its user name is the address; no usable password:
    it signs in through the provider, or sets one with the reset link)."""
    with transaction.atomic():
        username, n = email[:150], 1
        while User.objects.filter(username__iexact=username).exists():
            n += 1
            username = f"{email[:140]}-{n}"
        user = User(username=username, email=email, role=role, organisation=organisation,
                    first_name=str(claims.get("given_name") or "")[:150],
                    last_name=str(claims.get("family_name") or "")[:150])
        user.set_unusable_password()
        user.save()
    log.info("sso: created %s account %s (organisation %s)", role, user.pk,
             organisation.pk if organisation else "-")
    return user


class OidcBackend(OIDCAuthenticationBackend):
    """mozilla-django-oidc's backend with the provider's endpoints from discovery, the
    ID token's issuer and audience checked, and :func:`match_user`'s rules. Answers only
    a request that carries the provider's code (the callback); every other
    ``authenticate()`` call passes it by."""

    def __init__(self, *args, **kwargs):  # cheap: Django builds one per authenticate()
        self.UserModel = User
        self.config = provider()

    def authenticate(self, request, **kwargs):
        if (self.config is None or request is None or "nonce" not in kwargs
                or "code" not in request.GET or "state" not in request.GET):
            return None
        self.request = request
        try:
            self.document = discovery(self.config)
            self.OIDC_OP_TOKEN_ENDPOINT = self.document["token_endpoint"]
            self.OIDC_OP_USER_ENDPOINT = self.document.get("userinfo_endpoint")
            self.OIDC_OP_JWKS_ENDPOINT = self.document["jwks_uri"]
            self.OIDC_RP_CLIENT_ID = self.config.client_id
            self.OIDC_RP_CLIENT_SECRET = self.config.client_secret
            self.OIDC_RP_SIGN_ALGO = self.config.sign_algo
            self.OIDC_RP_IDP_SIGN_KEY = None
            return super().authenticate(request, **kwargs)
        except Refused as exc:
            log.info("sso: refused: %s", exc)
            messages.error(request, str(exc))
        except (Unavailable, requests.RequestException, SuspiciousOperation,
                jwt.PyJWTError, KeyError, ValueError) as exc:
            log.warning("sso: sign-in through %s failed: %s", self.config.name, exc)
            messages.error(request, _("Signing in with %(provider)s did not work. Try "
                                      "again in a moment.") % {"provider": self.config.name})
        return None

    def get_payload_data(self, token, key):
        """The ID token's claims, with its signature (``super``), issuer and audience
        checked (OpenID Connect Core §3.1.3.7)."""
        payload = super().get_payload_data(token, key)
        if payload.get("iss") != self.document["issuer"]:
            raise SuspiciousOperation(f"ID token from issuer {payload.get('iss')!r}")
        audience = payload.get("aud")
        audience = [audience] if isinstance(audience, str) else audience or []
        if self.config.client_id not in audience or (
                len(audience) > 1 and payload.get("azp") != self.config.client_id):
            raise SuspiciousOperation("ID token for another client")
        return payload

    def get_userinfo(self, access_token, id_token, payload):
        """The ID token's claims, completed by the userinfo endpoint when the provider
        has one (its subject must be the token's, Core §5.3.2)."""
        claims = dict(payload)
        if self.OIDC_OP_USER_ENDPOINT:
            info = super().get_userinfo(access_token, id_token, payload)
            if info.get("sub") != payload.get("sub"):
                raise SuspiciousOperation("userinfo for another subject")
            claims.update(info)
        return claims

    def get_or_create_user(self, access_token, id_token, payload):
        return match_user(self.config, self.get_userinfo(access_token, id_token, payload))

    def get_user(self, user_id):
        return ModelBackend.get_user(self, user_id)  # an account switched off: logged out


class PasswordBackend(ModelBackend):
    """User name and password; staff are refused when ``SLPDESK_OIDC_STAFF_PASSWORD_LOGIN``
    is off (their open password sessions end too), customers and partners never."""

    def user_can_authenticate(self, user) -> bool:
        return super().user_can_authenticate(user) and not staff_must_use_sso(user)


def staff_must_use_sso(user) -> bool:
    config = provider()
    return bool(config and not config.staff_password_login and user.is_support_staff())


class LoginForm(AuthenticationForm):
    """The password form; a staff member with the right password is told to use the
    provider when password log-in is off for staff (a wrong password gets the usual
    answer, so the message tells nothing to someone who does not know it)."""

    def clean(self):
        try:
            return super().clean()
        except ValidationError:
            user = User.objects.filter(username=self.cleaned_data.get("username")).first()
            if (user is not None and staff_must_use_sso(user)
                    and user.check_password(self.cleaned_data.get("password") or "")):
                raise ValidationError(
                    _("Staff sign in with %(provider)s: use the button below.")
                    % {"provider": provider().name}, code="sso_only") from None
            raise


class LoginView(auth_views.LoginView):
    """Django's log-in page with the provider's button when single sign-on is set."""

    form_class = LoginForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "sso": provider()}


class SsoStart(OIDCAuthenticationRequestView):
    """``/login/sso/``: off to the provider (``?next=`` comes back after)."""

    def __init__(self, *args, **kwargs):  # the endpoints are read per request (discovery)
        View.__init__(self, *args, **kwargs)

    def get(self, request):
        config = provider()
        if config is None:
            raise Http404("single sign-on is not configured")
        try:
            self.OIDC_OP_AUTH_ENDPOINT = discovery(config)["authorization_endpoint"]
        except Unavailable as exc:
            log.warning("sso: %s", exc)
            messages.error(request, _("%(provider)s cannot be reached. Try again in a "
                                      "moment.") % {"provider": config.name})
            return redirect("login")
        self.OIDC_RP_CLIENT_ID = config.client_id
        return super().get(request)

    def get_settings(self, attr, *args):
        if attr == "OIDC_RP_SCOPES":
            return provider().scopes
        return import_from_settings(attr, *args)


class SsoCallback(OIDCAuthenticationCallbackView):
    """``/login/sso/callback/``: the redirect URI registered at the provider."""

    def get(self, request):
        config = provider()
        if config is None:
            raise Http404("single sign-on is not configured")
        if request.GET.get("error"):
            log.info("sso: the provider answered %s", request.GET["error"][:100])
            messages.error(request, _("%(provider)s did not sign you in.")
                           % {"provider": config.name})
        return super().get(request)

    @property
    def failure_url(self):
        return reverse("login")

    def login_success(self):
        response = super().login_success()
        self.request.session[SSO_SESSION_KEY] = self.user.pk
        return response
