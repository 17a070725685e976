"""A person's data, out (GDPR art. 15 and 20): one ZIP archive with
``personal-data.json`` and the files, in the format ``docs/personal-data-export.md``
describes.

:func:`collect` gathers the document, :func:`write_zip` writes the archive. Two
audiences:

* the person themselves (Preferences → *Download my data*): the cases they are the
  contact of and may still see, and the messages they wrote on cases they may
  still see, never internal notes or internal files;
* an administrator answering a data subject access request (the console,
  ``slpdesk privacy export``): the same for every case the person is or was the
  contact of, and every message they wrote; with ``include_internal`` also the
  internal notes and internal files of those cases (marked ``"internal": true``),
  which may name other people and are for the administrator to review before
  anything is handed over.
"""

from __future__ import annotations

import json
import zipfile
from datetime import datetime
from typing import IO

from django.db.models import Q

from slpdesk.desk import access
from slpdesk.desk.models import (
    Attachment,
    Case,
    Escalation,
    InboundMessage,
    Message,
    Outbox,
    SavedView,
    User,
)

FORMAT = "slpdesk-personal-data"
VERSION = 1
DOCUMENT = "personal-data.json"


def _at(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _person(user: User | None, me: User) -> str | None:
    if user is None:
        return None
    if user.pk == me.pk:
        return "you"
    if user.is_support_staff():
        return "support"
    return user.get_full_name() or user.username


def _file(a: Attachment, me: User) -> dict:
    return {"id": a.pk, "name": a.name, "size": a.size, "uploaded_at": _at(a.uploaded_at),
            "uploaded_by": _person(a.uploaded_by, me), "internal": a.internal,
            "path": f"files/{a.pk}-{a.name}" if a.file else None}


def collect(user: User, *, now: datetime, self_service: bool,
            include_internal: bool = False) -> tuple[dict, list[Attachment]]:
    """The export document of ``user`` and the attachments to put beside it."""
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog
    from django_otp.plugins.otp_static.models import StaticDevice
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from slpdesk.api.models import ApiToken

    internal = include_internal and not self_service
    cases = Case.objects.filter(contact=user)
    written = Message.objects.filter(author=user)
    if self_service:
        visible = access.cases_for(user)
        cases = cases.filter(pk__in=visible.values("pk"))
        written = written.filter(case__in=visible).exclude(kind=Message.Kind.INTERNAL)
    cases = list(cases.select_related("organisation", "site", "assignee")
                 .order_by("received_at", "pk"))
    case_ids = [c.pk for c in cases]
    messages = Message.objects.filter(case_id__in=case_ids).select_related("author")
    files = Attachment.objects.filter(
        Q(case_id__in=case_ids) | Q(uploaded_by=user)).select_related("uploaded_by")
    if not internal:
        messages = messages.exclude(kind=Message.Kind.INTERNAL)
        files = files.filter(internal=False).exclude(message__kind=Message.Kind.INTERNAL)
    if self_service:
        files = files.filter(case__in=access.cases_for(user))
    files = list(files.order_by("uploaded_at", "pk"))
    by_message: dict[int, list] = {}
    by_case: dict[int, list] = {}
    for a in files:
        (by_message.setdefault(a.message_id, []) if a.message_id
         else by_case.setdefault(a.case_id, [])).append(_file(a, user))
    per_case: dict[int, list] = {}
    for m in messages.order_by("created_at", "pk"):
        per_case.setdefault(m.case_id, []).append({
            "id": m.pk, "at": _at(m.created_at), "kind": m.kind, "internal": m.kind == "internal",
            "author": _person(m.author, user), "body": m.body,
            "files": by_message.get(m.pk, [])})
    escalations: dict[int, list] = {}
    for e in Escalation.objects.filter(case_id__in=case_ids).select_related("raised_by"):
        escalations.setdefault(e.case_id, []).append({
            "level": e.level, "reason": e.reason, "channel": e.channel,
            "raised_at": _at(e.raised_at), "raised_by": _person(e.raised_by, user),
            "acknowledged_at": _at(e.acknowledged_at)})

    account = {
        "id": user.pk, "username": user.username, "first_name": user.first_name,
        "last_name": user.last_name, "email": user.email, "phone": user.phone,
        "role": user.role, "organisation": user.organisation.name if user.organisation else None,
        "active": user.is_active, "date_joined": _at(user.date_joined),
        "last_login": _at(user.last_login),
    }
    names = Q(pk__in=[])
    for name in {user.username, user.email} - {""}:
        names |= Q(username__iexact=name)
    document = {
        "format": FORMAT, "version": VERSION, "generated_at": _at(now),
        "scope": "self" if self_service else ("administrator_with_internal" if internal
                                              else "administrator"),
        "account": account,
        "preferences": {"language": user.language, "time_zone": user.time_zone},
        "two_factor_devices": [
            {"type": kind, "name": d.name, "confirmed": d.confirmed,
             "created_at": _at(d.created_at), "last_used_at": _at(d.last_used_at)}
            for kind, model in (("authenticator", TOTPDevice), ("recovery_codes", StaticDevice))
            for d in model.objects.filter(user=user).order_by("pk")],
        "saved_views": [
            {"name": v.name, "shared": v.shared, "filters": v.filters, "columns": v.columns,
             "created_at": _at(v.created_at)}
            for v in SavedView.objects.filter(owner=user).order_by("name")],
        "api_tokens": [
            {"name": t.name, "prefix": t.prefix, "created_at": _at(t.created_at),
             "last_used_at": _at(t.last_used_at), "revoked_at": _at(t.revoked_at)}
            for t in ApiToken.objects.filter(user=user).order_by("created_at", "pk")],
        "log_ins": [
            {"at": _at(r.attempt_time), "ip_address": r.ip_address, "user_agent": r.user_agent,
             "logged_out_at": _at(r.logout_time)}
            for r in AccessLog.objects.filter(names).order_by("attempt_time", "pk")],
        "failed_log_ins": [
            {"at": _at(r.attempt_time), "ip_address": r.ip_address, "user_agent": r.user_agent,
             "failures": r.failures_since_start}
            for r in AccessAttempt.objects.filter(names).order_by("attempt_time", "pk")] + [
            {"at": _at(r.attempt_time), "ip_address": r.ip_address, "user_agent": r.user_agent,
             "locked_out": r.locked_out}
            for r in AccessFailureLog.objects.filter(names).order_by("attempt_time", "pk")],
        "cases": [{
            "number": c.number, "title": c.title, "description": c.description,
            "system_details": c.system_details, "organisation": c.organisation.name,
            "site": c.site.name, "channel": c.channel, "status": c.status,
            "priority": c.effective_priority(), "received_at": _at(c.received_at),
            "resolution": c.resolution, "resolution_summary": c.resolution_summary,
            "messages": per_case.get(c.pk, []), "files": by_case.get(c.pk, []),
            "escalations": escalations.get(c.pk, []),
        } for c in cases],
        "messages_written": [
            {"id": m.pk, "case": m.case.number, "at": _at(m.created_at), "kind": m.kind,
             "body": m.body}
            for m in written.select_related("case").order_by("created_at", "pk")],
        "mail_sent_to_you": [
            {"at": _at(o.created_at), "kind": o.kind, "to": o.to_address,
             "subject": o.subject, "state": o.state, "sent_at": _at(o.finished_at),
             "case": o.case.number if o.case else None, "text": o.body_text}
            for o in _mail_to(user).select_related("case").order_by("created_at", "pk")],
        "mail_received_from_you": [
            {"at": _at(i.created_at), "subject": i.subject, "outcome": i.outcome,
             "case": i.case.number if i.case else None}
            for i in (InboundMessage.objects.filter(sender__iexact=user.email)
                      .select_related("case").order_by("created_at", "pk")
                      if user.email else [])],
    }
    return document, [a for a in files if a.file]


def _mail_to(user: User):
    q = Q(recipient=user)
    if user.email:
        q |= Q(to_address__iexact=user.email)
    return Outbox.objects.filter(q)


def write_zip(out: IO[bytes], document: dict, files: list[Attachment]) -> None:
    """The archive: ``personal-data.json`` and ``files/<id>-<name>``."""
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(DOCUMENT, json.dumps(document, ensure_ascii=False, indent=2))
        for a in files:
            try:
                with a.file.open("rb") as handle, archive.open(
                        f"files/{a.pk}-{a.name}", "w") as target:
                    while chunk := handle.read(1 << 20):
                        target.write(chunk)
            except FileNotFoundError:
                continue
