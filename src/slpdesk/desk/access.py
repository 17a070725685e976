"""Who may see and do what: the one place that decides it, per object type.

Every page, download, API route and export that shows a customer's data
gets its rows from the ``*_for(user)`` function of that object type here,
and asks the ``can_*`` functions before it offers or performs an action.
Services check the same functions again, so a forged request gets the same
answer as the page would have given.

Visibility in one sentence: the vendor's staff see everything; a customer
or partner contact sees their own organisation's cases, and a partner also
the cases of the end users it supports (E3), with internal notes, internal
attachments and the event log left out. Anything else is answered as if it
did not exist (404), so not even its existence or count leaks.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.http import Http404

from .models import (
    Attachment,
    CannedReply,
    Case,
    CaseEvent,
    Escalation,
    Message,
    Organisation,
    SavedView,
    Site,
    Statement,
    User,
)

Role = User.Role

#: Roles that work cases: triage, reply, assign, classify, resolve, exclude, reopen.
WORKING_ROLES = frozenset({Role.AGENT, Role.SUPERVISOR, Role.MANAGER, Role.ADMIN})
#: Roles that see the console (everything the vendor's staff may read).
STAFF_ROLES = WORKING_ROLES | {Role.EXECUTIVE}
#: Roles that see the whole team's queues and the escalation board.
LEAD_ROLES = frozenset({Role.SUPERVISOR, Role.MANAGER, Role.EXECUTIVE, Role.ADMIN})


def _active(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def is_staff(user) -> bool:
    """The vendor's people (the console); customers and partners use the portal."""
    return _active(user) and user.role in STAFF_ROLES


def is_contact(user) -> bool:
    """A customer's or partner's person, attached to an organisation (the portal)."""
    return _active(user) and user.role == Role.CUSTOMER and user.organisation_id is not None


def _customer_orgs(user) -> Q:
    """The organisations whose cases a contact sees: their own, and as a partner the
    end users it supports."""
    return Q(organisation_id=user.organisation_id) | Q(
        organisation__supported_by_id=user.organisation_id)


# -------------------------------------------------------------------- cases
def cases_for(user) -> QuerySet[Case]:
    """The cases ``user`` may see."""
    if is_staff(user):
        return Case.objects.all()
    if is_contact(user):
        return Case.objects.filter(_customer_orgs(user))
    return Case.objects.none()


def case_or_404(user, number: str) -> Case:
    """The case numbered ``number`` if ``user`` may see it; otherwise 404, as for a
    case that does not exist."""
    try:
        return cases_for(user).select_related(
            "organisation", "site", "contact", "release", "assignee", "policy_version",
        ).get(number=number)
    except Case.DoesNotExist:
        raise Http404("no such case") from None


def can_see(user, case_id: int) -> bool:
    """Whether ``user`` may see the case with primary key ``case_id`` (as ``cases_for``
    says; staff without a query)."""
    if is_staff(user):
        return True
    return is_contact(user) and cases_for(user).filter(pk=case_id).exists()


def can_work(user) -> bool:
    """Triage, reply, assign, classify, resolve, exclude, reopen (the console's actions)."""
    return _active(user) and user.role in WORKING_ROLES


def can_add_note(user) -> bool:
    return is_staff(user)


def can_see_internal(user) -> bool:
    """Internal notes, internal attachments, the event log and the SLA timeline."""
    return is_staff(user)


def can_reply_as_customer(user, case: Case) -> bool:
    return is_contact(user) and case.status != Case.Status.CLOSED and can_see(user, case.pk)


def can_upload(user, case: Case) -> bool:
    if case.status == Case.Status.CLOSED:
        return False
    return can_work(user) or can_reply_as_customer(user, case)


def can_reopen(user, case: Case) -> bool:
    if case.status != Case.Status.RESOLVED:
        return False
    return can_work(user) or (is_contact(user) and can_see(user, case.pk))


def can_escalate(user, case: Case, top_level: int) -> bool:
    """X1: the customer (or support on their behalf) may escalate an open case, with a
    reason, until it is at the top level."""
    if not case.is_open() or case.escalation_level >= top_level:
        return False
    if can_work(user):
        return True
    return is_contact(user) and can_see(user, case.pk)


def can_open_case(user) -> bool:
    """Contacts open cases for their sites; working staff log cases (phone) for anyone."""
    return is_contact(user) or can_work(user)


# ---------------------------------------------------------------- messages
def messages_for(user, case: Case) -> QuerySet[Message]:
    """The messages of ``case`` that ``user`` may read (the case must be visible)."""
    qs = Message.objects.filter(case__in=cases_for(user).filter(pk=case.pk))
    if not can_see_internal(user):
        qs = qs.exclude(kind=Message.Kind.INTERNAL)
    return qs


# ------------------------------------------------------------- attachments
def attachments_for(user) -> QuerySet[Attachment]:
    """The attachments ``user`` may download."""
    qs = Attachment.objects.filter(case__in=cases_for(user))
    if not can_see_internal(user):
        qs = qs.filter(internal=False).exclude(message__kind=Message.Kind.INTERNAL)
    return qs


# ------------------------------------------------------------------ events
def events_for(user, case: Case) -> QuerySet[CaseEvent]:
    """The event log of ``case``: support staff only."""
    if not can_see_internal(user):
        return CaseEvent.objects.none()
    return CaseEvent.objects.filter(case=case)


#: Events a customer sees on the case's timeline (with their reason or summary).
CUSTOMER_TIMELINE_EVENTS = ("resolved", "reopened", "priority_assigned", "info_complete",
                            "info_requested", "customer_replied", "responded",
                            "status_update")


def timeline_events_for(user, case: Case) -> QuerySet[CaseEvent]:
    """The events that tell ``case``'s story to ``user`` (the conversation): staff all,
    a customer who may see the case the public ones above."""
    if can_see_internal(user):
        return CaseEvent.objects.filter(case=case)
    if not can_see(user, case.pk):
        return CaseEvent.objects.none()
    return CaseEvent.objects.filter(case=case, type__in=CUSTOMER_TIMELINE_EVENTS)


# -------------------------------------------------------------- escalations
def escalations_for(user) -> QuerySet[Escalation]:
    return Escalation.objects.filter(case__in=cases_for(user))


def can_acknowledge(user, escalation: Escalation, level_roles: tuple[str, ...]) -> bool:
    """An escalation is acknowledged by an owner of its level (X2): a user with one of
    ``level_roles``, or an administrator."""
    if escalation.acknowledged_at is not None or not is_staff(user):
        return False
    return user.role in level_roles or user.role == Role.ADMIN


# ------------------------------------------------------- organisations, sites
def organisations_for(user) -> QuerySet[Organisation]:
    if is_staff(user):
        return Organisation.objects.all()
    if is_contact(user):
        return Organisation.objects.filter(
            Q(pk=user.organisation_id) | Q(supported_by_id=user.organisation_id))
    return Organisation.objects.none()


def sites_for(user) -> QuerySet[Site]:
    """The sites ``user`` may open a case for."""
    if can_work(user):
        return Site.objects.all()
    if is_contact(user):
        return Site.objects.filter(
            Q(organisation_id=user.organisation_id)
            | Q(organisation__supported_by_id=user.organisation_id))
    return Site.objects.none()


def may_open_case_at(user, site: Site) -> bool:
    """Whether ``site`` is one of :func:`sites_for` ``user``, judged on the site as read
    (with its organisation) instead of by a query: opening a case asks it every time."""
    if can_work(user):
        return True
    if is_contact(user):
        return user.organisation_id in (site.organisation_id,
                                        site.organisation.supported_by_id)
    return False


# ------------------------------------------------------------ personal data
def can_manage_personal_data(user) -> bool:
    """Find anyone, export their data and erase it (GDPR requests): administrators."""
    return _active(user) and user.role == Role.ADMIN


def people_for(user) -> QuerySet[User]:
    """The accounts whose personal data ``user`` may export or erase: every one for an
    administrator, none for anybody else (a person downloads their own from
    Preferences, never through this)."""
    if can_manage_personal_data(user):
        return User.objects.all()
    return User.objects.none()


def staff_users() -> QuerySet[User]:
    """The people a case can be assigned to."""
    return User.objects.filter(is_active=True, role__in=WORKING_ROLES)


# ------------------------------------------------------------- canned replies
#: Roles that may change or delete a shared canned reply someone else owns.
CANNED_EDITOR_ROLES = frozenset({Role.SUPERVISOR, Role.MANAGER, Role.ADMIN})


def canned_replies_for(user) -> QuerySet[CannedReply]:
    """Staff see their own canned replies and the shared ones; a personal one is its
    owner's only; customers and partners see none."""
    return _own_and_shared(CannedReply, user)


def can_edit_canned(user, reply: CannedReply) -> bool:
    """The owner changes their own; a shared one also a supervisor, manager or admin."""
    return _may_change(user, reply, CANNED_EDITOR_ROLES)


# ----------------------------------------------- personal or shared: the rules
def _own_and_shared(model, user) -> QuerySet:
    """Rows of ``model`` (with ``owner`` and ``shared``) that ``user`` may use: their own
    and every shared one, for staff; none for anyone else."""
    if not is_staff(user):
        return model.objects.none()
    return model.objects.filter(Q(owner_id=user.pk) | Q(shared=True))


def _may_change(user, row, keepers: frozenset) -> bool:
    """The owner changes their own row; a shared one also the ``keepers`` roles."""
    if not is_staff(user):
        return False
    return row.owner_id == user.pk or (row.shared and user.role in keepers)
# ------------------------------------------------------------------ statements
def statements_for(user) -> QuerySet[Statement]:
    """The monthly SLA statements ``user`` may read: staff all; a contact only their own
    organisation's (not those of the end users a partner supports: each gets its own)."""
    if is_staff(user):
        return Statement.objects.all()
    if is_contact(user):
        return Statement.objects.filter(organisation_id=user.organisation_id)
    return Statement.objects.none()


def can_manage_statements(user) -> bool:
    """Preview any organisation's statement, send or re-send it, switch it off: the
    managers (and administrators)."""
    return is_staff(user) and user.role in (Role.MANAGER, Role.ADMIN)


def statement_or_404(user, month: str) -> Statement:
    """The statement of ``user``'s own organisation for ``month``, or 404."""
    try:
        return statements_for(user).select_related("organisation").get(
            organisation_id=user.organisation_id, month=month)
    except Statement.DoesNotExist:
        raise Http404("no such statement") from None


# ------------------------------------------------------------------ webhooks
def can_manage_webhooks(user) -> bool:
    """Webhooks carry every case's data out of the desk: administrators only."""
    return _active(user) and user.role == Role.ADMIN


def webhooks_for(user):
    """The webhook subscriptions ``user`` may see and change (with their deliveries)."""
    from slpdesk.webhooks.models import Webhook  # (the webhooks app sits above the desk)

    return Webhook.objects.all() if can_manage_webhooks(user) else Webhook.objects.none()


# -------------------------------------------------------------- saved views
#: Roles that change or delete any shared saved view, not only their own.
VIEW_KEEPER_ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN})


def saved_views_for(user) -> QuerySet[SavedView]:
    """The saved queue views ``user`` may use: their own and every shared one (staff)."""
    return _own_and_shared(SavedView, user)


def can_edit_saved_view(user, view: SavedView) -> bool:
    """The owner; a shared view also a supervisor or an administrator."""
    return _may_change(user, view, VIEW_KEEPER_ROLES)
