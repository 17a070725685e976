"""Who is told what, by e-mail, when a case changes or an SLA moment comes.

The services call these inside their transaction, right after the change
(:func:`slpdesk.mail.outbound.enqueue` writes the outbox row); the worker calls
:func:`sla_notice` when it records an :class:`SlaNotice`. Each mail's key is
the id of the event (or notice) that causes it, so each is written once.

=======================  ==============================================================
change                   recipients
=======================  ==============================================================
case received            the case's contact: the targets that apply, or why the case
                         is not covered (E2-E5)
reply / phone call       the contact and the designated technical contact of the case's
                         organisation, each once (the first contact, then status
                         updates, K1/K5: ``Case.update_recipients``)
information request      the same
resolved                 the same
escalation raised        the owners of the level (users with one of its roles, X2) and
                         a confirmation to the customer (the contact, and whoever
                         escalated if that is another of the customer's people)
escalation acknowledged  the contact
response / resolution    the assignee and every supervisor (K6)
at risk, breached
status update owed       the assignee; supervisors when nobody is assigned (K5)
status update overdue    the assignee and every supervisor (K5)
=======================  ==============================================================

Internal notes, internal files and the desk's own bookkeeping never mail
anyone. Nobody inactive or without an e-mail address is ever mailed.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from slpdesk.desk.conversation import CUSTOMER_RESOLUTIONS
from slpdesk.desk.models import Case, CaseEvent, Escalation, Message, Outbox, SlaNotice, User

from .outbound import enqueue

Kind = Outbox.Kind

#: SlaNotice kinds → the mail kind (the same names) and whether it is a breach.
SLA_KINDS = {
    "at_risk": Kind.AT_RISK,
    "breached": Kind.BREACHED,
    "update_owed": Kind.UPDATE_OWED,
    "update_overdue": Kind.UPDATE_OVERDUE,
}


def supervisors() -> QuerySet[User]:
    return User.objects.filter(role=User.Role.SUPERVISOR, is_active=True).order_by("pk")


def _customers(case: Case, *also: User | None) -> list[User]:
    people = [case.contact]
    for user in also:
        if user is not None and user.role == User.Role.CUSTOMER and user not in people:
            people.append(user)
    return people


def _targets(case: Case) -> dict:
    """The targets that apply to a newly received case, for the customer."""
    policy = case.policy()
    priority = case.effective_priority()
    seconds = {kind: policy.target_seconds(priority, kind, case.calendar)
               for kind in ("response", "resolution", "update_interval")}
    return {
        "priority": priority,
        "priority_name": policy.priority(priority).name,
        "priority_summary": policy.priority(priority).summary,
        "response_seconds": seconds["response"],
        "resolution_seconds": seconds["resolution"],
        "update_seconds": seconds["update_interval"],
        "calendar_name": policy.calendar_names.get(case.calendar),
    }


# ------------------------------------------------------------------ the verbs
def case_received(case: Case, event: CaseEvent, *, now: datetime) -> None:
    context = {"event": event, "entitled": case.entitlement == Case.Entitlement.ENTITLED}
    if context["entitled"]:
        context.update(_targets(case))
    else:
        policy = case.policy()
        context["out_of_scope_route"] = policy.out_of_scope_route
        context["partner"] = case.organisation.supported_by
    enqueue(Kind.CASE_RECEIVED, to=case.contact, case=case, context=context, now=now,
            key=str(event.pk))


def public_message(case: Case, message: Message, event: CaseEvent, *, now: datetime) -> None:
    """A public reply or a logged phone call: the first response, or a status update."""
    kind = Kind.REPLY if event.type == CaseEvent.Type.RESPONDED else Kind.STATUS_UPDATE
    context = {"message": message, "call": message.kind == Message.Kind.CALL,
               "author": message.author, "first": kind == Kind.REPLY}
    for user in case.update_recipients():
        enqueue(kind, to=user, case=case, context=context, now=now, key=str(event.pk),
                template="reply")


def information_requested(case: Case, message: Message, event: CaseEvent, *,
                          now: datetime) -> None:
    for user in case.update_recipients():
        enqueue(Kind.INFO_REQUEST, to=user, case=case,
                context={"message": message, "author": message.author}, now=now,
                key=str(event.pk))


def resolved(case: Case, event: CaseEvent, *, now: datetime) -> None:
    context = {"summary": event.data.get("summary", ""),
               # The customer's words for the kind, in the recipient's language (issue 13).
               "resolution_label": CUSTOMER_RESOLUTIONS[case.resolution]}
    for user in case.update_recipients():
        enqueue(Kind.RESOLVED, to=user, case=case, context=context, now=now,
                key=str(event.pk))


def escalation_raised(case: Case, escalation: Escalation, event: CaseEvent, *,
                      now: datetime) -> None:
    policy = case.policy()
    level = next((lvl for lvl in policy.escalation_levels if lvl.level == escalation.level),
                 None)
    context = {"escalation": escalation, "level_name": level.name if level else None,
               "raised_by": escalation.raised_by}
    owners = User.objects.filter(role__in=level.roles if level else (), is_active=True)
    for user in owners.order_by("pk"):
        enqueue(Kind.ESCALATION, to=user, case=case, context=context, now=now,
                key=str(event.pk), template="escalation_raised")
    for user in _customers(case, escalation.raised_by):
        enqueue(Kind.ESCALATION, to=user, case=case, context=context, now=now,
                key=str(event.pk), template="escalation_confirmation")


def escalation_acknowledged(case: Case, escalation: Escalation, event: CaseEvent, *,
                            now: datetime) -> None:
    policy = case.policy()
    level = next((lvl for lvl in policy.escalation_levels if lvl.level == escalation.level),
                 None)
    context = {"escalation": escalation, "level_name": level.name if level else None,
               "acknowledged_by": escalation.acknowledged_by}
    for user in _customers(case, escalation.raised_by):
        enqueue(Kind.ESCALATION, to=user, case=case, context=context, now=now,
                key=str(event.pk), template="escalation_acknowledged")


def sla_notice(case: Case, notice: SlaNotice, clock, *, now: datetime) -> list[Outbox]:
    """Warn about an SLA moment the worker has just recorded (``clock`` is the
    :class:`slpdesk.sla.ClockState` at ``now``)."""
    kind = SLA_KINDS[notice.kind]
    assignee = case.assignee if case.assignee_id and case.assignee.is_active else None
    if notice.kind == "update_owed":
        people = [assignee] if assignee is not None else list(supervisors())
    else:
        people = ([assignee] if assignee is not None else []) + [
            u for u in supervisors() if assignee is None or u.pk != assignee.pk]
    context = {"notice": notice, "clock": notice.clock, "due": notice.due,
               "remaining": clock.remaining_seconds, "priority": case.effective_priority(),
               "assignee": assignee}
    written = []
    for user in people:
        row = enqueue(kind, to=user, case=case, context=context, now=now,
                      key=str(notice.pk))
        if row is not None:
            written.append(row)
    return written
