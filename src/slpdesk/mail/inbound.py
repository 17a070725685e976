"""E-mail in: every message is stored first, then processed once.

``slpdesk mail receive`` (an MTA pipe) and ``slpdesk mail serve`` (an
SMTP/LMTP listener) call :func:`store`, which writes the raw message as an
:class:`InboundMessage` and returns; a second delivery of the same message
(same ``Message-ID``; without one, a hash of its date, sender, recipients,
subject and body) finds the stored row and stores nothing. The worker then
calls :func:`handle_one_inbound`, which claims one waiting row with a lease
and settles it, all through :mod:`slpdesk.desk.services`:

* a token in a recipient address (``support+<token>@…``, see
  :mod:`slpdesk.mail.tokens`) from a participant of its case: a customer
  reply (quoted text below "On … wrote:" and ``>`` lines left out);
* "Escalation Request" (the policy's ``escalation.email_subject``) naming a
  case (the first case number in the subject, else the reply token's case,
  else the first case number in the body), from a contact of the case's
  organisation (or of the partner that supports it): an escalation (X3) when
  the sender is verified or the mail carries that case's token; otherwise
  held, and the contact is mailed a signed, expiring link that confirms it
  in the portal. One naming no case is held, never a new case. E-mail
  escalations are limited per case
  (:func:`slpdesk.desk.services.check_email_escalation`);
* no token, from a known contact: a new case (channel e-mail), marked
  *sender not verified* unless the sender is verified;
* anything else is *held* for an agent with its outcome (unknown sender,
  bad or foreign token, automatic reply, refused by the desk), never
  dropped, never appended to a case.

Identity is the ``From`` address, never ``Reply-To`` or ``Sender``, and it is
*verified* only by what the desk's own MTA wrote in ``Authentication-Results``
(:mod:`slpdesk.mail.auth`, ``SLPDESK_MAIL_TRUSTED_AUTHSERV_IDS``); a message it
marked ``dmarc=fail`` is held.
Broken MIME, unknown charsets, oversized parts and HTML-only mail are
stored and flagged (``flags``); HTML becomes plain text through ``nh3``
(scripts and styles dropped), and no HTML is ever kept to render. A step
that raises pushes its row ahead with a growing delay and, after
:data:`MAX_ATTEMPTS`, marks it failed for an agent; it never crash-loops.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import hashlib
import html as htmllib
import logging
import os
import re
import socket
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import nh3
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from slpdesk.desk import access, services
from slpdesk.desk.models import (
    Case,
    Escalation,
    InboundMessage,
    Outbox,
    PolicyVersion,
    Site,
    User,
)
from slpdesk.desk.services import DeskError

from . import auth
from .outbound import enqueue
from .tokens import make_confirm_token, read_confirm_token, read_token, token_from_address

log = logging.getLogger(__name__)

State = InboundMessage.State
Outcome = InboundMessage.Outcome

#: How long a claim holds a row; a worker that dies releases it when this ends.
LEASE = timedelta(minutes=5)
#: Attempts before a message that keeps raising is marked failed for an agent.
MAX_ATTEMPTS = 5
#: Files taken from one message (the rest are flagged, still in the stored message).
MAX_FILES = 20
#: Parts looked at in one message (a 10,000-part bomb is read this far and flagged).
MAX_PARTS = 500
#: Characters of text kept from a message body.
MAX_TEXT = 100_000
#: How long the link that confirms a held escalation request works.
CONFIRM_MAX_AGE = timedelta(days=3)
#: Recipient headers that may carry a reply token (the MTA adds the last three).
RECIPIENT_HEADERS = ("To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To")
#: A reply token as :func:`slpdesk.mail.tokens.make_token` writes it: case.user.signature.
TOKEN_SHAPE = re.compile(r"\d{1,18}\.\d{1,18}\.[A-Za-z0-9_-]{16,}")
CASE_NUMBER = re.compile(r"(?<![A-Za-z0-9])SLP-(\d{1,12})(?![0-9])", re.IGNORECASE)


def max_message_bytes() -> int:
    """The largest message the desk accepts: room for a file of the largest size the
    desk keeps (base64 grows it by a third), plus the text around it."""
    return 2 * settings.SLPDESK_MAX_ATTACHMENT_BYTES + 1024 * 1024


# ----------------------------------------------------------------- parsing
@dataclass
class Parsed:
    """What processing needs from a message; reading it never raises."""

    sender: str = ""                       # the From address, lower case, or ""
    subject: str = ""
    text: str = ""
    files: list[tuple[str, bytes]] = field(default_factory=list)
    recipients: list[str] = field(default_factory=list)
    automatic: bool = False
    #: What the desk's own MTA says about the sender (:mod:`slpdesk.mail.auth`).
    verdict: auth.Verdict = field(default_factory=lambda: auth.Verdict(False))
    flags: list[str] = field(default_factory=list)

    def flag(self, code: str) -> None:
        if code not in self.flags and len(self.flags) < 50:
            self.flags.append(code)


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _one_line(value: str, limit: int = 255) -> str:
    """A header value as one plain line (no CR, LF or other control characters)."""
    return re.sub(r"\s+", " ", _CONTROL.sub(" ", value or "")).strip()[:limit]


def _header(msg, name: str, parsed: Parsed | None = None) -> list[str]:
    """Every value of header ``name`` as text; a value the parser chokes on is read
    raw and flagged."""
    try:
        return [str(v) for v in (msg.get_all(name) or [])]
    except Exception:  # noqa: BLE001 - a broken header must not stop the message
        if parsed is not None:
            parsed.flag(f"bad_header:{name}")
        return [str(v) for _k, v in msg.raw_items() if _k.lower() == name.lower()]


def _addresses(values: list[str], *, lower: bool = True) -> list[str]:
    """The addresses in header values (lower case unless ``lower`` is false: a reply
    token's signature is case-sensitive)."""
    found = []
    for _name, addr in email.utils.getaddresses([_one_line(v, 5000) for v in values]):
        addr = addr.strip().lower() if lower else addr.strip()
        if "@" in addr and addr not in found:
            found.append(addr)
    return found


def _parse_bytes(raw: bytes):
    return email.message_from_bytes(raw, policy=email.policy.default)


def message_key(raw: bytes, msg=None) -> str:
    """The row's unique key: the ``Message-ID`` as sent, or, for a message without one,
    a hash of what two deliveries of it share (date, sender, recipients, subject,
    body; not the trace headers an MTA adds on the way)."""
    if msg is None:
        try:
            msg = _parse_bytes(raw)
        except Exception:  # noqa: BLE001
            msg = None
    if msg is not None:
        for value in _header(msg, "Message-ID")[:1]:
            found = re.search(r"<[^<>\s]{1,250}>", value)
            if found:
                return found.group(0)
            value = value.strip()
            if value and len(value) <= 250 and not re.search(r"[\s<>]", value):
                return f"<{value}>"
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = raw.partition(b"\n\n")
    digest = hashlib.sha256()
    if msg is not None:
        for name in ("Date", "From", "To", "Cc", "Subject"):
            digest.update(name.encode() + b":" + "|".join(_header(msg, name)).encode(
                "utf-8", "surrogateescape") + b"\n")
    else:
        digest.update(head)
    digest.update(body.replace(b"\r\n", b"\n"))
    return f"<sha256-{digest.hexdigest()}@slpdesk.invalid>"


_BLOCK = re.compile(r"<\s*/?\s*(br|p|div|li|tr|h[1-6]|blockquote|table|pre|hr)\b[^>]*>",
                    re.IGNORECASE)


def html_to_text(html: str) -> str:
    """Plain text from HTML: line breaks for block elements, every tag removed by nh3
    (scripts and styles with their content), entities decoded. The result is text
    to be escaped on output, never HTML to render."""
    marked = _BLOCK.sub("\n", html[: MAX_TEXT * 5])
    cleaned = nh3.clean(marked, tags=set(), attributes={}, strip_comments=True,
                        link_rel=None)
    text = htmllib.unescape(cleaned).replace("\xa0", " ")
    lines = [line.rstrip() for line in text.splitlines()]
    out: list[str] = []
    for line in lines:
        if line.strip() or (out and out[-1]):
            out.append(line.strip() if not line.strip() else line)
    return "\n".join(out).strip()


def _part_text(part, parsed: Parsed) -> str:
    """A text part's content; an unknown charset or bytes that do not fit the declared
    one are decoded as well as can be and flagged."""
    try:
        text = part.get_content()
        if not isinstance(text, str):
            raise TypeError("not text")
    except Exception:  # noqa: BLE001 - LookupError for an unknown charset, and worse
        parsed.flag("bad_charset")
        payload = part.get_payload(decode=True) or b""
        text = payload.decode("utf-8", errors="replace")
    if "\ufffd" in text:
        # Declared UTF-8 (or nothing) but written in a Windows code page, as some
        # mailers do: Windows-1252 decodes every byte.
        payload = part.get_payload(decode=True) or b""
        try:
            payload.decode(part.get_content_charset() or "ascii")
        except (LookupError, UnicodeDecodeError):
            parsed.flag("bad_charset")
            text = payload.decode("cp1252", errors="replace")
    return text


def _is_automatic(msg) -> bool:
    """Out-of-office replies, bounces and list mail (RFC 3834 and what mailers do)."""
    auto = " ".join(_header(msg, "Auto-Submitted")).strip().lower()
    if auto and auto != "no":
        return True
    if _header(msg, "X-Autoreply") or _header(msg, "X-Autorespond"):
        return True
    precedence = " ".join(_header(msg, "Precedence")).strip().lower()
    if precedence in ("bulk", "junk", "list", "auto_reply"):
        return True
    if any(v.strip() == "<>" for v in _header(msg, "Return-Path")):
        return True
    return msg.get_content_type() == "multipart/report"


def parse(raw: bytes) -> Parsed:
    """Read a stored message; whatever is wrong with it is flagged, never raised."""
    parsed = Parsed()
    try:
        msg = _parse_bytes(raw)
    except Exception:  # noqa: BLE001
        parsed.flag("unreadable")
        return parsed
    try:
        _read(msg, parsed)
    except Exception as exc:  # noqa: BLE001 - the loop must go on; the row keeps the bytes
        log.warning("inbound message partly unreadable: %s", exc)
        parsed.flag("unreadable")
    return parsed


def _read(msg, parsed: Parsed) -> None:
    for defect in msg.defects:
        parsed.flag(f"mime:{type(defect).__name__}")
    senders = _addresses(_header(msg, "From", parsed))
    if len(senders) == 1:
        parsed.sender = senders[0]
    else:
        parsed.flag("no_sender" if not senders else "several_senders")
    parsed.subject = _one_line(" ".join(_header(msg, "Subject", parsed)), 998)
    for name in RECIPIENT_HEADERS:
        for addr in _addresses(_header(msg, name, parsed), lower=False):
            if addr not in parsed.recipients:
                parsed.recipients.append(addr)
    parsed.automatic = _is_automatic(msg)
    parsed.verdict = auth.verify(
        _header(msg, "Authentication-Results", parsed), parsed.sender.rpartition("@")[2],
        tuple(getattr(settings, "SLPDESK_MAIL_TRUSTED_AUTHSERV_IDS", ())))

    body = None
    try:
        body = msg.get_body(preferencelist=("plain", "html"))
    except Exception:  # noqa: BLE001
        parsed.flag("no_body")
    if body is not None:
        text = _part_text(body, parsed)
        if body.get_content_subtype() == "html":
            parsed.flag("html_only")
            text = html_to_text(text)
        if len(text) > MAX_TEXT:
            parsed.flag("text_truncated")
            text = text[:MAX_TEXT]
        parsed.text = text.replace("\r\n", "\n").replace("\x00", "").strip()

    limit = settings.SLPDESK_MAX_ATTACHMENT_BYTES
    for count, part in enumerate(msg.walk()):
        if count >= MAX_PARTS:
            parsed.flag("too_many_parts")
            break
        for defect in getattr(part, "defects", ()):
            parsed.flag(f"mime:{type(defect).__name__}")
        if part is body or part.is_multipart():
            continue
        try:
            filename = part.get_filename()
        except Exception:  # noqa: BLE001
            filename = None
            parsed.flag("bad_file_name")
        if part.get_content_disposition() != "attachment" and not filename:
            continue
        if len(parsed.files) >= MAX_FILES:
            parsed.flag("too_many_files")
            continue
        try:
            content = part.get_payload(decode=True)
        except Exception:  # noqa: BLE001
            content = None
        if content is None:
            parsed.flag("unreadable_file")
            continue
        name = _one_line(filename or "", 200) or f"attachment-{len(parsed.files) + 1}.bin"
        if len(content) > limit:
            parsed.flag(f"file_too_large:{name[:100]}")
            continue
        parsed.files.append((name, content))


# ------------------------------------------------------------ quoted text
_ATTRIBUTION = re.compile(
    r"^((On|Den)\s.{1,300}\s(wrote|skrev)\b.{0,200}|.{1,300}\s(wrote|skrev)):$",
    re.IGNORECASE)
_SEPARATOR = re.compile(
    r"^-{2,}\s*(Original Message|Ursprungligt meddelande|Forwarded message|"
    r"Vidarebefordrat meddelande)\s*-{2,}$|^_{20,}$", re.IGNORECASE)
_OUTLOOK_FROM = re.compile(r"^(From|Från):\s", re.IGNORECASE)
_OUTLOOK_NEXT = re.compile(r"^(Sent|Date|Skickat|Datum|To|Till):\s", re.IGNORECASE)


def strip_quoted(text: str) -> str:
    """The new part of a reply: everything above the first quote header ("On … wrote:",
    "Den … skrev:", "-----Original Message-----", an Outlook "From:/Sent:" block),
    without lines quoted with ``>``. When nothing would be left (a customer who
    answered between the quoted lines), the whole text is kept."""
    lines = text.splitlines()
    cut = len(lines)
    for i, line in enumerate(lines):
        s = line.strip()
        following = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if (_SEPARATOR.match(s) or _ATTRIBUTION.match(s)
                or (s.lower().startswith(("on ", "den ")) and not s.endswith(":")
                    and following and _ATTRIBUTION.match(f"{s} {following}"))
                or (_OUTLOOK_FROM.match(s) and _OUTLOOK_NEXT.match(following))):
            cut = i
            break
    kept = [line for line in lines[:cut] if not line.lstrip().startswith(">")]
    result = "\n".join(kept).strip()
    return result or text.strip()


# ------------------------------------------------------------------ storing
def store(raw: bytes, *, now: datetime, envelope_to=()) -> tuple[InboundMessage, bool]:
    """Store one received message durably (committed when this returns); True when it
    is new, False when the same message was stored before (nothing written then).

    ``envelope_to`` are the SMTP recipients; each is put in front of the message as a
    ``Delivered-To`` line, as an MTA's local delivery does, so that a reply token in
    the envelope is found even when the headers do not show it.
    """
    services._check_now(now)
    try:
        msg = _parse_bytes(raw)
    except Exception:  # noqa: BLE001
        msg = None
    key = message_key(raw, msg)
    parsed = parse(raw) if msg is not None else Parsed(flags=["unreadable"])
    trace = b"".join(b"Delivered-To: " + _one_line(str(a), 300).encode("utf-8", "replace")
                     + b"\r\n" for a in envelope_to if _one_line(str(a)))
    for _attempt_no in range(2):
        try:
            with transaction.atomic():
                row = InboundMessage.objects.create(
                    message_id=key, raw=trace + raw, sender=parsed.sender[:255],
                    subject=parsed.subject[:255], flags=parsed.flags, next_attempt_at=now,
                    created_at=now)
            return row, True
        except IntegrityError:
            existing = InboundMessage.objects.filter(message_id=key).first()
            if existing is None:
                raise
            if existing.sender == parsed.sender[:255] or key.startswith("<sha256-"):
                return existing, False
            # Someone else's message already used this Message-ID (a guess, or a
            # squatter hoping to make a real message look like a duplicate): keep
            # this one too, under the hash of its content.
            key = message_key(raw, None if msg is None else _without_message_id(msg))
            parsed.flag("message_id_reused")
    return existing, False


def _without_message_id(msg):
    del msg["Message-ID"]
    return msg


# ------------------------------------------------------------------ claiming
def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _claim(now: datetime, worker: str, pk: int | None = None) -> tuple[InboundMessage, str] | None:
    """Take one due row with a lease: the conditional UPDATE must change exactly one
    row (another worker that got there first makes it change none). On PostgreSQL
    the candidate is picked with ``FOR UPDATE SKIP LOCKED``, so workers do not
    queue on the same row; on SQLite the IMMEDIATE transaction serialises them."""
    claim = f"{worker}:{uuid.uuid4().hex[:12]}"[:100]
    with transaction.atomic():
        due = InboundMessage.objects.due(now)
        if pk is not None:
            due = due.filter(pk=pk)
        candidates = due.order_by("next_attempt_at", "id")
        if connection.features.has_select_for_update_skip_locked:
            candidates = candidates.select_for_update(skip_locked=True)
        ids = list(candidates.values_list("pk", flat=True)[:1])
        if not ids:
            return None
        changed = InboundMessage.objects.due(now).filter(pk=ids[0]).update(
            claimed_until=now + LEASE, claimed_by=claim, attempts=F("attempts") + 1)
        if changed != 1:
            return None
    return InboundMessage.objects.get(pk=ids[0]), claim


class _LostClaim(Exception):
    """The lease ran out and another worker took the row: undo this one's work."""


def _finish(row: InboundMessage, claim: str, now: datetime, state: str, outcome: str, *,
            case: Case | None = None, flags=(), error: str = "") -> None:
    merged = list(row.flags or [])
    for code in flags:
        if code not in merged:
            merged.append(code)
    changed = InboundMessage.objects.filter(pk=row.pk, claimed_by=claim,
                                            state=State.PENDING).update(
        state=state, outcome=outcome, case=case, flags=merged, finished_at=now,
        claimed_until=None, last_error=error[:2000])
    if changed != 1:
        raise _LostClaim(row.pk)


def backoff(attempts: int) -> timedelta:
    """1, 2, 4, 8 … minutes, at most an hour."""
    return timedelta(minutes=min(2 ** max(attempts - 1, 0), 60))


def handle_one_inbound(now: datetime, *, worker: str | None = None,
                       pk: int | None = None) -> bool:
    """Claim one waiting message and settle it (the worker's step). False when there
    was nothing to do. ``pk`` limits it to one message (``mail receive`` processes
    the message it just stored)."""
    services._check_now(now)
    claimed = _claim(now, worker or worker_name(), pk)
    if claimed is None:
        return False
    row, claim = claimed
    try:
        with transaction.atomic():
            _process(row, claim, now)
        outcome, case_id = InboundMessage.objects.filter(pk=row.pk).values_list(
            "outcome", "case_id").get()
        log.info("inbound message %s: %s%s", row.pk, outcome,
                 f" (case id {case_id})" if case_id else "",
                 extra={"inbound": row.pk, "outcome": outcome, "case_id": case_id})
    except _LostClaim:
        log.warning("inbound message %s: the lease ran out, another worker has it", row.pk)
    except Exception as exc:  # noqa: BLE001 - push the row ahead, do not crash-loop
        log.exception("inbound message %s could not be processed", row.pk)
        error = f"{type(exc).__name__}: {exc}"[:2000]
        update = {"claimed_until": None, "claimed_by": "", "last_error": error}
        if row.attempts >= MAX_ATTEMPTS:
            update.update(state=State.FAILED, finished_at=now)
        else:
            update["next_attempt_at"] = now + backoff(row.attempts)
        InboundMessage.objects.filter(pk=row.pk, claimed_by=claim,
                                      state=State.PENDING).update(**update)
    return True


# ---------------------------------------------------------------- processing
class _Held(Exception):
    def __init__(self, outcome: str, error: str = "", case: Case | None = None):
        super().__init__(outcome)
        self.outcome = outcome
        self.error = error
        self.case = case


def _uploads(parsed: Parsed) -> list[SimpleUploadedFile]:
    return [SimpleUploadedFile(name, content, content_type="application/octet-stream")
            for name, content in parsed.files]


def _contacts(address: str):
    """Active customer/partner contacts with this e-mail address."""
    if not address:
        return User.objects.none()
    return User.objects.filter(email__iexact=address, is_active=True,
                               role=User.Role.CUSTOMER, organisation__isnull=False)


def sender_contact(address: str) -> User | None:
    """The one contact with this address, or None (none, or several)."""
    found = list(_contacts(address)[:2])
    return found[0] if len(found) == 1 else None


def _belongs(user: User, case: Case) -> bool:
    """The contact is of the case's organisation, or of the partner that supports it
    (E3): the people who see the case in the portal."""
    return access.is_contact(user) and user.organisation_id in (
        case.organisation_id, case.organisation.supported_by_id)


def _token(parsed: Parsed):
    """The first recipient token: (token text, ReplyToken or None when it is forged)."""
    for addr in parsed.recipients:
        token = token_from_address(addr)
        if token and TOKEN_SHAPE.fullmatch(token):
            return token, read_token(token)
    return None, None


def choose_site(user: User, now: datetime) -> Site | None:
    """The site of a case opened by e-mail: the contact's organisation's sites in
    name order, the first with an agreement active today (its local date); else the
    first one. None when the organisation has no site."""
    sites = list(Site.objects.filter(organisation_id=user.organisation_id)
                 .order_by("name", "pk"))
    for site in sites:
        if site.has_active_agreement(site.local_date(now)):
            return site
    return sites[0] if sites else None


def proposed_priority(subject: str, codes: list[str]) -> str:
    """A priority code the subject names (``[P2] …``), else the lowest priority."""
    for match in re.finditer(r"(?<![A-Za-z0-9])([A-Za-z0-9_-]{1,16})(?![A-Za-z0-9])",
                             subject):
        word = match.group(1).upper()
        if word in codes:
            return word
    return codes[-1]


def _process(row: InboundMessage, claim: str, now: datetime) -> None:
    parsed = parse(bytes(row.raw))
    try:
        outcome, case = _decide(row, parsed, now)
    except _Held as held:
        # Nothing the attempt wrote stays (a savepoint), the row is held for an agent.
        _finish(row, claim, now, State.HELD, held.outcome, case=held.case,
                flags=parsed.flags, error=held.error)
        return
    _finish(row, claim, now, State.DONE, outcome, case=case, flags=parsed.flags)


def _decide(row: InboundMessage, parsed: Parsed, now: datetime) -> tuple[str, Case | None]:
    if "unreadable" in parsed.flags and not parsed.sender:
        raise _Held(Outcome.BROKEN)
    if parsed.automatic:
        raise _Held(Outcome.AUTO_REPLY)
    if parsed.verdict.dmarc_fail:
        parsed.flag("dmarc_fail")
        raise _Held(Outcome.UNKNOWN_SENDER)
    if not parsed.verdict.verified:
        parsed.flag("sender_not_verified")
    if parsed.verdict.detail:
        parsed.flag(f"auth:{parsed.verdict.detail}")
    received = _received_at(row, now)
    policy = PolicyVersion.objects.in_force(received).load()
    token_text, token = _token(parsed)
    if policy.escalation_subject.lower() in parsed.subject.lower():
        return _escalate(row, parsed, token, now)
    if token_text is not None:
        return _reply(parsed, token, now)
    return _new_case(parsed, policy, received)


def _received_at(row: InboundMessage, now: datetime) -> datetime:
    """When a case opened from ``row`` is received: when the message was stored (the
    worker may come to it later), but not before the first policy version (the
    shipped policy is stored on first use, maybe after the message arrived)."""
    at = min(row.created_at, now)
    first = (PolicyVersion.objects.order_by("effective_at")
             .values_list("effective_at", flat=True).first())
    return max(at, first) if first is not None else at


def _attempt(run):
    """Run a service in a savepoint; a refusal becomes a held message."""
    try:
        with transaction.atomic():
            return run()
    except DeskError as err:
        raise _Held(Outcome.REFUSED, str(err)) from None


def _named_case(parsed: Parsed, token) -> Case:
    """The case an escalation request is about: the first case number in the subject,
    else the reply token's case, else the first case number in the body. Raises
    :class:`_Held` when it names none, or one that does not exist."""
    found = CASE_NUMBER.search(parsed.subject)
    if found is None and token is not None:
        return Case.objects.filter(pk=token.case_id).first() or _no_such_case(parsed)
    found = found or CASE_NUMBER.search(parsed.text)
    if found is None:
        parsed.flag("no_case_number")
        raise _Held(Outcome.REFUSED, "the escalation request names no case")
    return (Case.objects.filter(number=f"SLP-{int(found.group(1)):06d}").first()
            or _no_such_case(parsed))


def _no_such_case(parsed: Parsed):
    parsed.flag("no_such_case")
    raise _Held(Outcome.REFUSED, "no such case")


def _escalate(row, parsed, token, now) -> tuple[str, Case]:
    case = _named_case(parsed, token)
    sender = next((u for u in _contacts(parsed.sender).order_by("pk") if _belongs(u, case)),
                  None)
    if sender is None:
        parsed.flag("sender_not_of_organisation")
        raise _Held(Outcome.UNKNOWN_SENDER if not _contacts(parsed.sender).exists()
                    else Outcome.REFUSED, "the sender is not a contact of the case's "
                    "organisation", case=None)
    reason = strip_quoted(parsed.text) or parsed.subject
    try:
        services.check_email_escalation(case, case.policy(), now)
    except DeskError as err:
        raise _Held(Outcome.REFUSED, str(err), case=case) from None
    if not (parsed.verdict.verified or (token is not None and token.case_id == case.pk)):
        _ask_to_confirm(row, parsed, case, sender, reason, now)
        raise _Held(Outcome.UNCONFIRMED, "the sender is not verified: waiting for the "
                    "contact to confirm the escalation", case=case)
    try:
        _attempt(lambda: services.escalate(case, reason, channel=Escalation.Channel.EMAIL,
                                           actor=sender, now=max(now, case.updated_at)))
    except _Held as held:
        held.outcome, held.case = Outcome.REFUSED, case
        raise
    return Outcome.ESCALATION, case


def confirm_link(row: InboundMessage, case: Case, user: User) -> str:
    """The portal page where ``user`` confirms the escalation ``row`` asks for ('' when
    ``SLPDESK_SITE_URL`` is not set)."""
    if not settings.SLPDESK_SITE_URL:
        return ""
    return settings.SLPDESK_SITE_URL + reverse("portal:confirm_escalation", kwargs={
        "number": case.number, "token": make_confirm_token(row.pk, case.pk, user.pk)})


def _ask_to_confirm(row, parsed, case, sender, reason, now) -> None:
    """Mail ``sender`` (at their registered address, so a forgery is noticed) a link that
    confirms the escalation; once per case and contact within the e-mail cooldown."""
    recent = Outbox.objects.filter(
        case=case, recipient=sender, kind=Outbox.Kind.ESCALATION_REQUEST,
        created_at__gt=now - services.EMAIL_ESCALATION_COOLDOWN).exists()
    if recent:
        parsed.flag("confirmation_already_sent")
        return
    enqueue(Outbox.Kind.ESCALATION_REQUEST, to=sender, case=case, now=now, key=str(row.pk),
            context={"reason": reason, "confirm_link": confirm_link(row, case, sender),
                     "expires": now + CONFIRM_MAX_AGE})


def _reply(parsed, token, now) -> tuple[str, Case]:
    case = Case.objects.filter(pk=token.case_id).first() if token else None
    if case is None:
        parsed.flag("forged_token" if token is None else "no_such_case")
        raise _Held(Outcome.BAD_TOKEN, "the reply token is not valid")
    # A participant: the person the token was made for, or another active contact of
    # the case's organisation, writing from their own registered address.
    sender = None
    for user in _contacts(parsed.sender):
        if (user.pk == token.user_id or user.organisation_id == case.organisation_id) \
                and _belongs(user, case):
            sender = user
            break
    if sender is None:
        parsed.flag("sender_not_participant")
        raise _Held(Outcome.BAD_TOKEN, "the sender is not a participant of the case")
    body = strip_quoted(parsed.text)
    if not body and parsed.files:
        body = str(_("(files sent by e-mail)"))
    uploads = _uploads(parsed)

    def run():
        at = max(now, case.updated_at)
        message = services.record_customer_reply(case, body, actor=sender, now=at)
        for upload in uploads:
            services.attach_file(case, upload, actor=sender, now=at, message=message)

    try:
        _attempt(run)
    except _Held as held:
        held.case = case
        raise
    return Outcome.REPLY, case


def _new_case(parsed, policy, received) -> tuple[str, Case]:
    contacts = list(_contacts(parsed.sender)[:2])
    if not contacts:
        raise _Held(Outcome.UNKNOWN_SENDER)
    if len(contacts) > 1:
        parsed.flag("ambiguous_sender")
        raise _Held(Outcome.UNKNOWN_SENDER, "several contacts have this address")
    contact = contacts[0]
    site = choose_site(contact, received)
    if site is None:
        parsed.flag("no_site")
        raise _Held(Outcome.REFUSED, "the contact's organisation has no site")
    priority = proposed_priority(parsed.subject, list(policy.priorities))
    title = parsed.subject[:200] or str(_("(no subject)"))
    case = _attempt(lambda: services.receive_case(
        site, contact=contact, channel=Case.Channel.EMAIL, proposed_priority=priority,
        title=title, description=parsed.text, files=_uploads(parsed), actor=contact,
        now=received, sender_verified=parsed.verdict.verified))
    return Outcome.NEW_CASE, case


# ------------------------------------------------------ agents' actions (console)
def _settle(message: InboundMessage, now: datetime) -> InboundMessage:
    """Lock a held or failed message for an agent's action."""
    services._check_now(now)
    row = InboundMessage.objects.select_for_update().get(pk=message.pk)
    if row.state not in (State.HELD, State.FAILED):
        raise DeskError("settled", _("This e-mail is already dealt with."))
    return row


def _require_agent(actor: User) -> None:
    if not access.can_work(actor):
        raise DeskError("forbidden", _("Only support staff who work cases can do this."))


def _done(row: InboundMessage, outcome: str, actor: User, now: datetime,
          case: Case | None = None) -> None:
    row.state = State.DONE
    row.outcome = outcome
    row.case = case
    row.handled_by = actor
    row.finished_at = now
    row.claimed_until = None
    row.save(update_fields=["state", "outcome", "case", "handled_by", "finished_at",
                            "claimed_until"])


def attach_as_reply(message: InboundMessage, case: Case, contact: User, *, actor: User,
                    now: datetime) -> None:
    """An agent adds a held e-mail to ``case`` as a reply from ``contact`` (one of the
    case's organisation's people), with its files; the clocks follow (K2, K5)."""
    _require_agent(actor)
    with transaction.atomic():
        row = _settle(message, now)
        if not _belongs(contact, case):
            raise DeskError("contact", _("%(name)s is not a contact of %(organisation)s."),
                            name=contact.get_full_name() or contact.username,
                            organisation=case.organisation.name)
        parsed = parse(bytes(row.raw))
        body = strip_quoted(parsed.text) or parsed.subject
        at = max(now, case.updated_at)
        reply = services.record_customer_reply(case, body, actor=contact, now=at)
        for upload in _uploads(parsed):
            services.attach_file(case, upload, actor=contact, now=at, message=reply)
        _done(row, Outcome.REPLY, actor, now, case)


def open_case_for(message: InboundMessage, site: Site, contact: User, priority: str, *,
                  actor: User, now: datetime) -> Case:
    """An agent opens a case from a held e-mail for ``contact`` at ``site``."""
    _require_agent(actor)
    with transaction.atomic():
        row = _settle(message, now)
        parsed = parse(bytes(row.raw))
        case = services.receive_case(
            site, contact=contact, channel=Case.Channel.EMAIL, proposed_priority=priority,
            title=parsed.subject[:200] or str(_("(no subject)")), description=parsed.text,
            files=_uploads(parsed), actor=actor, now=now)
        _done(row, Outcome.NEW_CASE, actor, now, case)
    return case


def dismiss(message: InboundMessage, *, actor: User, now: datetime) -> None:
    """An agent decides a held e-mail needs nothing (spam, an out-of-office reply)."""
    _require_agent(actor)
    with transaction.atomic():
        row = _settle(message, now)
        _done(row, Outcome.DISMISSED, actor, now, row.case)


def retry(message: InboundMessage, *, actor: User, now: datetime) -> None:
    """Process a held or failed e-mail again (after the sender was added as a contact,
    or the fault that made it fail is mended)."""
    _require_agent(actor)
    with transaction.atomic():
        row = _settle(message, now)
        row.state = State.PENDING
        row.outcome = ""
        row.attempts = 0
        row.next_attempt_at = now
        row.claimed_until = None
        row.handled_by = actor
        row.save(update_fields=["state", "outcome", "attempts", "next_attempt_at",
                                "claimed_until", "handled_by"])


def pending_confirmation(token: str, user: User) -> tuple[InboundMessage, Case] | None:
    """The held escalation request and its case that a confirmation link names, when
    the link is ours, not expired, made for ``user``, and the request still waits."""
    found = read_confirm_token(token, max_age=CONFIRM_MAX_AGE)
    if found is None or found.user_id != user.pk:
        return None
    row = (InboundMessage.objects.select_related("case")
           .filter(pk=found.message_id, case_id=found.case_id, state=State.HELD,
                   outcome=Outcome.UNCONFIRMED).first())
    return (row, row.case) if row is not None else None


def confirm_escalation(message: InboundMessage, *, actor: User, now: datetime) -> Escalation:
    """The contact confirms, in the portal, the escalation an unverified e-mail asked for:
    the case is escalated by e-mail (X3, with the e-mail limits) with the mail's text
    as the reason, and the held mail is settled."""
    with transaction.atomic():
        row = _settle(message, now)
        if row.outcome != Outcome.UNCONFIRMED or row.case is None:
            raise DeskError("settled", _("This e-mail is already dealt with."))
        case = row.case
        if not _belongs(actor, case):
            raise DeskError("forbidden", _("You cannot change this case."))
        parsed = parse(bytes(row.raw))
        escalation = services.escalate(case, strip_quoted(parsed.text) or parsed.subject,
                                       channel=Escalation.Channel.EMAIL, actor=actor,
                                       now=max(now, case.updated_at))
        _done(row, Outcome.ESCALATION, actor, now, case)
    return escalation
