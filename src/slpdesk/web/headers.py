"""Browser headers every page gets (the rest is Django's SecurityMiddleware).

* A strict ``Content-Security-Policy`` on every HTML page: scripts only from the
  desk's own static files (no inline script, no ``eval``; the live board's
  ``reports/board.js``, the admin and the API docs load theirs as files),
  nothing embedded or embedding, forms posting only to the desk. Styles may be
  inline (``style`` attributes and the charts' SVG), images may be ``data:`` (the
  two-factor QR code). A response that sets its own policy keeps it (downloads
  are sandboxed).
* ``Cache-Control: no-store`` on every response to a signed-in user (pages and
  downloads), so nothing personal stays in a shared browser's or proxy's cache.
"""

from __future__ import annotations

from django.utils.cache import add_never_cache_headers

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
])


class BrowserHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (response.get("Content-Type", "").startswith("text/html")
                and "Content-Security-Policy" not in response):
            response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            add_never_cache_headers(response)  # no-cache, no-store, must-revalidate, private
        return response
