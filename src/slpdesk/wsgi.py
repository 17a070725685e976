"""The WSGI application for production servers (``slpdesk.wsgi:application``)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "slpdesk.settings")

application = get_wsgi_application()
