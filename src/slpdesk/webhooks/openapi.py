"""The OpenAPI 3.1 ``webhooks`` section: one POST per event, its body's schema
(:func:`.schemas.envelope`) and the three headers, so receivers can generate
their models from the same document as the REST API."""

from __future__ import annotations

from pydantic.json_schema import models_json_schema

from .models import Event
from .schemas import PAYLOADS, envelope

REF = "#/components/schemas/{model}"

HEADERS = [
    {"name": "Slpdesk-Event", "in": "header", "required": True,
     "description": "The event, as in the body.", "schema": {"type": "string"}},
    {"name": "Slpdesk-Delivery", "in": "header", "required": True,
     "description": "The delivery's id, as the body's `id`: the same on every retry, so "
                    "drop one you have already handled.",
     "schema": {"type": "string", "format": "uuid"}},
    {"name": "Slpdesk-Signature", "in": "header", "required": True,
     "description": "`t=<unix seconds>,v1=<hex>`: the HMAC-SHA256, keyed with the "
                    "subscription's secret, of the text `<t>.` followed by the raw body "
                    "bytes. Compare in constant time and refuse an old `t` (say, older "
                    "than 5 minutes).",
     "schema": {"type": "string"}},
]


def add_webhooks(schema: dict) -> dict:
    """Add ``webhooks`` (and their component schemas) to the API's OpenAPI ``schema``."""
    models = {event: envelope(event) for event in Event.values}
    refs, defs = models_json_schema([(m, "serialization") for m in models.values()],
                                    ref_template=REF, by_alias=True)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name, definition in defs.get("$defs", {}).items():
        components.setdefault(name, definition)
    hooks = {}
    for event, model in models.items():
        hooks[event] = {"post": {
            "operationId": "webhook_" + event.replace(".", "_"),
            "summary": event,
            "description": PAYLOADS[event][1],
            "tags": ["webhooks"],
            "parameters": HEADERS,
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": refs[(model, "serialization")]}}},
            "responses": {
                "2XX": {"description": "Received. Anything else is a failure: 5xx, 408, 429 "
                                       "and no answer are retried for up to two days; other "
                                       "answers are not."}},
        }}
    schema["webhooks"] = hooks
    return schema
