"""Canned replies (macros, issue 13 item 4): their placeholders, and their text
rendered for one case in the customer's language and zone.

The syntax is deliberately small and safe: ``{contact_name}`` is replaced by a
value; ``{{`` and ``}}`` stand for a literal brace; a brace that opens no
placeholder stays as it is. Nothing in a canned reply is ever run as a Django
template. A text naming a placeholder this module does not know is refused on
save with the list of the ones it does (:func:`check_placeholders`).

The due times are the case's stored SLA columns (written by
``services.store_sla``), formatted as the mails format them: in the contact's
language and zone (``mail.outbound.language_of`` / ``zone_of``) by the shared
``local`` filter, e.g. ``Mon 7 Dec 2026 09:00 EST``.
"""

from __future__ import annotations

import re

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import translation
from django.utils.translation import gettext as _

from slpdesk.mail.outbound import display_name, language_of, zone_of
from slpdesk.web.templatetags.slpdesk import local

from . import access
from .models import CannedReply, Case, User

#: Every placeholder, in the order the help text lists them.
PLACEHOLDERS = (
    "contact_name",
    "case_number",
    "case_title",
    "response_due",
    "resolution_due",
    "next_update_due",
    "agent_name",
    "organisation_name",
    "site_name",
)

#: ``{{``, ``}}`` or ``{name}`` (a name of letters, digits and underscores).
_TOKEN = re.compile(r"\{\{|\}\}|\{([A-Za-z0-9_]+)\}")


def allowed_list() -> str:
    return ", ".join("{" + name + "}" for name in PLACEHOLDERS)


def check_placeholders(text: str) -> None:
    """Refuse a text naming a placeholder that is not in :data:`PLACEHOLDERS`."""
    unknown = sorted({m.group(1) for m in _TOKEN.finditer(text or "")
                      if m.group(1) is not None and m.group(1) not in PLACEHOLDERS})
    if unknown:
        raise ValidationError(
            _("Unknown placeholder: %(unknown)s. The placeholders are: %(allowed)s."),
            code="placeholder",
            params={"unknown": ", ".join("{" + n + "}" for n in unknown),
                    "allowed": allowed_list()})


def substitute(text: str, values: dict[str, str]) -> str:
    """``text`` with every placeholder replaced by its value (in one pass: a value is
    never read again for placeholders)."""
    def one(match: re.Match) -> str:
        token = match.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        return values.get(match.group(1), token)

    return _TOKEN.sub(one, text)


def case_language(case: Case) -> str:
    """The language a case's customer reads: the contact's preference."""
    return language_of(case.contact)


def values_for(case: Case, agent: User) -> dict[str, str]:
    """The placeholders' values for ``case``, in the contact's language and zone."""
    contact = case.contact
    zone = zone_of(contact, case)
    with translation.override(case_language(case)):
        return {
            "contact_name": display_name(contact),
            "case_number": case.number or "",
            "case_title": case.title,
            "response_due": local(case.response_due, zone),
            "resolution_due": local(case.resolution_due, zone),
            "next_update_due": local(case.next_update_due, zone),
            "agent_name": display_name(agent),
            "organisation_name": case.organisation.name,
            "site_name": case.site.name,
        }


def render(reply: CannedReply, case: Case, agent: User) -> str:
    """``reply`` for ``case``: its text in the contact's language, placeholders filled."""
    return substitute(reply.body(case_language(case)), values_for(case, agent))


# ---------------------------------------------------------------- changes
FIELDS = ("title", "body_en", "body_sv", "action", "shared")


def save(reply: CannedReply | None, fields: dict, *, actor: User, now) -> CannedReply:
    """Create (``reply`` None) or change a canned reply with ``fields`` (a subset of
    :data:`FIELDS`). Refused with :class:`PermissionDenied` for anyone but the vendor's
    staff, and for a reply ``actor`` may not change (:func:`access.can_edit_canned`);
    only the owner shares or unshares one. Bad values raise ``ValidationError`` with
    nothing stored."""
    if not access.is_staff(actor):
        raise PermissionDenied(_("Only support staff can do this."))
    if reply is None:
        reply = CannedReply(owner=actor, created_at=now)
    elif not access.can_edit_canned(actor, reply):
        raise PermissionDenied(_("Only its owner, or a supervisor, manager or administrator "
                                 "for a shared one, can change this canned reply."))
    if "shared" in fields and bool(fields["shared"]) != reply.shared and reply.pk and \
            reply.owner_id != actor.pk:
        raise PermissionDenied(_("Only its owner can share or unshare a canned reply."))
    for name in FIELDS:
        if name in fields:
            setattr(reply, name, fields[name])
    reply.updated_at = now
    reply.full_clean(exclude=["owner"])
    reply.save()
    return reply


def delete(reply: CannedReply, *, actor: User) -> None:
    if not access.can_edit_canned(actor, reply):
        raise PermissionDenied(_("Only its owner, or a supervisor, manager or administrator "
                                 "for a shared one, can change this canned reply."))
    reply.delete()
