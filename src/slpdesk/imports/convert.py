"""``slpdesk import-from``: another desk's cases as the JSON Lines of ``slpdesk import``.

Two sources, read without Django (plain SQL, plain JSON), written to standard
output one case per line:

* **django-helpdesk** (:func:`from_django_helpdesk`): its database through a URL
  (``sqlite:///PATH`` or ``postgres://…``): ``helpdesk_ticket``,
  ``helpdesk_queue``, ``helpdesk_followup``, ``helpdesk_ticketchange`` and
  ``auth_user``.
* **Zendesk** (:func:`from_zendesk`): the JSON of its ticket export and ticket
  audits endpoints (and, for addresses and names, of its users and organizations).

Both tell each ticket's story through :class:`Story`, which turns what happened
into the SLA events of ``slpdesk sla replay`` so that every line replays: the
mapping is in the README ("Importing from django-helpdesk and Zendesk").
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime


class ConvertError(Exception):
    """A source the converter cannot read; one line for the user."""


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Story:
    """One ticket's history as SLA events and messages, kept replayable: times never go
    back, nothing but a customer's message, a priority change or a reopening follows a
    resolution, a request for information is the contact it carries."""

    received: datetime
    priority: str
    events: list[dict] = field(default_factory=list)
    messages: list[dict] = field(default_factory=list)
    contacted: bool = False
    waiting: bool = False
    resolved: bool = False
    last: datetime | None = None

    def __post_init__(self):
        # The source has no triage step: the priority it was opened with is the
        # assigned one, and the information counts as complete at receipt.
        at = self._at(self.received)
        self._event(at, "received", priority=self.priority)
        self._event(at, "priority_assigned", priority=self.priority)
        self._event(at, "info_complete")

    def _at(self, at: datetime) -> datetime:
        at = at.astimezone(UTC)
        if self.last is not None and at < self.last:
            at = self.last
        self.last = at
        return at

    def _event(self, at: datetime, type_: str, **fields) -> None:
        self.events.append({"at": iso(at), "type": type_, **fields})

    def _message(self, at: datetime, author: str, public: bool, body: str) -> None:
        if body and body.strip():
            self.messages.append({"at": iso(at), "author_email": author, "public": public,
                                  "body": body})

    def set_priority(self, at: datetime, priority: str) -> None:
        at = self._at(at)
        if priority != self.priority:
            self.priority = priority
            self._event(at, "priority_assigned", priority=priority)

    def staff_reply(self, at: datetime, author: str, body: str, *,
                    asks_customer: bool = False) -> None:
        """A public message from support: the first response, a status update or (the
        case now waits on the customer) a request for information."""
        at = self._at(at)
        self._message(at, author, True, body)
        if self.resolved:
            return  # a word after the resolution: no clock runs
        if asks_customer and not self.waiting:
            self._event(at, "info_requested")
            self.waiting = True
        elif body.strip():
            self._event(at, "status_update" if self.contacted else "responded")
        else:
            return  # a change without a word to the customer
        self.contacted = True

    def customer_message(self, at: datetime, author: str, body: str) -> None:
        at = self._at(at)
        self._message(at, author, True, body)
        self._event(at, "customer_replied")
        self.waiting = False

    def note(self, at: datetime, author: str, body: str) -> None:
        self._message(self._at(at), author, False, body)

    def wait_on_customer(self, at: datetime) -> None:
        at = self._at(at)
        if not self.waiting and not self.resolved:
            self._event(at, "info_requested")
            self.waiting = self.contacted = True

    def stop_waiting(self, at: datetime) -> None:
        at = self._at(at)
        if self.waiting and not self.resolved:
            self._event(at, "info_complete")
            self.waiting = False

    def resolve(self, at: datetime, resolution: str = "fixed", summary: str = "") -> None:
        at = self._at(at)
        if not self.resolved:
            fields = {"resolution": resolution}
            if summary:
                fields["summary"] = summary
            self._event(at, "resolved", **fields)
            self.resolved, self.waiting = True, False

    def reopen(self, at: datetime, reason: str = "") -> None:
        at = self._at(at)
        if self.resolved:
            self._event(at, "reopened", **({"reason": reason} if reason else {}))
            self.resolved = False


def line(*, external_id: str, organisation: str, site: str, contact: str, title: str,
         description: str, channel: str, story: Story, args) -> dict:
    doc = {"external_id": external_id, "organisation": organisation, "site": site,
           "contact_email": contact, "title": (title or "").strip()[:200] or "(no subject)",
           "description": description or "", "channel": channel,
           "received_at": iso(story.received), "events": story.events,
           "messages": story.messages}
    if args.country and args.time_zone:
        doc.update(create=True, country=args.country, time_zone=args.time_zone)
    return doc


def warn(text: str) -> None:
    print(f"slpdesk: {text}", file=sys.stderr)


# ------------------------------------------------------------ django-helpdesk
#: django-helpdesk's priorities (1 Critical … 5 Very low) → the policy's.
HELPDESK_PRIORITY = {1: "P1", 2: "P2", 3: "P3", 4: "P4", 5: "P4"}
#: django-helpdesk's statuses (its defaults).
OPEN, REOPENED, RESOLVED, CLOSED, DUPLICATE = 1, 2, 3, 4, 5


def _connect(url: str):
    if url.startswith("sqlite:///"):
        import sqlite3

        path = url[len("sqlite:///"):]
        try:
            connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            connection.execute("SELECT 1 FROM helpdesk_ticket LIMIT 1")
        except sqlite3.Error as exc:
            raise ConvertError(f"{url}: not a django-helpdesk database ({exc})") from None
        return connection
    if url.startswith(("postgres://", "postgresql://")):
        import psycopg

        try:
            connection = psycopg.connect(url)
            connection.read_only = True
            connection.execute("SELECT 1 FROM helpdesk_ticket LIMIT 1")
        except psycopg.Error as exc:
            raise ConvertError(f"database: {str(exc).strip().splitlines()[0]}") from None
        return connection
    raise ConvertError(f"{url!r}: give sqlite:///PATH or postgres://USER@HOST:PORT/NAME")


def _time(value) -> datetime:
    """A datetime column: aware from PostgreSQL, UTC text from SQLite."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def from_django_helpdesk(url: str, args, out) -> int:
    """Each ticket of a django-helpdesk database as one line; returns how many."""
    connection = _connect(url)
    try:
        users = {uid: (email or f"{username}@django-helpdesk.invalid", bool(staff))
                 for uid, username, email, staff in connection.execute(
                     "SELECT id, username, email, is_staff FROM auth_user")}
        changes: dict[int, list] = {}
        for followup_id, field_name, old, new in connection.execute(
                "SELECT followup_id, field, old_value, new_value FROM helpdesk_ticketchange "
                "ORDER BY id"):
            changes.setdefault(followup_id, []).append((field_name, old, new))
        followups: dict[int, list] = {}
        for row in connection.execute(
                "SELECT id, ticket_id, date, comment, public, user_id, new_status "
                "FROM helpdesk_followup ORDER BY ticket_id, date, id"):
            followups.setdefault(row[1], []).append(row)
        count = 0
        for (tid, title, created, email, status, description, resolution, priority,
             queue) in connection.execute(
                "SELECT t.id, t.title, t.created, t.submitter_email, t.status, "
                "t.description, t.resolution, t.priority, q.title FROM helpdesk_ticket t "
                "JOIN helpdesk_queue q ON q.id = t.queue_id ORDER BY t.id"):
            ticket_followups = followups.get(tid, [])
            first = _first_priority(ticket_followups, changes, priority)
            story = Story(_time(created), HELPDESK_PRIORITY.get(first, "P3"))
            contact = (email or "").strip()
            if not contact:
                warn(f"ticket {tid}: no submitter e-mail address; left out")
                continue
            for fid, _t, date, comment, public, user_id, new_status in ticket_followups:
                at = _time(date)
                for field_name, _old, new in changes.get(fid, []):
                    if field_name.casefold() == "priority" and str(new).strip().isdigit():
                        story.set_priority(at, HELPDESK_PRIORITY.get(int(new), "P3"))
                if new_status in (OPEN, REOPENED):
                    story.reopen(at, "Reopened in django-helpdesk")
                author, staff = users.get(user_id, (contact, False))
                is_contact = user_id is None or author.casefold() == contact.casefold()
                if not public:
                    if staff:
                        story.note(at, author, comment or "")
                    elif (comment or "").strip():
                        warn(f"ticket {tid} follow-up {fid}: a private follow-up by a "
                             "non-staff user is left out")
                elif is_contact or not staff:
                    if (comment or "").strip():
                        story.customer_message(at, contact if is_contact else author,
                                               comment)
                else:
                    story.staff_reply(at, author, comment or "")
                if new_status in (RESOLVED, CLOSED):
                    story.resolve(at, "fixed", resolution or "")
                elif new_status == DUPLICATE:
                    story.resolve(at, "no-defect", "Duplicate")
            if status in (RESOLVED, CLOSED, DUPLICATE) and not story.resolved:
                # closed without a follow-up saying so: at its last recorded moment
                story.resolve(story.last, "no-defect" if status == DUPLICATE else "fixed",
                              resolution or "")
            out.write(json.dumps(line(
                external_id=f"django-helpdesk:{tid}", organisation=args.organisation or queue,
                site=args.site, contact=contact, title=title, description=description,
                channel="email", story=story, args=args), ensure_ascii=False) + "\n")
            count += 1
        return count
    finally:
        connection.close()


def _first_priority(followups, changes, current) -> int:
    """The priority a ticket was opened with: the old value of its first priority
    change, else the one it has."""
    for fid, *_rest in followups:
        for field_name, old, _new in changes.get(fid, []):
            if field_name.casefold() == "priority" and str(old).strip().isdigit():
                return int(old)
    return current


# -------------------------------------------------------------------- Zendesk
#: Zendesk's priorities → the policy's (a ticket without one is "normal").
ZENDESK_PRIORITY = {"urgent": "P1", "high": "P2", "normal": "P3", "low": "P4"}
#: Zendesk's channels (``via.channel``) → the desk's.
ZENDESK_CHANNEL = {"email": "email", "voice": "phone", "phone": "phone"}


def _read_json(path: str, key: str) -> list[dict]:
    """The items under ``key`` of a Zendesk export: one page (``{"tickets": [...]}``) or
    a list of pages, or a bare list."""
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except (OSError, ValueError) as exc:
        raise ConvertError(f"{path}: cannot read: {exc}") from None
    pages = doc if isinstance(doc, list) and all(isinstance(p, dict) and key in p
                                                 for p in doc) else [doc]
    items = []
    for page in pages:
        found = page.get(key) if isinstance(page, dict) else page
        if not isinstance(found, list):
            raise ConvertError(f"{path}: no {key!r} list")
        items.extend(found)
    return items


def _zendesk_time(text: str, what: str) -> datetime:
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        raise ConvertError(f"{what}: {text!r} is not a time") from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def from_zendesk(args, out) -> int:
    tickets = _read_json(args.file, "tickets")
    audits: dict[int, list] = {}
    for path in args.audits:
        for audit in _read_json(path, "audits"):
            audits.setdefault(audit.get("ticket_id"), []).append(audit)
    users = {u["id"]: u for u in _read_json(args.users, "users")} if args.users else {}
    orgs = ({o["id"]: o.get("name") for o in _read_json(args.organizations, "organizations")}
            if args.organizations else {})

    def email(uid) -> str:
        return (users.get(uid) or {}).get("email") or f"zendesk-user-{uid}@zendesk.invalid"

    def is_staff(uid, requester) -> bool:
        role = (users.get(uid) or {}).get("role")
        return role in ("agent", "admin") if role else uid != requester

    count = 0
    for ticket in tickets:
        tid = ticket.get("id")
        if ticket.get("status") == "deleted":
            continue
        created = _zendesk_time(ticket.get("created_at"), f"ticket {tid}: created_at")
        requester = ticket.get("requester_id")
        history = sorted(audits.get(tid, []), key=lambda a: (a.get("created_at"), a.get("id")))
        first = _zendesk_first_priority(history, ticket.get("priority"))
        story = Story(created, ZENDESK_PRIORITY.get(first or "normal", "P3"))
        description = ticket.get("description") or ""
        skipped_description = False
        for audit in history:
            at = _zendesk_time(audit.get("created_at"), f"audit {audit.get('id')}: created_at")
            events = audit.get("events") or []
            status = next((e.get("value") for e in events
                           if e.get("type") == "Change" and e.get("field_name") == "status"), None)
            for e in events:
                if e.get("type") == "Change" and e.get("field_name") == "priority":
                    story.set_priority(at, ZENDESK_PRIORITY.get(e.get("value") or "normal", "P3"))
            if status in ("open", "pending", "new", "hold") and story.resolved:
                story.reopen(at, "Reopened in Zendesk")
            for e in events:
                if e.get("type") != "Comment":
                    continue
                body = e.get("plain_body") or e.get("body") or ""
                if not skipped_description and body.strip() == description.strip():
                    skipped_description = True  # the ticket's first comment is its description
                    continue
                author = e.get("author_id", audit.get("author_id"))
                if not e.get("public", True):
                    if is_staff(author, requester):
                        story.note(at, email(author), body)
                    else:
                        warn(f"ticket {tid}: a private comment by a non-agent is left out")
                elif is_staff(author, requester):
                    story.staff_reply(at, email(author), body, asks_customer=status == "pending")
                else:
                    story.customer_message(at, email(requester) if author == requester
                                           else email(author), body)
            if status == "pending":
                story.wait_on_customer(at)
            elif status in ("open", "new", "hold"):
                story.stop_waiting(at)
            elif status in ("solved", "closed"):
                story.resolve(at)
        if ticket.get("status") in ("solved", "closed") and not story.resolved:
            story.resolve(_zendesk_time(ticket.get("updated_at") or ticket["created_at"],
                                        f"ticket {tid}: updated_at"))
        org_id = ticket.get("organization_id")
        organisation = (orgs.get(org_id) or (f"Zendesk organization {org_id}" if org_id
                                             else None) or args.organisation)
        if not organisation:
            raise ConvertError(f"ticket {tid} has no organization: give --organisation")
        channel = ZENDESK_CHANNEL.get(((ticket.get("via") or {}).get("channel") or ""), "portal")
        out.write(json.dumps(line(
            external_id=f"zendesk:{tid}", organisation=organisation, site=args.site,
            contact=email(requester), title=ticket.get("subject") or "",
            description=description, channel=channel, story=story, args=args),
            ensure_ascii=False) + "\n")
        count += 1
    return count


def _zendesk_first_priority(history, current):
    for audit in history:
        for e in audit.get("events") or []:
            if e.get("type") == "Create" and e.get("field_name") == "priority":
                return e.get("value")
            if e.get("type") == "Change" and e.get("field_name") == "priority":
                return e.get("previous_value")
    return current


def run(args, out) -> int:
    if (args.country is None) != (args.time_zone is None):
        raise ConvertError("give --country and --time-zone together")
    if args.source == "django-helpdesk":
        count = from_django_helpdesk(args.url, args, out)
    else:
        count = from_zendesk(args, out)
    warn(f"converted {count} tickets")
    return 0
