"""The API tests' world: three organisations' cases, each with a public reply, an
internal note, a public and an internal file and an escalation, and one API token
per principal. Built on the desk's cast (``desk.conftest``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from slpdesk.api.models import ApiToken
from slpdesk.desk import services
from slpdesk.desk.models import (
    Agreement,
    Attachment,
    Case,
    Escalation,
    Message,
    Organisation,
    Release,
    User,
)

Role = User.Role

#: principal -> (username, role, organisation name or None)
PRINCIPALS = {
    "customer": ("alice", None, None),          # Acme Tooling, from the cast
    "colleague": ("bob", None, None),           # Acme Tooling too
    "partner": ("paula", Role.CUSTOMER, "Partnerco"),   # supports Endco (E3)
    "end user": ("edgar", None, None),          # Endco, supported through Partnerco
    "other customer": ("olga", None, None),     # Other Co
    "agent": ("sam", None, None),
    "supervisor": ("sue", Role.SUPERVISOR, None),
    "manager": ("max", Role.MANAGER, None),
    "executive": ("eve", Role.EXECUTIVE, None),
    "admin": ("ada", Role.ADMIN, None),
}
CONTACTS = ("customer", "colleague", "partner", "end user", "other customer")
WORKERS = ("agent", "supervisor", "manager", "admin")
STAFF = WORKERS + ("executive",)


@dataclass
class Owned:
    """One organisation's case and what hangs on it."""

    case: Case
    public_file: Attachment
    internal_file: Attachment
    public_message: Message
    internal_message: Message
    escalation: Escalation


@dataclass
class ApiWorld:
    cast: object
    users: dict[str, User]
    tokens: dict[str, str]
    acme: Owned      # alice's case (Acme Tooling)
    endco: Owned     # Endco's case, opened by its partner Partnerco (E3)
    other: Owned     # olga's case (Other Co)
    token_rows: dict[str, ApiToken] = field(default_factory=dict)

    def auth(self, principal: str) -> dict:
        """Test-client keyword arguments that authenticate as ``principal``."""
        if principal == "anonymous":
            return {}
        return {"HTTP_AUTHORIZATION": f"Bearer {self.tokens[principal]}"}

    def header(self, principal: str) -> dict:
        """The Authorization header of ``principal`` (for schemathesis)."""
        return {} if principal == "anonymous" else {
            "Authorization": f"Bearer {self.tokens[principal]}"}


def _owned(site, contact, actor, agent, now) -> Owned:
    case = services.receive_case(site, contact=contact, channel="portal",
                                 proposed_priority="P3", title=f"{site.organisation}'s case",
                                 description="It stops", actor=actor, now=now)
    services.assign_priority(case, "P3", information_complete=True, actor=agent, now=now)
    public = services.reply(case, "Looking at it", actor=agent, now=now)
    internal = services.add_note(case, "Internal only", actor=agent, now=now)
    public_file = services.attach_file(case, SimpleUploadedFile("log.txt", b"log"),
                                       actor=actor, now=now)
    internal_file = services.attach_file(case, SimpleUploadedFile("notes.txt", b"n"),
                                         actor=agent, now=now, internal=True)
    escalation = services.escalate(case, "Too slow", channel="portal", actor=actor, now=now)
    case.refresh_from_db()
    return Owned(case, public_file, internal_file, public, internal, escalation)


def build_world(cast) -> ApiWorld:
    now = timezone.now()
    today = now.date()
    for site in (cast.hartford, cast.other_site, cast.endco_site):  # cover today
        Agreement.objects.create(site=site, starts=today - timedelta(days=30),
                                 ends=today + timedelta(days=30))
    Release.objects.create(name="current", released=today - timedelta(days=1))
    users = {}
    for principal, (username, role, org) in PRINCIPALS.items():
        if role is None:
            users[principal] = User.objects.get(username=username)
        else:
            users[principal] = User.objects.create_user(
                username, f"{username}@example.com", "pw", role=role,
                organisation=Organisation.objects.get(name=org) if org else None,
                is_staff=role == Role.ADMIN, is_superuser=role == Role.ADMIN)
    received = now - timedelta(hours=2)
    agent = users["agent"]
    world = ApiWorld(
        cast=cast, users=users, tokens={},
        acme=_owned(cast.hartford, cast.alice, cast.alice, agent, received),
        endco=_owned(cast.endco_site, users["partner"], users["partner"], agent, received),
        other=_owned(cast.other_site, cast.olga, cast.olga, agent, received),
    )
    for principal, user in users.items():
        row, raw = ApiToken.issue(user, f"{principal} token", now=now)
        world.tokens[principal] = raw
        world.token_rows[principal] = row
    return world
