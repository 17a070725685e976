"""slpdesk's URLs plus two views that only the process tests have.

* ``/test/slow/`` records that it started (a file in ``SLPDESK_TEST_SLOW_DIR``) and
  answers only once the test creates ``release`` there: a request held in flight.
* ``/test/request/`` answers what the application believes about the request.
"""

import json
import os
import time
import uuid
from pathlib import Path

from django.http import HttpResponse
from django.urls import path

from slpdesk.urls import urlpatterns as slpdesk_urls


def slow(request):
    folder = Path(os.environ["SLPDESK_TEST_SLOW_DIR"])
    (folder / f"started-{uuid.uuid4().hex}").touch()
    while not (folder / "release").exists():  # the condition the test controls
        time.sleep(0.02)
    return HttpResponse(f"done {request.GET.get('n', '')}", content_type="text/plain")


def about_request(request):
    return HttpResponse(json.dumps({"is_secure": request.is_secure(),
                                    "remote_addr": request.META.get("REMOTE_ADDR"),
                                    "host": request.get_host()}),
                        content_type="application/json")


urlpatterns = [path("test/slow/", slow), path("test/request/", about_request),
               *slpdesk_urls]
