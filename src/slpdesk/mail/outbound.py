"""Outgoing e-mail: render it in the recipient's language, put it in the outbox in
the same transaction as the change that causes it, and deliver it (the worker).

Writing a mail
--------------
::

    enqueue(kind, *, to, case=None, context, now, key, urgent=False, template=None)
        -> Outbox | None

* ``kind`` - an :class:`Outbox.Kind` value (``case_received``, ``program_update``…).
* ``to`` - the recipient :class:`User`. Nobody inactive or without an e-mail
  address is ever written to: ``enqueue`` then records nothing and returns None.
* ``case`` - the case the mail is about, if any: the Reply-To then carries a
  signed token for (case, recipient) (:mod:`slpdesk.mail.tokens`) and the mail
  threads with the case's other mails (``References``).
* ``context`` - what the templates need besides what every mail gets:
  ``recipient``, ``name`` (how to greet them), ``case``, ``zone`` (the
  recipient's time zone: their own, else the case's for a customer, else UTC),
  ``customer_zone`` (the case's), ``lang``, ``site_url``, ``link`` (the case in
  the portal or the console, when ``SLPDESK_SITE_URL`` is set), ``vendor``.
* ``key`` - what makes this mail unique for its kind, case and recipient,
  usually the id of the event that causes it (``str(event.pk)``). With it the
  Message-ID is deterministic, ``<slpdesk.{kind}.{case id or 0}.{key}.{user id}@{domain}>``,
  so calling ``enqueue`` twice for the same thing writes one row, and a retry
  after a crash can never become a second, different mail.
* ``urgent`` - sent ahead of all other waiting mail (urgent program updates).
* ``template`` - the template name when it is not ``kind`` (one kind, several
  wordings: ``escalation_raised``, ``escalation_acknowledged``…).

Call it inside the transaction of the change (the services do), so a change
that rolls back leaves no mail, and a committed change has its mail.

Templates
---------
``mail/{template}.txt`` (plain text) and ``mail/{template}.html`` (HTML, the
alternative part), rendered with ``translation.override(language)`` and
``timezone.override(zone)``. Both extend ``mail/base.txt`` / ``mail/base.html``
and fill ``{% block subject %}`` and ``{% block body %}``: the first line of the
rendered text is the subject (whitespace folded, at most 200 characters, never
a line break: no header injection), the rest is the body. Write the English
text inside ``{% translate %}``/``{% blocktranslate %}``; Swedish comes from
the catalogue.

Delivering
----------
:func:`deliver` builds the MIME message from the stored row (text plus HTML as
``multipart/alternative``; headers ``Message-ID``, ``Date`` (when written),
``Reply-To``, ``Content-Language``, ``Auto-Submitted: auto-generated``) and
hands it to the SMTP server of ``SLPDESK_EMAIL_URL``, or with that unset writes
it to ``DATA_DIR/mail/`` and says so on the console.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path

from django.conf import settings
from django.db import connections, router
from django.db.models.constants import OnConflict
from django.db.models.sql import InsertQuery
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from slpdesk.desk import access
from slpdesk.desk.models import Case, Outbox, PolicyVersion, User
from slpdesk.sla import CalendarError, get_zone

from .tokens import reply_address
from .transport import SendError, send_smtp, write_eml

SUBJECT_MAX = 200
#: Retry delays after a temporary failure: 1 min, 2, 4, … doubling up to 1 hour.
BACKOFF_FIRST = timedelta(minutes=1)
BACKOFF_MAX = timedelta(hours=1)
#: A mail still not delivered this long after it was written is given up (failed).
GIVE_UP_AFTER = timedelta(days=2)


# ------------------------------------------------------------------ who, how
def deliverable(user: User | None) -> bool:
    """Active, with an e-mail address: the only people the desk writes to."""
    return bool(user is not None and user.is_active and (user.email or "").strip()
                and "\n" not in user.email and "\r" not in user.email)


def language_of(user: User) -> str:
    codes = {code for code, _ in settings.LANGUAGES}
    return user.language if user.language in codes else settings.LANGUAGE_CODE


def zone_of(user: User, case: Case | None) -> str:
    """The recipient's own zone; for a customer without one, the case's (the site's);
    else the server's (UTC)."""
    candidates = [user.time_zone]
    if case is not None and not user.is_support_staff():
        candidates.append(case.time_zone)
    return first_zone(*candidates, settings.TIME_ZONE)


def first_zone(*candidates: str) -> str:
    """The first of ``candidates`` that is an IANA zone; UTC when none is."""
    for zone in candidates:
        if zone:
            try:
                get_zone(zone)
            except CalendarError:
                continue
            return zone
    return "UTC"


def display_name(user: User) -> str:
    return one_line(user.get_full_name() or user.username)


def one_line(text: str) -> str:
    """``text`` with every run of white space (line breaks included) as one space."""
    return " ".join(str(text).split())


def message_domain() -> str:
    return parseaddr(settings.SLPDESK_EMAIL_FROM)[1].rpartition("@")[2] or "localhost"


def _token(value) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", str(value))[:60] or "0"


def message_id(kind: str, case: Case | None, key: str, user: User) -> str:
    """``<slpdesk.{kind}.{case}.{key}.{recipient}@{domain}>``: the same inputs, the same id."""
    case_part = case.pk if case is not None else 0
    return (f"<slpdesk.{_token(kind)}.{case_part}.{_token(key)}.{user.pk}"
            f"@{message_domain()}>")


def case_link(case: Case, user: User) -> str:
    """The case in the portal (customers) or the console (staff), if the site's
    address is known."""
    if not settings.SLPDESK_SITE_URL:
        return ""
    name = "console:case" if access.is_staff(user) else "portal:case"
    return settings.SLPDESK_SITE_URL + reverse(name, kwargs={"number": case.number})


# ------------------------------------------------------------------ rendering
@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def _tidy_text(text: str) -> str:
    lines = [line.rstrip() if line != "-- " else line for line in text.split("\n")]
    text = "\n".join(lines).strip("\n")
    return re.sub(r"\n{3,}", "\n\n", text) + "\n"


def render(template: str, context: dict, *, language: str, zone: str) -> Rendered:
    """The subject, text and HTML of ``mail/{template}`` in ``language``, times in ``zone``."""
    with translation.override(language), timezone.override(get_zone(zone)):
        ctx = {**context, "lang": language, "zone": zone}
        text = render_to_string(f"mail/{template}.txt", ctx)
        first, _, body = text.lstrip().partition("\n")
        subject = one_line(first)[:SUBJECT_MAX]
        if not subject:
            raise ValueError(f"mail/{template}.txt renders no subject line")
        html = render_to_string(f"mail/{template}.html", {**ctx, "subject": subject})
    return Rendered(subject, _tidy_text(body), html.strip() + "\n")


def base_context(to: User, case: Case | None, now: datetime) -> dict:
    ctx = {
        "recipient": to,
        "name": display_name(to),
        "case": case,
        "site_url": settings.SLPDESK_SITE_URL,
        "link": case_link(case, to) if case is not None else "",
        "is_staff": access.is_staff(to),
    }
    if case is not None:
        ctx["title"] = one_line(case.title)  # for subject lines: never a line break
        ctx["customer_zone"] = case.time_zone
        ctx["vendor"] = case.policy().vendor
    else:
        ctx["vendor"] = PolicyVersion.objects.in_force(now).load().vendor
    return ctx


# ------------------------------------------------------------------ enqueue
def enqueue(kind: str, *, to: User, case: Case | None = None, context: dict | None = None,
            now: datetime, key: str, urgent: bool = False, template: str | None = None
            ) -> Outbox | None:
    """Render a mail for ``to`` and write it to the outbox (see the module's docstring).
    Returns the row, or None when nothing was written (recipient cannot be mailed,
    or this mail was written before)."""
    if kind not in Outbox.Kind.values:
        raise ValueError(f"unknown mail kind {kind!r}")
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    if not deliverable(to):
        return None
    mid = message_id(kind, case, key, to)
    language = language_of(to)
    zone = zone_of(to, case)
    rendered = render(template or kind, {**base_context(to, case, now), **(context or {})},
                      language=language, zone=zone)
    reply_to = (reply_address(settings.SLPDESK_REPLY_TO, case.pk, to.pk)
                if case is not None else settings.SLPDESK_REPLY_TO)
    row = Outbox(message_id=mid, kind=kind, case=case, recipient=to,
                 to_address=to.email.strip(), reply_to=reply_to, language=language,
                 subject=rendered.subject, body_text=rendered.text, body_html=rendered.html,
                 urgent=urgent, next_attempt_at=now, created_at=now)
    return row if insert_once(row) else None


def insert_once(row: Outbox) -> bool:
    """INSERT ``row`` unless its Message-ID is written already (then nothing: once is
    enough), in one statement, ``ON CONFLICT DO NOTHING RETURNING id`` (PostgreSQL,
    SQLite 3.35+): no savepoint around it, so no extra round trip, and a lost race
    cannot spoil the caller's transaction. Sets ``row.pk``; False when not written."""
    fields = [f for f in Outbox._meta.local_concrete_fields if not f.primary_key]
    query = InsertQuery(Outbox, on_conflict=OnConflict.IGNORE)
    query.insert_values(fields, [row])
    connection = connections[router.db_for_write(Outbox)]
    compiler = query.get_compiler(connection=connection)
    compiler.returning_fields = [Outbox._meta.pk]
    ((sql, params),) = compiler.as_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        got = cursor.fetchone()
    if got is None:
        return False
    row.pk = got[0]
    row._state.adding = False
    row._state.db = connection.alias
    return True


# ------------------------------------------------------------------ delivery
def _address(text: str, name: str = "") -> Address:
    shown, addr = parseaddr(text)
    local, _, domain = addr.rpartition("@")
    return Address(display_name=one_line(name or shown), username=local, domain=domain)


def build_message(row: Outbox) -> EmailMessage:
    """The MIME message of an outbox row, the same bytes for every attempt."""
    msg = EmailMessage()
    msg["Subject"] = one_line(row.subject)
    msg["From"] = _address(settings.SLPDESK_EMAIL_FROM)
    name = display_name(row.recipient) if row.recipient is not None else ""
    msg["To"] = _address(row.to_address, name)
    msg["Reply-To"] = _address(row.reply_to or settings.SLPDESK_EMAIL_FROM)
    msg["Date"] = format_datetime(row.created_at.astimezone(get_zone("UTC")))
    msg["Message-ID"] = row.message_id
    if row.case_id:
        thread = f"<slpdesk.case.{row.case_id}@{message_domain()}>"
        msg["References"] = thread
        msg["In-Reply-To"] = thread
    # RFC 3834: no vacation replies or other robots answering this mail.
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    msg.set_content(row.body_text)
    if row.body_html:
        msg.add_alternative(row.body_html, subtype="html")
    # After the parts: making the message multipart moves Content-* headers into them.
    msg["Content-Language"] = row.language
    return msg


def reason_not_to_send(row: Outbox) -> str:
    """Why a mail written earlier must not go out now (the recipient was deactivated,
    or can no longer see the case), or ''."""
    user = row.recipient
    if user is None:
        return "the recipient no longer exists"
    if not deliverable(user):
        return "the recipient is inactive or has no e-mail address"
    if row.case_id and not access.can_see(user, row.case_id):
        return "the recipient can no longer see the case"
    return ""


def deliver(row: Outbox) -> str:
    """Send ``row`` (SMTP, or a file in the data directory when ``SLPDESK_EMAIL_URL`` is
    unset). Returns where it went; raises :class:`SendError`."""
    msg = build_message(row)
    server = settings.SLPDESK_EMAIL
    if server is None:
        try:
            path = write_eml(Path(settings.SLPDESK_MAIL_DIR), msg)
        except OSError as exc:
            raise SendError(f"cannot write to {settings.SLPDESK_MAIL_DIR}: {exc}",
                            permanent=False) from None
        return str(path)
    send_smtp(server, msg, envelope_from=parseaddr(settings.SLPDESK_EMAIL_FROM)[1],
              recipient=row.to_address)
    return str(server)


def backoff(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed attempt (1, 2, 3…)."""
    return min(BACKOFF_FIRST * 2 ** max(attempts - 1, 0), BACKOFF_MAX) if attempts < 20 \
        else BACKOFF_MAX
