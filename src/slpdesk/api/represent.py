"""A case, message, file or escalation as the API shows it to a viewer: the one
place the API's answers (:mod:`.api`) and the webhooks' payloads
(:mod:`slpdesk.webhooks.payloads`) are built, so both say the same thing.

``viewer`` is the user asking, or :data:`SYSTEM` for the desk itself speaking to
an administrator's integration (a webhook): everything support staff see.
"""

from __future__ import annotations

from datetime import datetime

from slpdesk.desk import access, badges
from slpdesk.desk.models import Case, Escalation, Organisation, User

#: The desk itself as the viewer (webhook payloads): the staff's view of a case.
SYSTEM = object()


def sees_all(viewer) -> bool:
    """Whether ``viewer`` gets the staff's view (user names, the assignee)."""
    return viewer is SYSTEM or access.is_staff(viewer)


def person(user: User | None, viewer) -> dict | None:
    if user is None:
        return None
    staff = sees_all(viewer)
    return {"name": user.get_full_name() or user.username,
            "username": user.username if staff else None}


def org_ref(org: Organisation) -> dict:
    return {"id": org.pk, "name": org.name}


def site_ref(site) -> dict:
    return {"id": site.pk, "name": site.name, "country": site.country,
            "time_zone": site.time_zone}


def badge(b: badges.Badge) -> dict:
    return {"state": b.state, "clock": b.clock, "due": b.due, "remaining_seconds": b.remaining}


def case_summary(case: Case, now: datetime, closed) -> dict:
    return {
        "number": case.number,
        "title": case.title,
        "status": case.status,
        "organisation": org_ref(case.organisation),
        "site": site_ref(case.site),
        "proposed_priority": case.proposed_priority,
        "priority": case.priority or None,
        "effective_priority": case.effective_priority(),
        "received_at": case.received_at,
        "updated_at": case.updated_at,
        "escalation_level": case.escalation_level,
        "sender_verified": case.sender_verified,
        "sla": badge(badges.case_badge(case, now, closed)),
    }


def case_detail(case: Case, now: datetime, viewer) -> dict:
    closed = badges.closures_by_calendar()
    policy = case.policy()
    clocks = {}
    for b, (name, _due, _state, stopped_col, target_name) in zip(
            badges.clock_badges(case, now, closed), badges.CLOCKS, strict=True):
        target = b.target
        if target is None:
            try:
                target = policy.target_seconds(case.effective_priority(), target_name,
                                               case.calendar)
            except ValueError:
                target = None
        clocks[name] = {"state": b.state, "due": b.due, "stopped": getattr(case, stopped_col),
                        "remaining_seconds": b.remaining, "target_seconds": target}
    out = case_summary(case, now, closed)
    out["sla"].update(clocks)
    staff = sees_all(viewer)
    out.update({
        "description": case.description,
        "system_details": case.system_details,
        "channel": case.channel,
        "contact": person(case.contact, viewer),
        "release": case.release.name if case.release else None,
        "request_type": case.request_type,
        "information_complete": case.information_complete,
        "kind": case.kind,
        "defect_reference": case.defect_reference,
        "resolution": case.resolution or None,
        "resolution_summary": case.resolution_summary,
        "entitlement": case.entitlement,
        "exclusion_reason": case.exclusion_reason,
        "assignee": person(case.assignee, viewer) if staff else None,
        "calendar": case.calendar,
        "time_zone": case.time_zone,
        "policy_version": f"{case.policy_version.policy_id} {case.policy_version.version}",
        "escalations": [escalation(e) for e in (
            Escalation.objects.filter(case=case) if viewer is SYSTEM
            else access.escalations_for(viewer).filter(case=case))],
    })
    return out


def escalation(e: Escalation) -> dict:
    return {"id": e.pk, "level": e.level, "reason": e.reason, "channel": e.channel,
            "raised_at": e.raised_at, "acknowledged_at": e.acknowledged_at}


def message(m, viewer) -> dict:
    return {"id": m.pk, "kind": m.kind, "author": person(m.author, viewer), "body": m.body,
            "created_at": m.created_at}


def attachment(a) -> dict:
    return {"id": a.pk, "name": a.name, "size": a.size, "uploaded_at": a.uploaded_at,
            "internal": a.internal, "message": a.message_id}


def program_update(u) -> dict:
    return {"name": u.name, "released": u.released, "kind": u.kind, "security": u.security,
            "notes": u.notes, "applies_to": sorted(r.name for r in u.applies_to.all()),
            "published_at": u.published_at}
