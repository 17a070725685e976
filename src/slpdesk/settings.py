"""Django settings for slpdesk, read from environment variables.

Every variable goes through a small strict helper (:func:`envstr`,
:func:`envbool`, :func:`envint`): a value that cannot be used stops the
process at start-up with a message naming the variable.

Embedded default: SQLite in the data directory (``SLPDESK_DATA_DIR``, by
default ``$XDG_DATA_HOME/slpdesk`` or ``~/.local/share/slpdesk``), with a
secret key generated on first run and kept there. ``SLPDESK_DATABASE_URL``
(``postgres://user:password@host:port/name``) selects PostgreSQL instead.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import secrets
import tempfile
from datetime import timedelta
from email.utils import getaddresses, parseaddr
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from slpdesk import logs as _logs
from slpdesk.config import (
    data_dir,
    parse_authserv_ids,
    parse_email_url,
    parse_oidc,
    parse_retention_years,
)
from slpdesk.config import parse_rate as _parse_rate

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def envstr(name: str, default: str) -> str:
    """The variable ``name`` as a string, ``default`` when unset or empty."""
    return os.environ.get(name, "").strip() or default


def envbool(name: str, default: bool) -> bool:
    """The variable ``name`` as a boolean (1/0, true/false, yes/no, on/off)."""
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name}={os.environ[name]!r} is not a boolean (use one of {', '.join(_TRUE + _FALSE)})"
    )


def envint(name: str, default: int, *, minimum: int = 0) -> int:
    """The variable ``name`` as a whole number of at least ``minimum``."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number") from None
    if number < minimum:
        raise ImproperlyConfigured(f"{name}={value!r} must be at least {minimum}")
    return number


def envchoice(name: str, default: str, choices: tuple[str, ...]) -> str:
    """The variable ``name`` as one of ``choices`` (lower case)."""
    value = envstr(name, default).lower()
    if value not in choices:
        raise ImproperlyConfigured(
            f"{name}={os.environ[name]!r} is not one of {', '.join(choices)}")
    return value


def envaddress(name: str, default: str, *, display_name: bool = True) -> str:
    """The variable ``name`` as one e-mail address (``support@example.com``, or with
    ``display_name`` also ``Support <support@example.com>``, or
    ``"Acme, Inc." <support@example.com>`` for a name with a comma)."""
    value = envstr(name, default)
    shown, address = parseaddr(value)
    local, _, domain = address.rpartition("@")
    # One address: a comma may stand only inside a quoted display name
    # ('"Acme, Inc. Support" <support@example.com>').
    if (not local or not domain or "@" in local or any(c in value for c in "\r\n;")
            or len(getaddresses([value])) != 1
            or any(c.isspace() for c in address) or (shown and not display_name)
            or (not shown and value.strip("<>") != address)):
        example = "support@example.com" + (" or 'Support <support@example.com>'"
                                           if display_name else "")
        raise ImproperlyConfigured(f"{name}={value!r} is not an e-mail address (e.g. {example})")
    return value


def envnetworks(name: str, default: str) -> list:
    """The variable ``name`` as a comma-separated list of IP addresses or networks
    (``127.0.0.1``, ``10.0.0.0/8``, ``::1``)."""
    networks = []
    for item in envstr(name, default).split(","):
        if item.strip():
            try:
                networks.append(ipaddress.ip_network(item.strip(), strict=False))
            except ValueError:
                raise ImproperlyConfigured(f"{name}: {item.strip()!r} is not an IP address "
                                           "or network (e.g. 127.0.0.1 or 10.0.0.0/8)") from None
    return networks


def secret_key_from(path: Path) -> str:
    """The secret key kept in ``path``, created (mode 0600) on first use.

    Several processes starting at once agree on one key: each writes a
    candidate to a private temporary file and hard-links it into place, which
    succeeds for exactly one of them and never shows a half-written file; the
    others read the winner's key.
    """
    if not path.exists():
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".secret_key.")
        try:
            with os.fdopen(fd, "w", encoding="ascii") as f:
                f.write(secrets.token_urlsafe(50) + "\n")
            with contextlib.suppress(FileExistsError):  # another process won
                os.link(tmp, path)
        finally:
            os.unlink(tmp)
    key = path.read_text(encoding="ascii").strip()
    if len(key) < 32:
        raise ImproperlyConfigured(
            f"{path}: the secret key is missing or too short; delete the file "
            "to generate a new one (this logs everybody out)")
    return key


def database_from_url(url: str, *, conn_max_age: int, prepare: bool = True) -> dict:
    """Django's database settings for a ``postgres://`` URL.

    ``prepare``: the parameters are bound by the server (psycopg's server-side
    binding), so a statement run again on a connection (the fifth time on) is
    prepared once and not planned again: opening a case spends about a third less
    time (its search document's ``INSERT … SELECT`` took 1.1 ms to plan). Both
    options are needed: Django turns psycopg's preparing off unless
    ``prepare_threshold`` is given, and binding by the server alone plans every
    statement again. Off
    behind a pooler that hands one connection to many clients between
    transactions (PgBouncer's transaction mode), where prepared statements go
    astray."""
    scheme = url.split(":", 1)[0].lower()
    if scheme not in ("postgres", "postgresql"):
        raise ImproperlyConfigured(
            f"SLPDESK_DATABASE_URL: unsupported scheme {scheme!r} "
            "(use postgres://user:password@host:port/name, or unset it for SQLite)"
        )
    try:
        db = dj_database_url.parse(url, conn_max_age=conn_max_age, conn_health_checks=True)
    except ValueError as exc:
        raise ImproperlyConfigured(f"SLPDESK_DATABASE_URL: {exc}") from None
    if not db.get("NAME"):
        raise ImproperlyConfigured("SLPDESK_DATABASE_URL: give a database name after the host")
    if prepare:
        db.setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=5)
    return db


def sqlite_database(path: Path, *, timeout: int) -> dict:
    """Django's database settings for the embedded SQLite database in ``path``.

    WAL lets readers go on while one process writes; ``BEGIN IMMEDIATE`` takes
    the write lock at the start of every transaction, so two writers queue
    (for up to ``timeout`` seconds) instead of failing half-way with
    "database is locked". ``secure_delete`` zeroes what a change frees, so erased
    personal data (slpdesk.privacy) is not left in the file's free space.
    """
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": path,
        "OPTIONS": {
            "init_command": ("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                             "PRAGMA secure_delete=ON"),
            "transaction_mode": "IMMEDIATE",
            "timeout": timeout,
        },
    }


# ---------------------------------------------------------------- data, secret
DATA_DIR = data_dir()
try:
    DATA_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
except OSError as exc:
    raise ImproperlyConfigured(f"SLPDESK_DATA_DIR: cannot create {DATA_DIR}: {exc}") from None

# Several machines sharing one PostgreSQL database must share the key too:
# give it in SLPDESK_SECRET_KEY there.
SECRET_KEY = envstr("SLPDESK_SECRET_KEY", "") or secret_key_from(DATA_DIR / "secret_key")
DEBUG = envbool("SLPDESK_DEBUG", False)
ALLOWED_HOSTS = [h.strip() for h in envstr("SLPDESK_ALLOWED_HOSTS", "127.0.0.1,localhost")
                 .split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in envstr("SLPDESK_CSRF_TRUSTED_ORIGINS", "")
                        .split(",") if o.strip()]
# Served over HTTPS (behind a reverse proxy that sets X-Forwarded-Proto): set to 1.
SLPDESK_HTTPS = envbool("SLPDESK_HTTPS", False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = SLPDESK_HTTPS
# The reverse proxies whose X-Forwarded-Proto and X-Forwarded-For are believed (only with
# SLPDESK_HTTPS=1); slpdesk.web.proxy removes those headers from every other request, so
# Django's check below sees https only on a request that came through a trusted proxy.
SLPDESK_TRUSTED_PROXIES = envnetworks("SLPDESK_TRUSTED_PROXIES", "127.0.0.1")
if SLPDESK_HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Behind SLPDESK_HTTPS=1 every plain-HTTP request is redirected to HTTPS (the load
# balancer's health probe excepted), and browsers are told to keep to HTTPS
# (Strict-Transport-Security) for SLPDESK_HSTS_SECONDS.
SECURE_SSL_REDIRECT = SLPDESK_HTTPS
SECURE_REDIRECT_EXEMPT = [r"^health/$"]
SECURE_HSTS_SECONDS = envint("SLPDESK_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SLPDESK_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = envbool("SLPDESK_HSTS_PRELOAD", False)
# How many reverse proxies stand in front of the desk and append the client's address
# to X-Forwarded-For (0: the connection's own address is the client's). The log-in
# lock-out and the API's limits per address count by this address.

# ------------------------------------------------------------------ processes
# Seconds `slpdesk serve` lets requests in flight finish after SIGTERM/SIGINT.
SLPDESK_SHUTDOWN_GRACE = envint("SLPDESK_SHUTDOWN_GRACE", 30)
# `slpdesk serve` migrates before serving unless this is 0 (or --no-migrate is given).
SLPDESK_MIGRATE_ON_START = envbool("SLPDESK_MIGRATE_ON_START", True)

# ------------------------------------------------------------------ database
_DATABASE_URL = envstr("SLPDESK_DATABASE_URL", "")
if _DATABASE_URL:
    DATABASES = {"default": database_from_url(
        _DATABASE_URL, conn_max_age=envint("SLPDESK_DB_CONN_MAX_AGE", 60),
        prepare=envbool("SLPDESK_DB_PREPARE", True))}
else:
    DATABASES = {"default": sqlite_database(
        DATA_DIR / "slpdesk.sqlite3", timeout=envint("SLPDESK_SQLITE_TIMEOUT", 20, minimum=1))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# A request that finds the database unreachable tries again for this many seconds,
# then answers 503 with Retry-After (slpdesk.web.errors).
SLPDESK_DB_WAIT = envint("SLPDESK_DB_WAIT", 5)

# ------------------------------------------------------------------- logging
# Every process logs to standard error: text lines, or JSON lines for a log collector.
SLPDESK_LOG_FORMAT = envchoice("SLPDESK_LOG_FORMAT", "text", ("text", "json"))
SLPDESK_LOG_LEVEL = envchoice("SLPDESK_LOG_LEVEL", "info",
                              ("debug", "info", "warning", "error", "critical")).upper()
LOGGING = _logs.config(level=SLPDESK_LOG_LEVEL, fmt=SLPDESK_LOG_FORMAT)

# ------------------------------------------------------------- application
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "slpdesk.desk",
    "slpdesk.web",
    "slpdesk.portal",
    "slpdesk.console",
    "slpdesk.reports",  # compliance report, charts, exports, live board, policy simulator
    "ninja",        # django-ninja: serves the API docs' Swagger UI from its own static files
    "slpdesk.api",  # the REST API (/api/v1/) and personal API tokens
    "slpdesk.privacy",  # a person's data: export, erasure, retention (issue 16)
    "slpdesk.mail",  # the e-mail templates (mail/*.txt, mail/*.html)
    "slpdesk.webhooks",  # signed webhooks: subscriptions and their deliveries
    "axes",          # django-axes: failed log-ins counted per user name and per address, locks
    "django_otp",    # django-otp: two-factor sign-in (slpdesk.web.twofactor)
    "django_otp.plugins.otp_totp",    # authenticator apps (RFC 6238)
    "django_otp.plugins.otp_static",  # one-time recovery codes
]
AUTH_USER_MODEL = "desk.User"

MIDDLEWARE = [
    # First: X-Forwarded-* only from a trusted proxy, so every later one (and the request
    # log) sees the real scheme and client address.
    "slpdesk.web.proxy.TrustedProxyMiddleware",
    # Then the request id, one log line per request, /health/ for any Host.
    "slpdesk.web.middleware.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # Before the first database access (the session): waits out a short outage, else 503.
    "slpdesk.web.errors.DatabaseWaitMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "slpdesk.web.twofactor.TwoFactorMiddleware",
    "slpdesk.web.middleware.UserPreferencesMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "slpdesk.web.headers.BrowserHeadersMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a lock-out into the locked page
]
ROOT_URLCONF = "slpdesk.urls"
WSGI_APPLICATION = "slpdesk.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "slpdesk.web.views.roles",
                "slpdesk.portal.views.support_now",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# ------------------------------------------------------- time and languages
USE_TZ = True
TIME_ZONE = "UTC"
USE_I18N = True
LANGUAGE_CODE = "en"
# Each language by its own name, as language pickers show them.
LANGUAGES = [("en", "English"), ("sv", "Svenska")]
LOCALE_PATHS = [Path(__file__).resolve().parent / "locale"]

# ------------------------------------------------------------ files, static
STATIC_URL = "static/"
# WhiteNoise serves the static files from the apps themselves: no collectstatic
# step, and the same files in development, tests and production.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
MEDIA_ROOT = DATA_DIR / "media"
# Attachments are stored here and only ever served as downloads.
SLPDESK_MAX_ATTACHMENT_BYTES = envint("SLPDESK_MAX_ATTACHMENT_BYTES", 20 * 1024 * 1024,
                                      minimum=1)
# All the files of one organisation's cases together (portal, console, API, e-mail).
SLPDESK_ORG_STORAGE_BYTES = envint("SLPDESK_ORG_STORAGE_BYTES", 5 * 1024**3, minimum=1)

# ------------------------------------------------------------ log-in, cookies
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked user name or address
    # User name and password; refuses staff when SLPDESK_OIDC_STAFF_PASSWORD_LOGIN=off.
    "slpdesk.web.sso.PasswordBackend",
    # Single sign-on (OpenID Connect, mozilla-django-oidc): answers only the callback.
    "slpdesk.web.sso.OidcBackend",
]
# Single sign-on with one OpenID Connect provider (SLPDESK_OIDC_*, see the README); None:
# password log-in only.
try:
    SLPDESK_OIDC = parse_oidc(os.environ)
except ValueError as exc:
    raise ImproperlyConfigured(str(exc)) from None
# mozilla-django-oidc's own settings (the client, scopes and the provider's endpoints come
# from SLPDESK_OIDC and the provider's discovery document: slpdesk.web.sso).
OIDC_USE_PKCE = True  # RFC 7636: the code is worthless to whoever intercepts it
OIDC_TIMEOUT = 10  # seconds for each call to the provider (discovery, token, keys, userinfo)
OIDC_AUTHENTICATION_CALLBACK_URL = "sso_callback"  # /login/sso/callback/: the redirect URI
# 10 failed log-ins for one user name (from anywhere) lock that name, 50 from one
# address lock that address; a lock lasts 15 minutes after the last failure
# (slpdesk.web.security.LockoutHandler). Administrators see and lift locks in the admin.
SLPDESK_LOGIN_FAILURES_PER_USERNAME = 10
SLPDESK_LOGIN_FAILURES_PER_ADDRESS = 50
AXES_FAILURE_LIMIT = SLPDESK_LOGIN_FAILURES_PER_USERNAME
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username"], ["ip_address"]]
AXES_HANDLER = "slpdesk.web.security.LockoutHandler"
AXES_CLIENT_IP_CALLABLE = "slpdesk.web.security.client_ip"
AXES_LOCKOUT_TEMPLATE = "registration/locked.html"
AXES_HTTP_RESPONSE_CODE = 429
AXES_RESET_ON_SUCCESS = False  # a log-in to one's own account must not clear an address
AXES_VERBOSE = False
# A password-reset link works for an hour, and once (Django's token generator).
PASSWORD_RESET_TIMEOUT = 3600
# Two-factor sign-in (TOTP) is required of: off (nobody), staff (every support staff
# role and administrator), admin (administrators and superusers). Anyone may enrol.
SLPDESK_REQUIRE_2FA = envchoice("SLPDESK_REQUIRE_2FA", "admin", ("off", "staff", "admin"))
OTP_TOTP_ISSUER = "slpdesk"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_PERMISSIONS = 0o600

# ------------------------------------------------------------------- REST API
# Requests per API token: N/s, N/m, N/h or N/d, or "off". Counted in the database
# (slpdesk.api.ratelimit), so every web process shares one limit; no cache server.
SLPDESK_API_RATE = envstr("SLPDESK_API_RATE", "120/m")
# Requests without a valid token (none, a wrong one) per client address.
SLPDESK_API_ANON_RATE = envstr("SLPDESK_API_ANON_RATE", "30/m")
for _name in ("SLPDESK_API_RATE", "SLPDESK_API_ANON_RATE"):
    try:
        _parse_rate(globals()[_name])
    except ValueError as exc:
        raise ImproperlyConfigured(f"{_name}: {exc}") from None

# ------------------------------------------------------------- personal data
# Resolved and closed cases lose their personal data this many years after their last
# change (slpdesk.privacy.retention, run by the worker once a day); unset or off: never.
try:
    SLPDESK_RETENTION_YEARS = parse_retention_years(
        os.environ.get("SLPDESK_RETENTION_YEARS", ""))
except ValueError as exc:
    raise ImproperlyConfigured(f"SLPDESK_RETENTION_YEARS: {exc}") from None

# ------------------------------------------------------------------ e-mail out
# SLPDESK_EMAIL_URL: smtp://user:password@host:587?starttls=1 or smtps://...:465
# (slpdesk.mail.transport); unset: mails are kept in DATA_DIR/mail as .eml files.
try:
    SLPDESK_EMAIL = parse_email_url(os.environ.get("SLPDESK_EMAIL_URL", ""))
except ValueError as exc:
    raise ImproperlyConfigured(f"SLPDESK_EMAIL_URL: {exc}") from None
SLPDESK_MAIL_DIR = DATA_DIR / "mail"
SLPDESK_EMAIL_FROM = envaddress("SLPDESK_EMAIL_FROM", "support@localhost")
# The address replies go to; each mail carries support+<signed token>@domain.
SLPDESK_REPLY_TO = envaddress("SLPDESK_REPLY_TO", parseaddr(SLPDESK_EMAIL_FROM)[1],
                              display_name=False)
if "+" in SLPDESK_REPLY_TO.partition("@")[0]:
    raise ImproperlyConfigured(f"SLPDESK_REPLY_TO={SLPDESK_REPLY_TO!r}: the part before @ "
                               "must not contain '+' (the reply token goes there)")
# The receiving MTAs whose Authentication-Results headers are believed (slpdesk.mail.auth):
# comma-separated authserv-ids, e.g. mx.example.com; unset: no inbound mail is verified.
try:
    SLPDESK_MAIL_TRUSTED_AUTHSERV_IDS = parse_authserv_ids(
        os.environ.get("SLPDESK_MAIL_TRUSTED_AUTHSERV_IDS", ""))
except ValueError as exc:
    raise ImproperlyConfigured(f"SLPDESK_MAIL_TRUSTED_AUTHSERV_IDS: {exc}") from None
# The desk's public address, for links in e-mails (https://support.example.com); unset:
# mails carry no links.
SLPDESK_SITE_URL = envstr("SLPDESK_SITE_URL", "").rstrip("/")
if SLPDESK_SITE_URL and (urlsplit(SLPDESK_SITE_URL).scheme not in ("http", "https")
                         or not urlsplit(SLPDESK_SITE_URL).netloc):
    raise ImproperlyConfigured(f"SLPDESK_SITE_URL={SLPDESK_SITE_URL!r} is not an http(s) "
                               "address (e.g. https://support.example.com)")
# Webhooks (slpdesk.webhooks): deliveries go only to https:// URLs on public addresses,
# checked on the address the name resolves to when sending. An on-premises receiver on a
# private network, or a plain-HTTP one, needs these switched on explicitly.
SLPDESK_WEBHOOKS_ALLOW_HTTP = envbool("SLPDESK_WEBHOOKS_ALLOW_HTTP", False)
SLPDESK_WEBHOOKS_ALLOW_PRIVATE = envbool("SLPDESK_WEBHOOKS_ALLOW_PRIVATE", False)
# Seconds to connect, and to wait for each part of the answer.
SLPDESK_WEBHOOKS_TIMEOUT = envint("SLPDESK_WEBHOOKS_TIMEOUT", 10, minimum=1)
