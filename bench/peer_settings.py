"""Minimal Django settings for the django-helpdesk peer of ``./scripts/bench desk``.

Used only by :mod:`desk_peer`, in its own process: helpdesk and the apps it
needs, its URLs (:mod:`peer_urls`) at the root, mail kept in memory, the
database from ``PEER_DATABASE_URL`` (``postgres://…``) or the SQLite file
``PEER_SQLITE``.
"""

import os
from urllib.parse import urlparse

DEBUG = False
SECRET_KEY = "bench-only-not-secret"
ALLOWED_HOSTS = ["127.0.0.1"]
USE_TZ = True
TIME_ZONE = "UTC"
SITE_ID = 1
ROOT_URLCONF = "peer_urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STATIC_URL = "/static/"
MEDIA_ROOT = os.environ.get("PEER_MEDIA_ROOT", "/tmp")
LOGIN_URL = "/login/"
HELPDESK_TEAMS_MODE_ENABLED = False  # pinax-teams is an optional extra
HELPDESK_KANBAN_ENABLED = False
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.sites",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "helpdesk",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]
_url = os.environ.get("PEER_DATABASE_URL", "")
if _url.startswith("postgres"):
    _p = urlparse(_url)
    DATABASES = {"default": {
        "ENGINE": "django.db.backends.postgresql", "NAME": _p.path.lstrip("/"),
        "USER": _p.username or "", "PASSWORD": _p.password or "",
        "HOST": _p.hostname or "", "PORT": str(_p.port or ""),
    }}
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3",
                             "NAME": os.environ.get("PEER_SQLITE", "/tmp/peer.sqlite3")}}
