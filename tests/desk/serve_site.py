"""Settings of ``slpdesk serve`` in the process tests (DJANGO_SETTINGS_MODULE
``desk.serve_site``): slpdesk as shipped plus the test views of :mod:`desk.serve_urls`."""

from slpdesk.settings import *  # noqa: F403

ROOT_URLCONF = "desk.serve_urls"
