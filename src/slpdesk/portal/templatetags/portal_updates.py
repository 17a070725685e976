"""Boxes the portal's pages show (``{% load portal_updates %}``): the newest update of
each supported release (R1) and the coming changes to the policy (V1). Tags, so
that any portal page can show them without its view knowing."""

from __future__ import annotations

from django import template
from django.utils import timezone

from slpdesk.desk import access

register = template.Library()


@register.inclusion_tag("portal/_release_updates.html", takes_context=True)
def release_updates(context, intake: bool = False):
    """The newest update of each supported release; ``intake`` words it for the
    new-case page (apply the update before you report a problem)."""
    user = context.get("user")
    if not access.is_contact(user):
        return {"boxes": []}
    from slpdesk.portal.updates_views import release_boxes

    boxes = [b for b in release_boxes(user, timezone.now()) if b["update"] is not None]
    return {"boxes": boxes, "intake": intake}


@register.inclusion_tag("portal/_policy_change.html", takes_context=True)
def coming_policy_changes(context):
    """Published versions of the policy that take effect later, in words."""
    user = context.get("user")
    if not access.is_contact(user):
        return {"changes": []}
    from slpdesk.portal.updates_views import policy_changes

    return {"changes": policy_changes(timezone.now())}
