"""A case's whole story as one timeline, for the console and the portal alike.

Messages labelled by what they were (reply, information request, status
update, logged call, internal note), the resolution with its summary, reopens
with their reasons, escalations with level and reason, priority changes, the
information marked complete, and files at the message they came with, in the
order they happened. What a user may see comes from :mod:`slpdesk.desk.access`
(customers: no internal notes, internal files or staff-only events).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from . import access
from .models import Case, CaseEvent, Message, User, as_shown

#: What a customer is told a resolution kind means (the agents' labels are longer).
CUSTOMER_RESOLUTIONS = {
    Case.Resolution.FIXED: gettext_lazy("Fixed"),
    Case.Resolution.TIMELINE: gettext_lazy("A fix is planned"),
    Case.Resolution.NO_DEFECT: gettext_lazy("Answered: not a defect, or it cannot be fixed"),
}

#: A public message's label by the event it made.
_MESSAGE_LABELS = {
    "info_requested": gettext_lazy("Information request"),
    "responded": gettext_lazy("Reply"),
    "status_update": gettext_lazy("Status update"),
    "customer_replied": gettext_lazy("Reply"),
}


def customer_resolution(code: str) -> str:
    """The customer's name of a resolution kind ('' for none)."""
    return str(CUSTOMER_RESOLUTIONS.get(code, "")) if code else ""


@dataclass
class Entry:
    """One thing on the timeline; ``kind`` names it for styling and tests."""

    at: datetime
    order: int
    kind: str
    label: str
    author: User | None = None
    body: str = ""
    details: list[str] = field(default_factory=list)
    files: list = field(default_factory=list)
    staff_only: bool = False


def build(user, case: Case, level_names: dict | None = None, lang: str = "en") -> list[Entry]:
    """The timeline of ``case`` as ``user`` may see it, oldest first (nothing for a
    user who may not see the case)."""
    if not access.can_see(user, case.pk):
        return []
    events = list(access.timeline_events_for(user, case).select_related("actor"))
    event_of = {ev.data.get("message"): ev for ev in events if ev.data.get("message")}
    messages = list(access.messages_for(user, case).select_related("author"))
    shown = {m.pk for m in messages}
    files = defaultdict(list)
    entries = [Entry(case.received_at, 0, "opened", _("Case opened"), case.contact,
                     case.description, [case.system_details] if case.system_details else [])]
    for attachment in (access.attachments_for(user).filter(case=case)
                       .select_related("uploaded_by").order_by("uploaded_at", "pk")):
        if attachment.message_id in shown:
            files[attachment.message_id].append(attachment)
        else:
            entries.append(Entry(attachment.uploaded_at, 0, "file", _("File added"),
                                 attachment.uploaded_by, files=[attachment],
                                 staff_only=attachment.internal))
    for m in messages:
        event = event_of.get(m.pk)
        if m.kind == Message.Kind.INTERNAL:
            kind, label = "internal", _("Internal note")
        elif m.kind == Message.Kind.CALL:
            kind, label = "call", _("Logged call")
        else:
            code = event.type if event else "responded"
            kind = "customer" if code == "customer_replied" else code
            label = str(_MESSAGE_LABELS.get(code, _MESSAGE_LABELS["responded"]))
        entries.append(Entry(m.created_at, event.pk if event else 0, kind, label, m.author,
                             m.body, files=files.get(m.pk, []),
                             staff_only=m.kind == Message.Kind.INTERNAL))
    for ev in events:
        entry = _event_entry(ev)
        if entry is not None:
            entries.append(entry)
    names = level_names or {}
    for esc in access.escalations_for(user).filter(case=case).select_related("raised_by"):
        name = names.get(esc.level)
        label = _("Escalated to level %(level)s") % {"level": esc.level}
        entries.append(Entry(esc.raised_at, 1 << 62, "escalated", label, esc.raised_by,
                             esc.reason, [name.get(lang)] if name else []))
    entries.sort(key=lambda e: (e.at, e.order))
    for e in entries:  # erased personal data: the marker in the reader's language
        e.body = as_shown(e.body)
        e.details = [as_shown(d) for d in e.details]
    return entries


def _event_entry(ev: CaseEvent) -> Entry | None:
    d = ev.data or {}
    if ev.type == "resolved":
        return Entry(ev.at, ev.pk, "resolved", _("Resolved: %(kind)s") % {
            "kind": customer_resolution(ev.resolution) or ev.resolution}, ev.actor,
            d.get("summary", ""))
    if ev.type == "reopened":
        return Entry(ev.at, ev.pk, "reopened", _("Reopened"), ev.actor, d.get("reason", ""))
    if ev.type == "priority_assigned" and (d.get("previous") or ev.priority):
        if d.get("previous"):
            label = _("Priority changed to %(priority)s (was %(previous)s)") % {
                "priority": ev.priority, "previous": d["previous"]}
        else:
            label = _("Priority set to %(priority)s") % {"priority": ev.priority}
        return Entry(ev.at, ev.pk, "priority", label, ev.actor)
    if ev.type == "info_complete":
        return Entry(ev.at, ev.pk, "info_complete", _("Information marked complete"), ev.actor)
    return None
