"""``slpdesk import``: cases with their whole history, from JSON Lines (issue 16).

One line is one case (the format: ``docs/import.schema.json``). The file is read
twice:

1. **Check** every line: the JSON Schema (the ``jsonschema`` library), then what a
   schema cannot say (:meth:`Checker.check`): the events replay under the policy
   version in force at ``received_at`` (K8) through ``slpdesk sla replay``'s own
   parser (:func:`slpdesk.sla.tools.parse_replay_document`) and engine; the
   organisation, site, contact and authors exist or may be created; the files
   exist, are no larger than ``SLPDESK_MAX_ATTACHMENT_BYTES`` and fit the
   organisation's storage. Any bad line: every one is reported (``line N:
   reason``) and nothing is written.
2. **Write**, in one transaction for the whole file (all or nothing), cases in
   batches of :data:`BATCH` with bulk inserts: the case with its historic times
   and the desk's normal number, its events as :class:`CaseEvent` rows in the
   desk's own vocabulary (so every replay of the desk gives the same SLA), its
   messages and files, then its SLA columns and facts by the one writer,
   :func:`slpdesk.desk.services.store_sla`, and its search document
   (:func:`slpdesk.desk.search.reindex`).

Nothing is mailed and no service verb is called: an import is history. The SLA
moments that passed before the import (a warning, a breach of a case still open)
are recorded as acted on (:class:`SlaNotice`, ``fired_at`` the import's time), so
the worker never mails about them; those still to come are the worker's as for
any case.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path

from slpdesk.sla import CalendarError, Event, ReplayError, replay
from slpdesk.sla.tools import InputError, parse_replay_document

#: Cases written per batch of bulk inserts (and per call of ``store_sla``).
BATCH = 500
#: What an event of each type must carry.
NEEDS = {"received": "priority", "priority_assigned": "priority", "classified": "kind",
         "resolved": "resolution"}
#: Events whose public message (at the same instant) they stand for.
MESSAGE_EVENTS = {"responded": True, "status_update": True, "info_requested": True,
                  "customer_replied": False}


class BadLine(ValueError):
    """What is wrong with a line (one reason, naming the field)."""


@lru_cache(maxsize=1)
def schema() -> dict:
    """The line format (``docs/import.schema.json`` is this file)."""
    return json.loads(resources.files("slpdesk.imports").joinpath("case.schema.json")
                      .read_text(encoding="utf-8"))


def _inline(node, defs: dict):
    """``node`` with its local references (``#/$defs/NAME``) replaced by what they name:
    the same schema, checked without a lookup per reference (a third of the time)."""
    if isinstance(node, dict):
        ref = node.get("$ref", "")
        if ref.startswith("#/$defs/") and len(node) == 1:
            return _inline(defs[ref[len("#/$defs/"):]], defs)
        return {k: _inline(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


@lru_cache(maxsize=1)
def _validator():
    from jsonschema import Draft202012Validator

    return Draft202012Validator(_inline(schema(), schema().get("$defs", {})))


def schema_error(doc) -> str | None:
    """The first way ``doc`` breaks the schema (the deepest, with its path), or None."""
    from jsonschema.exceptions import best_match

    error = best_match(_validator().iter_errors(doc))
    if error is None:
        return None
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    return f"{where.lstrip('.') or 'line'}: {error.message}"


# ------------------------------------------------------------------ one line
@dataclass
class Person:
    """A user a line names: an existing one (``pk``), or one the import creates."""

    email: str
    pk: int | None = None
    staff: bool = False


@dataclass
class Plan:
    """A checked line: everything the writer needs."""

    line: int
    external_id: str
    doc: dict
    organisation: str
    site: str
    create_org: bool
    create_site: tuple[str, str] | None  # (country, time zone) of a site to create
    contact: Person
    received_at: datetime
    version: object  # PolicyVersion
    calendar: str
    time_zone: str
    events: list[Event]
    actors: list[Person | None]
    authors: list[Person]
    files: list[tuple[str, bytes, datetime, bool]]  # name, content, at, internal


@dataclass
class Checker:
    """Checks lines against the database and the lines before them (in one file)."""

    now: datetime
    base: Path
    seen: dict[str, int] = field(default_factory=dict)
    orgs: dict[str, object] = field(default_factory=dict)
    sites: dict[tuple[str, str], object] = field(default_factory=dict)
    new_orgs: set[str] = field(default_factory=set)
    new_sites: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    new_people: set[tuple[str, str]] = field(default_factory=set)
    users: dict[str, list] = field(default_factory=dict)
    storage: dict[str, int] = field(default_factory=dict)
    closed: dict[str, list] = field(default_factory=dict)

    def __post_init__(self):
        from slpdesk.desk.models import PolicyVersion

        PolicyVersion.objects.in_force(self.now)  # the shipped policy, stored on first use
        self.versions = sorted(PolicyVersion.objects.all(),
                               key=lambda v: (v.effective_at, v.pk))

    # ------------------------------------------------------------- lookups
    def version_at(self, at: datetime):
        """The policy version in force at ``at`` (K8), as ``PolicyVersion.in_force``."""
        found = [v for v in self.versions if v.effective_at <= at]
        if not found:
            raise BadLine(f"received_at: no policy version is in force at {at.isoformat()}")
        return found[-1]

    def organisation(self, name: str):
        from slpdesk.desk.models import Organisation

        if name not in self.orgs:
            self.orgs[name] = Organisation.objects.filter(name=name).first()
        return self.orgs[name]

    def site(self, org, org_name: str, name: str):
        from slpdesk.desk.models import Site

        key = (org_name, name)
        if key not in self.sites:
            self.sites[key] = (Site.objects.filter(organisation=org, name=name).first()
                               if org is not None else None)
        return self.sites[key]

    def people(self, email: str) -> list:
        """The users with ``email`` (any case): ``(pk, role, organisation_id)``."""
        from slpdesk.desk.models import User

        key = email.casefold()
        if key not in self.users:
            self.users[key] = list(User.objects.filter(email__iexact=email).order_by("pk")
                                   .values_list("pk", "role", "organisation_id"))
        return self.users[key]

    # --------------------------------------------------------------- a line
    def check(self, number: int, text: str, *, checked: bool = False) -> Plan:
        """The :class:`Plan` of line ``number``; raises :class:`BadLine`. ``checked``: the
        line passed the schema and the replay before (the writing pass)."""
        try:
            doc = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise BadLine(f"not JSON: {exc}") from None
        if not checked and (problem := schema_error(doc)):
            raise BadLine(problem)
        external_id = doc["external_id"]
        if external_id in self.seen and self.seen[external_id] != number:
            raise BadLine(f"external_id: {external_id!r} is also on line "
                          f"{self.seen[external_id]}")
        self.seen[external_id] = number
        org_name, site_name, create = doc["organisation"], doc["site"], doc.get("create", False)
        org = self.organisation(org_name)
        create_org = False
        if org is None:
            if not create:
                raise BadLine(f"organisation: there is no organisation {org_name!r} (give "
                              "\"create\": true to add it)")
            create_org = org_name not in self.new_orgs
            self.new_orgs.add(org_name)
        site = self.site(org, org_name, site_name)
        country, zone = doc.get("country"), doc.get("time_zone")
        create_site = None
        if site is None:
            if not create:
                raise BadLine(f"site: {org_name!r} has no site {site_name!r} (give "
                              "\"create\": true with country and time_zone to add it)")
            if not country or not zone:
                raise BadLine("site: a site to create needs country and time_zone")
            self._zone(zone, "time_zone")
            planned = self.new_sites.setdefault((org_name, site_name), (country, zone))
            if planned != (country, zone):
                raise BadLine(f"site: {site_name!r} is created with {planned[0]} "
                              f"{planned[1]} on an earlier line")
            create_site = (country, zone)
        else:
            country = site.country if country is None else country
            zone = site.time_zone if zone is None else zone
            if (country, zone) != (site.country, site.time_zone):
                raise BadLine(f"site: {site_name!r} exists in {site.country} "
                              f"{site.time_zone}, not {country} {zone}")
        contact = self._contact(doc["contact_email"], org, org_name, create)

        # The events, read as `slpdesk sla replay` reads them, replayed now.
        try:
            _, tz, _, _, events = parse_replay_document(
                {"time_zone": zone, "now": self.now.isoformat(), "events": doc["events"]})
        except (InputError, CalendarError) as exc:
            raise BadLine(str(exc)) from None
        for n, event in enumerate(events):
            needs = NEEDS.get(event.type)
            if needs and not getattr(event, needs):
                raise BadLine(f"events[{n}]: a {event.type} event needs a {needs}")
            if event.at > self.now:
                raise BadLine(f"events[{n}].at: {doc['events'][n]['at']} is in the future")
        received_at = self._instant(doc["received_at"], tz, "received_at")
        first = events[0]
        if first.type != "received" or first.at != received_at:
            raise BadLine("events[0]: the first event must be 'received', at received_at")
        version = self.version_at(received_at)
        policy = version.load()
        calendar = policy.calendar_for_country(country)
        for n, event in enumerate(events):
            if event.priority and event.type in ("received", "priority_assigned") \
                    and event.priority not in policy.priorities:
                raise BadLine(f"events[{n}].priority: {event.priority!r} is not a priority "
                              f"of policy {version}")
        from slpdesk.desk.models import CalendarClosure

        if calendar not in self.closed:
            self.closed[calendar] = CalendarClosure.dates(calendar)
        if not checked:
            try:
                cal = CalendarClosure.compiled(policy, calendar, zone, self.closed[calendar])
                replay(events, policy, cal, self.now, calendar_name=calendar)
            except (ReplayError, ValueError) as exc:
                raise BadLine(f"events: {exc}") from None
        actors = []
        for n, raw in enumerate(doc["events"]):
            actors.append(self._person(raw["actor_email"], org, org_name, contact, False,
                                       f"events[{n}].actor_email")
                          if raw.get("actor_email") else None)
        authors = []
        for n, message in enumerate(doc.get("messages", [])):
            at = self._instant(message["at"], tz, f"messages[{n}].at")
            self._within(at, received_at, f"messages[{n}].at")
            author = self._person(message["author_email"], org, org_name, contact, create,
                                  f"messages[{n}].author_email")
            if not message["public"] and not author.staff:
                raise BadLine(f"messages[{n}]: an internal note (public false) must be "
                              "written by support staff")
            authors.append(author)
        files = [self._file(n, raw, tz, received_at, org_name)
                 for n, raw in enumerate(doc.get("attachments", []))]
        return Plan(number, external_id, doc, org_name, site_name, create_org, create_site,
                    contact, received_at, version, calendar, zone, events, actors, authors,
                    files)

    def _zone(self, name: str, what: str):
        from slpdesk.sla import get_zone

        try:
            return get_zone(name)
        except CalendarError as exc:
            raise BadLine(f"{what}: {exc}") from None

    def _instant(self, text: str, tz, what: str) -> datetime:
        from slpdesk.sla.tools import parse_instant

        try:
            at = parse_instant(text, tz, what)
        except InputError as exc:
            raise BadLine(str(exc)) from None
        if at > self.now:
            raise BadLine(f"{what}: {text} is in the future")
        return at

    @staticmethod
    def _within(at: datetime, received_at: datetime, what: str) -> None:
        if at < received_at:
            raise BadLine(f"{what}: before received_at")

    def _members(self, org) -> set:
        return {org.pk, org.supported_by_id} - {None} if org is not None else set()

    def _contact(self, email: str, org, org_name: str, create: bool) -> Person:
        members = self._members(org)
        for pk, role, org_id in self.people(email):
            if org_id in members and role == "customer":
                return Person(email, pk)
        if (org_name, email.casefold()) in self.new_people:
            return Person(email)
        if not create:
            raise BadLine(f"contact_email: {org_name!r} has no contact {email!r} (give "
                          "\"create\": true to add them as an inactive contact)")
        return self._new_person(email, org_name, "contact_email")

    def _new_person(self, email: str, org_name: str, what: str) -> Person:
        """A contact the import creates; never a second account for an address that is
        already a user's (of another organisation, or of support in another role)."""
        if self.people(email):
            raise BadLine(f"{what}: {email!r} is the address of a user outside "
                          f"{org_name!r}; no second account is made for it")
        self.new_people.add((org_name, email.casefold()))
        return Person(email)

    def _person(self, email: str, org, org_name: str, contact: Person, create: bool,
                what: str) -> Person:
        """The author of a message or the actor of an event: the case's contact, a
        member of support, one of the organisation's people, or (``create``) a new
        inactive contact of the organisation."""
        if email.casefold() == contact.email.casefold():
            return contact
        found = self.people(email)
        for pk, role, _org in found:
            if role != "customer":
                return Person(email, pk, staff=True)
        members = self._members(org)
        for pk, _role, org_id in found:
            if org_id in members:
                return Person(email, pk)
        if (org_name, email.casefold()) in self.new_people:
            return Person(email)
        if not create:
            raise BadLine(f"{what}: no member of support or of {org_name!r} has the address "
                          f"{email!r}")
        return self._new_person(email, org_name, what)

    def _file(self, n: int, raw: dict, tz, received_at: datetime, org_name: str):
        from django.conf import settings

        from slpdesk.desk.services import safe_file_name, storage_used

        what = f"attachments[{n}]"
        if "content" in raw:
            try:
                content = base64.b64decode(raw["content"], validate=True)
            except (binascii.Error, ValueError):
                raise BadLine(f"{what}.content: not base64") from None
            name = raw["name"]
        else:
            path = (self.base / raw["path"]).resolve()
            if not path.is_relative_to(self.base.resolve()):
                raise BadLine(f"{what}.path: {raw['path']!r} lies outside the import's "
                              "directory")
            try:
                content = path.read_bytes()
            except OSError as exc:
                raise BadLine(f"{what}.path: cannot read {raw['path']!r}: "
                              f"{exc.strerror or exc}") from None
            name = raw.get("name") or raw["path"]
        name = safe_file_name(name)
        limit = settings.SLPDESK_MAX_ATTACHMENT_BYTES
        if len(content) > limit:
            raise BadLine(f"{what}: {name} is {len(content)} bytes, more than the limit of "
                          f"{limit}")
        org = self.organisation(org_name)
        if org_name not in self.storage:
            self.storage[org_name] = storage_used(org.pk) if org is not None else 0
        self.storage[org_name] += len(content)
        if self.storage[org_name] > settings.SLPDESK_ORG_STORAGE_BYTES:
            raise BadLine(f"{what}: the files of {org_name!r} would take more than its "
                          f"storage of {settings.SLPDESK_ORG_STORAGE_BYTES} bytes")
        at = self._instant(raw["at"], tz, f"{what}.at") if raw.get("at") else received_at
        self._within(at, received_at, f"{what}.at")
        return name, content, at, bool(raw.get("internal", False))


# ------------------------------------------------------------------ the file
def lines(path: Path) -> Iterator[tuple[int, str | None]]:
    """``(number, text)`` of every line that is not blank (numbered from 1); the text
    is None for a line that is not UTF-8."""
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, 1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                yield number, None
                continue
            if text.strip():
                yield number, text


@dataclass
class Result:
    imported: int = 0
    skipped: int = 0
    to_import: int = 0  # after the check: the cases a run would write
    problems: list[tuple[int, str]] = field(default_factory=list)


def check_file(path: Path, base: Path, now: datetime) -> tuple[Result, set[str]]:
    """Check every line; the problems, the lines to skip (imported before) and the
    external ids to import."""
    from slpdesk.desk.models import Case

    result = Result()
    checker = Checker(now, base)
    ids = []
    for number, text in lines(path):
        if text is None:
            result.problems.append((number, "not UTF-8 text"))
            continue
        try:
            plan = checker.check(number, text)
        except BadLine as exc:
            result.problems.append((number, str(exc)))
        else:
            ids.append(plan.external_id)
    existing = set()
    for k in range(0, len(ids), 1000):
        existing |= set(Case.objects.filter(external_id__in=ids[k:k + 1000])
                        .values_list("external_id", flat=True))
    result.skipped = len(existing)
    result.to_import = len(ids) - len(existing)
    return result, existing


def import_file(path: Path, base: Path, now: datetime, *, dry_run: bool = False,
                progress: Callable[[int], None] | None = None,
                total: Callable[[int], None] | None = None) -> Result:
    """Check every line of ``path`` and, when all are good and not ``dry_run``, write
    the cases not imported before, all in one transaction. ``base``: the directory
    attachment paths are relative to."""
    from django.db import transaction

    result, existing = check_file(path, base, now)
    if result.problems or dry_run:
        return result
    if total is not None:
        total(result.to_import)
    writer = Writer(now)
    checker = Checker(now, base)
    batch: list[Plan] = []
    try:
        with transaction.atomic():
            for number, text in lines(path):
                plan = checker.check(number, text, checked=True)
                if plan.external_id in existing:
                    continue
                batch.append(plan)
                if len(batch) == BATCH:
                    result.imported += writer.write(batch)
                    if progress:
                        progress(len(batch))
                    batch = []
            if batch:
                result.imported += writer.write(batch)
                if progress:
                    progress(len(batch))
    except BaseException:
        writer.remove_files()
        raise
    return result


# ---------------------------------------------------------------- the writer
class Writer:
    """Writes checked lines (:class:`Plan`) in batches, inside the caller's transaction."""

    def __init__(self, now: datetime):
        self.now = now
        self.orgs: dict[str, object] = {}
        self.sites: dict[tuple[str, str], object] = {}
        self.people: dict[tuple[str, str], int] = {}
        self.closed: dict[str, list] = {}
        self.files: list[str] = []  # stored names, removed if the transaction fails

    def remove_files(self) -> None:
        from django.core.files.storage import default_storage

        for name in self.files:
            default_storage.delete(name)
        self.files.clear()

    # ------------------------------------------------------------ who and where
    def _org(self, name: str):
        from slpdesk.desk.models import Organisation

        if name not in self.orgs:
            self.orgs[name] = (Organisation.objects.filter(name=name).first()
                               or Organisation.objects.create(name=name))
        return self.orgs[name]

    def _site(self, plan: Plan):
        from slpdesk.desk.models import Site

        key = (plan.organisation, plan.site)
        if key not in self.sites:
            org = self._org(plan.organisation)
            site = Site.objects.filter(organisation=org, name=plan.site).first()
            if site is None:
                country, zone = plan.create_site
                site = Site.objects.create(organisation=org, name=plan.site, country=country,
                                           time_zone=zone)
            self.sites[key] = site
        return self.sites[key]

    def _user(self, person: Person, org_name: str) -> int:
        """The id of ``person``, creating an inactive contact of the organisation."""
        from slpdesk.desk.models import User

        if person.pk is not None:
            return person.pk
        key = (org_name, person.email.casefold())
        if key not in self.people:
            base = person.email.casefold()[:140]
            username, n = base, 1
            while User.objects.filter(username=username).exists():
                n += 1
                username = f"{base}-{n}"
            user = User(username=username, email=person.email, is_active=False,
                        role=User.Role.CUSTOMER, organisation=self._org(org_name))
            user.set_unusable_password()
            user.save()
            self.people[key] = user.pk
        return self.people[key]

    # ------------------------------------------------------------------ cases
    def write(self, plans: list[Plan]) -> int:
        from django.core.files.base import ContentFile
        from django.db import connections

        from slpdesk.desk import search, services
        from slpdesk.desk.models import Attachment, Case, CaseEvent, Message, SlaNotice
        from slpdesk.worker import schedule

        cases = []
        for plan in plans:
            site = self._site(plan)
            fields = case_fields(plan)
            case = Case(organisation_id=site.organisation_id, site=site,
                        contact_id=self._user(plan.contact, plan.organisation),
                        channel=plan.doc["channel"], title=plan.doc["title"],
                        description=plan.doc.get("description", ""),
                        policy_version=plan.version, calendar=plan.calendar,
                        time_zone=plan.time_zone, received_at=plan.received_at,
                        external_id=plan.external_id, **fields)
            cases.append(case)
        Case.objects.bulk_create(cases)
        connection = connections[Case.objects.db]
        qn = connection.ops.quote_name
        with connection.cursor() as cursor:  # the desk's normal numbering
            cursor.executemany(
                f"UPDATE {qn(Case._meta.db_table)} SET {qn('number')} = %s WHERE id = %s",
                [(f"SLP-{case.pk:06d}", case.pk) for case in cases])
        for case in cases:
            case.number = f"SLP-{case.pk:06d}"

        messages, message_plan = [], []
        for case, plan in zip(cases, plans, strict=True):
            for n, (raw, author) in enumerate(zip(plan.doc.get("messages", []), plan.authors,
                                                  strict=True)):
                messages.append(Message(
                    case_id=case.pk, author_id=self._user(author, plan.organisation),
                    kind=Message.Kind.PUBLIC if raw["public"] else Message.Kind.INTERNAL,
                    body=raw["body"], created_at=_at(raw["at"], plan)))
                message_plan.append((case.pk, n))
        Message.objects.bulk_create(messages, batch_size=2000)
        by_case: dict[int, list] = {}
        for message in messages:
            by_case.setdefault(message.case_id, []).append(message)

        attachments = []
        for case, plan in zip(cases, plans, strict=True):
            for name, content, at, internal in plan.files:
                attachment = Attachment(case=case, name=name, size=len(content),
                                        uploaded_at=at, internal=internal,
                                        uploaded_by_id=None if internal else case.contact_id)
                attachment.file.save(name, ContentFile(content), save=False)
                self.files.append(attachment.file.name)
                attachments.append(attachment)
        Attachment.objects.bulk_create(attachments)

        rows = []
        for case, plan in zip(cases, plans, strict=True):
            rows.extend(event_rows(case, plan, by_case.get(case.pk, []),
                                   [a for a in attachments if a.case_id == case.pk],
                                   self._user))
        CaseEvent.objects.bulk_create(rows, batch_size=5000)

        events = {case.pk: plan.events for case, plan in zip(cases, plans, strict=True)}
        states = services.store_sla(cases, self.now, self.closed, events=events, new=True)
        # History: SLA moments already past are recorded as acted on, never mailed.
        notices, again = [], []
        for case, state in zip(cases, states, strict=True):
            calendar = case.business_calendar(self.closed[case.calendar])
            past = [m for m in schedule.moments(state, calendar,
                                                case.policy().at_risk_fraction)
                    if m.at <= self.now]
            notices.extend(SlaNotice(case_id=case.pk, kind=m.kind, clock=m.clock, due=m.due,
                                     fired_at=self.now) for m in past)
            if past:
                again.append(case)
        if notices:
            SlaNotice.objects.bulk_create(notices)
            services.store_sla(again, self.now, self.closed,
                               events={c.pk: events[c.pk] for c in again})
        search.reindex([case.pk for case in cases])
        return len(cases)


def _at(text: str, plan: Plan) -> datetime:
    from slpdesk.sla.tools import parse_instant

    return parse_instant(text, UTC, "at").astimezone(UTC)


def case_fields(plan: Plan) -> dict:
    """The case's columns that its history decides, as the services would have left
    them after the same changes one by one."""
    status, priority = "new", ""
    information = False
    kind, reference = "incident", ""
    resolution = summary = ""
    entitlement, reason = "entitled", ""
    for raw in plan.doc["events"]:
        type_ = raw["type"]
        active = "open" if priority else "new"
        if type_ == "received":
            proposed = raw["priority"]
        elif type_ == "priority_assigned":
            priority = raw["priority"]
            if status == "new":
                status = "open"
        elif type_ == "info_complete":
            information = True
            if status == "waiting":
                status = active
        elif type_ == "info_requested":
            status = "waiting"
        elif type_ == "customer_replied":
            if status == "waiting":
                status = active
        elif type_ == "classified":
            kind = raw["kind"]
            reference = raw.get("defect_reference", "") if kind != "incident" else ""
        elif type_ == "resolved":
            status, resolution, summary = "resolved", raw["resolution"], raw.get("summary", "")
        elif type_ == "reopened":
            status, resolution, summary = active, "", ""
        elif type_ == "excluded":
            status, entitlement = "closed", "excluded"
            reason = (raw.get("reason") or "")[:40]
    last = max([plan.events[-1].at.astimezone(UTC)]
               + [_at(m["at"], plan) for m in plan.doc.get("messages", [])]
               + [at.astimezone(UTC) for _n, _c, at, _i in plan.files])
    return {"proposed_priority": proposed, "priority": priority, "status": status,
            "information_complete": information, "kind": kind, "defect_reference": reference,
            "resolution": resolution, "resolution_summary": summary,
            "entitlement": entitlement, "exclusion_reason": reason, "updated_at": last}


def event_rows(case, plan: Plan, messages: list, attachments: list, user_id) -> list:
    """The case's :class:`CaseEvent` rows: its events in the desk's vocabulary (with
    the details the desk's own verbs record), each public message tied to the event
    at its instant, and a row per file."""
    from slpdesk.desk.models import CaseEvent

    free = [m for m in messages if m.kind == "public"]
    rows = []
    previous = ""
    for raw, event, actor in zip(plan.doc["events"], plan.events, plan.actors, strict=True):
        type_ = raw["type"]
        data: dict = {}
        actor_id = user_id(actor, plan.organisation) if actor else None
        if type_ == "received":
            data = {"channel": plan.doc["channel"], "external_id": plan.external_id}
            actor_id = case.contact_id
        elif type_ == "priority_assigned":
            data = {"previous": previous}
            previous = raw["priority"]
        elif type_ == "classified":
            data = {"defect_reference": raw.get("defect_reference", "")}
        elif type_ == "resolved":
            data = {"summary": raw.get("summary", "")}
        elif type_ == "reopened":
            data = {"reason": raw.get("reason", "")}
        elif type_ == "excluded":
            data = {"entitlement": "excluded", "reason": raw.get("reason", "")}
        elif type_ in MESSAGE_EVENTS:
            match = next((m for m in free if m.created_at == event.at.astimezone(UTC)), None)
            if match is not None:
                free.remove(match)
                data = {"message": match.pk}
                actor_id = actor_id or match.author_id
        rows.append(CaseEvent(case_id=case.pk, at=event.at.astimezone(UTC), type=type_,
                              priority=event.priority or "", kind=event.kind or "",
                              resolution=event.resolution or "", data=data, actor_id=actor_id))
    for attachment in attachments:
        rows.append(CaseEvent(case_id=case.pk, at=attachment.uploaded_at,
                              type=CaseEvent.Type.ATTACHED, actor_id=attachment.uploaded_by_id,
                              data={"attachment": attachment.pk, "name": attachment.name,
                                    "internal": attachment.internal}))
    rows.sort(key=lambda r: r.at)  # stable: same instant keeps the history's order
    return rows


def default_base(file: str) -> Path:
    """The directory attachment paths are relative to: FILE's, or the current one."""
    return Path(os.getcwd()) if file == "-" else Path(file).resolve().parent
