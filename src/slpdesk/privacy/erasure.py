"""Erasure of a person's personal data that keeps the SLA record (GDPR art. 17).

:func:`erase` turns the person's account into an opaque tombstone (same primary
key, so every case, message, event and escalation still points to it: the SLA
record, the reports and ``slpdesk sla audit`` do not change) and removes what
identifies them everywhere the desk keeps it:

* the account: name, address, phone, preferences, password (unusable), active
  flag, sessions, two-factor devices, API tokens, log-in records (django-axes);
* texts: their name, user name, address and phone in any message, case title,
  description, resolution summary, event detail, escalation reason, file name,
  mail and admin log entry become :data:`MARKER`; with ``redact=True`` the texts
  they wrote themselves (their messages, the description of cases they opened,
  their escalation reasons) become :data:`MARKER` whole;
* their files (database row kept as :data:`MARKER`, the file deleted from storage),
  mail waiting for them (dropped), mail sent to them (address and text removed,
  the ``.eml`` copy deleted), mail received from them (the raw message removed);
* the search documents of every case touched are rewritten.

Nothing SLA-related is written: no case event, no ``updated_at``, no SLA column.
The erasure itself is recorded (:class:`~slpdesk.privacy.models.Erasure`: who,
when, why, the mode, counts) without the erased data. On SQLite the transaction
runs with ``PRAGMA secure_delete`` (freed space is zeroed), the full-text index is
merged (``optimize``: no stale terms) and the WAL checkpointed, so the erased text
is not left in the database file; ``slpdesk privacy erase`` also runs ``VACUUM``
(:func:`vacuum_sqlite`), for space freed before ``secure_delete`` was on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from django.apps import apps as django_apps
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from slpdesk.desk import search
from slpdesk.desk.models import (
    ERASED_MARKER,
    Attachment,
    Case,
    CaseEvent,
    Escalation,
    InboundMessage,
    Message,
    Organisation,
    Outbox,
    User,
)
from slpdesk.desk.services import DeskError
from slpdesk.mail.transport import file_name

from .models import Erasure

log = logging.getLogger("slpdesk.privacy")

#: What replaces erased personal data in stored texts (shown translated on pages).
MARKER = ERASED_MARKER
#: Event details that hold free text (by event type).
EVENT_TEXTS = {"resolved": ("summary",), "reopened": ("reason",), "excluded": ("note",),
               "classified": ("defect_reference",), "attached": ("name",)}


# --------------------------------------------------------------- identifiers
def _word(term: str) -> str:
    parts = [re.escape(p) for p in term.split()]
    return r"(?<!\w)" + r"\s+".join(parts) + r"(?!\w)"


def _phone(phone: str) -> str | None:
    digits = re.sub(r"\D", "", phone or "")
    if len(digits) < 6:
        return None
    return r"(?<!\d)\+?" + r"[\s().\-/]*".join(digits) + r"(?!\d)"


class Identifiers:
    """How a person is named in text: ``everywhere`` (full name, e-mail address,
    phone: replaced in any text of the desk) and ``own`` (also the user name and the
    first and last name alone: replaced in the person's own cases and messages,
    where they can only mean them; elsewhere a user name such as "support" or a
    first name would take words that are not theirs)."""

    def __init__(self, user: User):
        first, last = (user.first_name or "").strip(), (user.last_name or "").strip()
        full = " ".join(p for p in (first, last) if p)
        email, phone = (user.email or "").strip(), (user.phone or "").strip()
        #: The texts a database pre-filter looks for (``contains``).
        self.terms = [t for t in dict.fromkeys([email, full, phone]) if len(t) >= 3]
        wide = [_word(t) for t in sorted([email, full], key=len, reverse=True) if len(t) >= 3]
        if _phone(phone):
            wide.append(_phone(phone))
        near = wide + [_word(t) for t in sorted({(user.username or "").strip(), first, last},
                                                 key=len, reverse=True) if len(t) >= 2]
        self.everywhere = re.compile("|".join(wide), re.IGNORECASE) if wide else None
        self.own = re.compile("|".join(near), re.IGNORECASE) if near else None

    def contains(self, *fields: str) -> Q:
        """Rows whose ``fields`` may name the person (a pre-filter for the database)."""
        q = Q(pk__in=[])
        for field in fields:
            for term in self.terms:
                q |= Q(**{f"{field}__icontains": term})
        return q


def scrub(text: str, pattern: re.Pattern | None) -> str:
    """``text`` with every match of ``pattern`` replaced by :data:`MARKER`."""
    if not text or pattern is None:
        return text
    return pattern.sub(MARKER, text)


# ------------------------------------------------------------------ the work
class Scrubber:
    """The rewriting shared by an erasure and retention: each method rewrites rows
    in place (queryset updates: no signal, no ``updated_at``, no SLA column) and
    remembers the cases touched, the files and mail copies to delete after commit."""

    def __init__(self, now: datetime):
        self.now = now
        self.cases: set[int] = set()
        self.files: list[str] = []
        self.eml: list[str] = []
        self.counts: dict[str, int] = {}

    def count(self, what: str, n: int = 1) -> None:
        if n:
            self.counts[what] = self.counts.get(what, 0) + n

    def messages(self, qs, text_for) -> None:
        """``text_for(row) -> new body``, for each message of ``qs``."""
        for pk, case_id, author_id, body in qs.values_list("pk", "case_id", "author_id",
                                                          "body"):
            new = text_for(case_id, author_id, body)
            if new != body:
                Message.objects.filter(pk=pk).update(body=new)
                self.cases.add(case_id)
                self.count("messages")

    def case_texts(self, qs, texts_for) -> None:
        fields = ("title", "description", "system_details", "resolution_summary")
        for row in qs.values("pk", *fields):
            new = texts_for(row)
            changed = {f: v for f, v in new.items() if v != row[f]}
            if changed:
                Case.objects.filter(pk=row["pk"]).update(**changed)
                self.cases.add(row["pk"])
                self.count("cases")

    def events(self, case_ids: Iterable[int], text_for) -> None:
        """Free-text details of the events of ``case_ids``: ``text_for(event, key,
        text)``. Times, types, priorities, kinds and actors stay."""
        qs = CaseEvent.objects.filter(case_id__in=list(case_ids),
                                      type__in=list(EVENT_TEXTS)).values_list(
            "pk", "case_id", "type", "actor_id", "data")
        for pk, case_id, type_, actor_id, data in qs:
            data = dict(data or {})
            changed = False
            for key in EVENT_TEXTS[type_]:
                text = data.get(key)
                if isinstance(text, str) and text:
                    new = text_for(case_id, actor_id, data, key, text)
                    if new != text:
                        data[key], changed = new, True
            if changed:
                CaseEvent.objects.filter(pk=pk).update(data=data)
                self.cases.add(case_id)

    def escalations(self, qs, text_for) -> None:
        for pk, case_id, by, reason in qs.values_list("pk", "case_id", "raised_by_id",
                                                      "reason"):
            new = text_for(case_id, by, reason)
            if new != reason:
                Escalation.objects.filter(pk=pk).update(reason=new)
                self.cases.add(case_id)

    def delete_files(self, qs) -> set[int]:
        """Delete the files of ``qs`` (after commit); their rows stay, named
        :data:`MARKER`, without file or size. Returns their ids."""
        ids = set()
        for pk, case_id, name in qs.exclude(file="").values_list("pk", "case_id", "file"):
            self.files.append(name)
            ids.add(pk)
            self.cases.add(case_id)
        if ids:
            Attachment.objects.filter(pk__in=ids).update(name=MARKER, file="", size=0)
        self.count("files", len(ids))
        return ids

    def file_names(self, qs, pattern) -> None:
        for pk, case_id, name in qs.values_list("pk", "case_id", "name"):
            new = scrub(name, pattern)
            if new != name:
                Attachment.objects.filter(pk=pk).update(name=new)
                self.cases.add(case_id)

    def mail_sent(self, qs, *, to_person: bool, pattern) -> None:
        """Outgoing mail: waiting mail to the person is dropped; mail already sent
        (or failed) to them loses its address and text; other mail loses the
        person's identifiers. The ``.eml`` copy of a rewritten mail is deleted."""
        for row in qs.values("pk", "state", "message_id", "subject", "body_text",
                             "body_html", "last_error"):
            if to_person and row["state"] == Outbox.State.PENDING:
                Outbox.objects.filter(pk=row["pk"]).delete()
                self.eml.append(row["message_id"])
                self.count("mail_dropped")
                continue
            if to_person:
                new = {"to_address": "", "reply_to": "", "subject": scrub(row["subject"], pattern),
                       "body_text": MARKER, "body_html": "",
                       "last_error": scrub(row["last_error"], pattern)}
            else:
                new = {f: scrub(row[f], pattern)
                       for f in ("subject", "body_text", "body_html", "last_error")}
                if all(new[f] == row[f] for f in new):
                    continue
            Outbox.objects.filter(pk=row["pk"]).update(**new)
            self.eml.append(row["message_id"])
            self.count("mail_scrubbed")

    def mail_received(self, qs, pattern) -> None:
        """Received mail: the raw message and sender go; a message not yet processed
        is settled as dismissed (there is nothing left to process)."""
        for pk, state, subject, error, message_id in qs.values_list(
                "pk", "state", "subject", "last_error", "message_id"):
            # The Message-ID names the sender's domain: only its digest stays.
            digest = hashlib.sha256(message_id.encode()).hexdigest()
            new = {"raw": b"", "sender": "", "subject": scrub(subject, pattern),
                   "last_error": scrub(error, pattern), "message_id": f"<{digest}@erased>"}
            if state == InboundMessage.State.PENDING or state == InboundMessage.State.HELD:
                new.update(state=InboundMessage.State.DONE,
                           outcome=InboundMessage.Outcome.DISMISSED, finished_at=self.now)
            InboundMessage.objects.filter(pk=pk).update(**new)
            self.count("mail_received_scrubbed")

    def finish(self) -> None:
        """Rewrite the search documents of the cases touched; after commit, delete the
        files and mail copies (a rollback keeps them)."""
        if self.cases:
            search.reindex(sorted(self.cases))
        files, eml = list(self.files), list(self.eml)
        transaction.on_commit(lambda: _delete_after_commit(files, eml))


def _delete_after_commit(files: list[str], eml: list[str]) -> None:
    for name in files:
        try:
            default_storage.delete(name)
            folder = Path(default_storage.path(name)).parent
            folder.rmdir()  # the file's random folder, when empty
        except OSError as exc:
            log.warning("could not delete an erased file: %s", type(exc).__name__)
    mail_dir = Path(settings.SLPDESK_MAIL_DIR)
    for message_id in eml:
        (mail_dir / file_name(message_id)).unlink(missing_ok=True)


def secure_sqlite() -> None:
    """SQLite: zero what a change frees (``secure_delete``; the desk's connections
    have it on already, :func:`slpdesk.settings.sqlite_database`)."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA secure_delete = ON")


def compact_sqlite() -> None:
    """SQLite, after commit: merge the full-text index (drops the terms of old
    documents) and checkpoint the WAL into the database file, truncating it. Not
    inside a caller's transaction (it runs after that commits)."""
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        return
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO desk_casesearch_fts(desk_casesearch_fts) "
                       "VALUES ('optimize')")
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def vacuum_sqlite() -> None:
    """SQLite: rewrite the whole file (``VACUUM``), so nothing freed before
    ``secure_delete`` was on (an older database) is left in it; then truncate the WAL."""
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        cursor.execute("VACUUM")
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def opaque_reference() -> str:
    return f"erased-{secrets.token_hex(6)}"


def _find_sessions(user_pk: int, now: datetime) -> list[str]:
    from django.contrib.sessions.models import Session

    found = []
    for session in Session.objects.filter(expire_date__gt=now).iterator():
        if str(session.get_decoded().get("_auth_user_id", "")) == str(user_pk):
            found.append(session.session_key)
    return found


# ------------------------------------------------------------------- erase
def erase(user: User, *, now: datetime, actor: User | None = None, by_label: str = "",
          reason: str = "", redact: bool = True) -> Erasure:
    """Erase ``user``'s personal data (see the module's text). ``redact``: the texts
    they wrote become :data:`MARKER` whole; else only their identifiers in them."""
    if actor is not None and actor.pk == user.pk:
        raise DeskError("self", _("You cannot erase your own account."))
    secure_sqlite()
    with transaction.atomic():
        record = _erase(user, now=now, actor=actor, by_label=by_label, reason=reason,
                        redact=redact)
    compact_sqlite()
    log.info("personal data erased: %s (%s)", record.subject_ref, record.mode)
    return record


def _erase(user, *, now, actor, by_label, reason, redact) -> Erasure:
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.erased_at is not None:
        raise DeskError("erased", _("This person's data was already erased."))
    ids = Identifiers(user)
    wide, near = ids.everywhere, ids.own
    work = Scrubber(now)
    own = set(Case.objects.filter(contact=user).values_list("pk", flat=True))
    opened = set(CaseEvent.objects.filter(case_id__in=own, type="received", actor=user)
                 .values_list("case_id", flat=True))
    me = user.pk

    def close(case_id) -> re.Pattern | None:
        return near if case_id in own else wide

    # Messages: theirs, those on their cases, and any that names them.
    work.messages(
        Message.objects.filter(Q(author=user) | Q(case_id__in=own) | ids.contains("body")),
        lambda case_id, author, body: MARKER if redact and author == me
        else scrub(body, near if author == me else close(case_id)))

    # Cases: theirs, and any whose texts name them.
    def case_texts(row):
        pattern = close(row["pk"])
        out = {f: scrub(row[f], pattern) for f in row if f != "pk"}
        if redact and row["pk"] in opened:
            for f in ("description", "system_details"):
                if row[f]:
                    out[f] = MARKER
        return out

    work.case_texts(Case.objects.filter(
        Q(pk__in=own) | ids.contains("title", "description", "system_details",
                                     "resolution_summary")), case_texts)

    # Escalations they raised or on their cases.
    work.escalations(
        Escalation.objects.filter(Q(raised_by=user) | Q(case_id__in=own)
                                  | ids.contains("reason")),
        lambda case_id, by, reason_: MARKER if redact and by == me
        else scrub(reason_, near if by == me else close(case_id)))

    # Their files go; the names of others' files on their cases lose their identifiers.
    gone = work.delete_files(Attachment.objects.filter(uploaded_by=user))
    work.file_names(Attachment.objects.filter(case_id__in=own).exclude(pk__in=gone), near)

    # Event details of every case touched so far.
    def event_text(case_id, actor_id, data, key, text):
        if key == "name" and data.get("attachment") in gone:
            return MARKER
        if redact and actor_id == me and key == "reason":
            return MARKER
        return scrub(text, near if actor_id == me else close(case_id))

    work.events(own | work.cases, event_text)

    # Mail out: to them, and mail of their cases or naming them.
    to_them = Q(recipient=user)
    if user.email:
        to_them |= Q(to_address__iexact=user.email)
    work.mail_sent(Outbox.objects.filter(to_them), to_person=True, pattern=near)
    others = Outbox.objects.exclude(to_them)
    work.mail_sent(others.filter(case_id__in=own), to_person=False, pattern=near)
    work.mail_sent(others.exclude(case_id__in=own).filter(ids.contains("subject", "body_text")),
                   to_person=False, pattern=wide)

    # Mail in: from them, or on their cases.
    received = Q(case_id__in=own)
    if user.email:
        received |= Q(sender__iexact=user.email)
    work.mail_received(InboundMessage.objects.filter(received), near)
    for pk, subject in InboundMessage.objects.exclude(received).filter(
            ids.contains("subject")).values_list("pk", "subject"):
        InboundMessage.objects.filter(pk=pk).update(subject=scrub(subject, wide))

    scrub_webhook_payloads(work, Q(case_id__in=own | work.cases) | ids.contains("body"),
                           close)
    _account(user, ids, work, now)
    ref = opaque_reference()
    User.objects.filter(pk=me).update(
        username=ref, first_name="", last_name="", email="", phone="", language="",
        time_zone="", password=make_password(None), is_active=False, is_staff=False,
        is_superuser=False, last_login=None, erased_at=now)
    user.groups.clear()
    user.user_permissions.clear()
    work.cases |= own  # their cases' documents named them (the contact)
    work.finish()
    return Erasure.objects.create(
        subject_ref=ref, subject_id=me, at=now, by=actor, by_label=by_label[:100],
        reason=scrub((reason or "").strip(), near),
        mode=Erasure.Mode.REDACT if redact else Erasure.Mode.KEEP, counts=work.counts)


def _account(user: User, ids: Identifiers, work: Scrubber, now: datetime) -> None:
    """What hangs off the account: log-in records, sessions, devices, tokens, the
    admin's log, the designated-contact link."""
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog
    from django.contrib.admin.models import LogEntry
    from django.contrib.contenttypes.models import ContentType
    from django.contrib.sessions.models import Session
    from django_otp.plugins.otp_static.models import StaticDevice
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from slpdesk.api.models import ApiToken, IdempotencyKey
    from slpdesk.desk.models import CasePresence, FormSubmission, SavedView

    names = Q(pk__in=[])
    for name in {user.username, user.email} - {""}:
        names |= Q(username__iexact=name)
    for model in (AccessLog, AccessAttempt, AccessFailureLog):
        work.count("log_ins", model.objects.filter(names).delete()[0])
    work.count("sessions", Session.objects.filter(
        session_key__in=_find_sessions(user.pk, now)).delete()[0])
    for model in (TOTPDevice, StaticDevice):
        work.count("devices", model.objects.filter(user=user).delete()[0])
    work.count("api_tokens", ApiToken.objects.filter(user=user).delete()[0])
    IdempotencyKey.objects.filter(user=user).delete()
    FormSubmission.objects.filter(user=user).delete()
    # The queue's presence marks, and their own views (a shared view stays for the team).
    CasePresence.objects.filter(user=user).delete()
    SavedView.objects.filter(owner=user, shared=False).delete()
    Organisation.objects.filter(technical_contact=user).update(technical_contact=None)
    user_type = ContentType.objects.get_for_model(User)
    for pk, ct, object_id, text, message in LogEntry.objects.filter(
            Q(content_type=user_type, object_id=str(user.pk))
            | ids.contains("object_repr", "change_message")).values_list(
            "pk", "content_type_id", "object_id", "object_repr", "change_message"):
        repr_ = MARKER if (ct, object_id) == (user_type.pk, str(user.pk)) \
            else scrub(text, ids.everywhere)
        LogEntry.objects.filter(pk=pk).update(
            object_repr=repr_, change_message=scrub(message, ids.everywhere))


def _scrub_json(value, pattern):
    if isinstance(value, str):
        return scrub(value, pattern)
    if isinstance(value, list):
        return [_scrub_json(v, pattern) for v in value]
    if isinstance(value, dict):
        return {k: _scrub_json(v, pattern) for k, v in value.items()}
    return value


def scrub_webhook_payloads(work: Scrubber, where: Q, pattern_for) -> None:
    """Webhook deliveries (when the webhooks app is installed, issue 15) that ``where``
    picks: the strings of their JSON payloads scrubbed with ``pattern_for(case_id)``
    (the JSON is parsed, so escaped text is found too)."""
    try:
        delivery = django_apps.get_model("webhooks", "Delivery")
    except LookupError:
        return
    for pk, case_id, body in delivery.objects.filter(where).values_list("pk", "case_id",
                                                                      "body"):
        try:
            doc = json.loads(body)
        except ValueError:
            continue
        new = json.dumps(_scrub_json(doc, pattern_for(case_id)), ensure_ascii=False)
        if new != body:
            delivery.objects.filter(pk=pk).update(body=new)
            work.count("webhook_deliveries")


def find_person(*, username: str = "", email: str = "") -> User:
    """The one account named by ``username`` or ``email``; DeskError otherwise."""
    if username:
        user = User.objects.filter(username=username).first()
        if user is None:
            raise DeskError("not_found", _("There is no account %(name)s."), name=username)
        return user
    found = list(User.objects.filter(email__iexact=email.strip())[:2]) if email.strip() else []
    if not found:
        raise DeskError("not_found", _("No account has the address %(email)s."),
                           email=email)
    if len(found) > 1:
        raise DeskError("ambiguous", _("More than one account has the address "
                                          "%(email)s: name the account by its user name."),
                           email=email)
    return found[0]
