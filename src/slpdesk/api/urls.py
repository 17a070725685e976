"""The API under /api/v1/ (its OpenAPI document at /api/v1/openapi.json, the docs at
/api/v1/docs), and the token pages under /preferences/api-tokens/."""

from django.urls import path, re_path

from . import views
from .api import api
from .errors import not_found_message


def api_not_found(request, rest=""):
    """Anything else under /api/: a JSON 404, as the API's own."""
    from django.http import JsonResponse

    return JsonResponse({"code": "not_found", "message": not_found_message()}, status=404)


urlpatterns = [
    path("api/v1/", api.urls),
    re_path(r"^api(?:/(?P<rest>.*))?$", api_not_found),
    path("preferences/api-tokens/", views.tokens, name="api_tokens"),
    path("preferences/api-tokens/<int:pk>/revoke/", views.revoke, name="api_token_revoke"),
]
