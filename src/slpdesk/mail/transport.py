"""How a finished e-mail leaves the machine: SMTP, or a file in the data directory.

Standard library only (``smtplib``, ``ssl``, ``email``) and no Django import,
so that ``slpdesk.settings`` can parse ``SLPDESK_EMAIL_URL`` with
:func:`parse_email_url` at start-up and fail loudly on a bad value.

``SLPDESK_EMAIL_URL``:

* unset: the embedded default. Nothing is sent; each message is written to
  ``DATA_DIR/mail/<Message-ID>.eml`` (atomically: a temporary file renamed
  into place, so a reader never sees half a message) and the worker prints a
  line on the console.
* ``smtp://[user:password@]host[:port][?starttls=1][&timeout=30]`` - plain
  SMTP (port 25 by default), upgraded with STARTTLS when ``starttls=1``.
* ``smtps://[user:password@]host[:port][?timeout=30]`` - SMTP over TLS from the
  first byte (port 465 by default).

User name and password are percent-decoded (``%40`` for ``@``). TLS always
verifies the server's certificate against the system's trust store.

:func:`send_smtp` sorts failures into temporary (4xx replies, refused
connections, time-outs, a failed log-in: retried later) and permanent (5xx
replies about the message or the recipient: marked failed for an agent).
"""

from __future__ import annotations

import functools
import os
import smtplib
import ssl
import tempfile
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

DEFAULT_PORTS = {"smtp": 25, "smtps": 465}
DEFAULT_TIMEOUT = 30  # seconds for one SMTP conversation step; well inside the worker's lease
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


@dataclass(frozen=True)
class SmtpServer:
    """Where and how to hand mail to an SMTP server (parsed ``SLPDESK_EMAIL_URL``)."""

    scheme: str  # smtp or smtps
    host: str
    port: int
    username: str = ""
    password: str = field(default="", repr=False)  # never in a log line or a traceback
    starttls: bool = False
    timeout: int = DEFAULT_TIMEOUT

    def __str__(self) -> str:  # safe to print: no password
        user = f"{self.username}@" if self.username else ""
        tls = " (STARTTLS)" if self.starttls else ""
        return f"{self.scheme}://{user}{self.host}:{self.port}{tls}"


def parse_email_url(url: str) -> SmtpServer | None:
    """``SLPDESK_EMAIL_URL`` as an :class:`SmtpServer`; None for an empty value (the
    embedded default). Raises ValueError naming what is wrong."""
    url = (url or "").strip()
    if not url:
        return None
    hint = ("use smtp://user:password@host:587?starttls=1 or smtps://user:password@host:465, "
            "or leave it unset to keep mails in the data directory")
    if any(c in url for c in "\r\n\t "):
        raise ValueError(f"must not contain white space ({hint})")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{exc} ({hint})") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ValueError(f"unsupported scheme {parts.scheme!r} ({hint})")
    host = parts.hostname or ""
    if not host:
        raise ValueError(f"give the server's host name ({hint})")
    if parts.path not in ("", "/") or parts.fragment:
        raise ValueError(f"unexpected path or fragment after the host ({hint})")
    if port == 0:
        raise ValueError("port 0 is not a port")
    username = unquote(parts.username or "")
    password = unquote(parts.password or "")
    if bool(username) != bool(password):
        raise ValueError("give both a user name and a password, or neither")
    options: dict[str, str] = {}
    try:
        pairs = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise ValueError(f"cannot read the options {parts.query!r} ({hint})") from None
    for key, value in pairs:
        if key in options:
            raise ValueError(f"option {key!r} is given twice")
        options[key] = value
    unknown = set(options) - {"starttls", "timeout"}
    if unknown:
        raise ValueError(f"unknown option {sorted(unknown)[0]!r} (known: starttls, timeout)")
    starttls = False
    if "starttls" in options:
        value = options["starttls"].lower()
        if value not in _TRUE + _FALSE:
            raise ValueError(f"starttls={options['starttls']!r} is not a boolean (use 1 or 0)")
        starttls = value in _TRUE
        if starttls and scheme == "smtps":
            raise ValueError("starttls=1 makes no sense with smtps:// (TLS from the start)")
    timeout = DEFAULT_TIMEOUT
    if "timeout" in options:
        try:
            timeout = int(options["timeout"])
        except ValueError:
            raise ValueError(f"timeout={options['timeout']!r} is not a whole number of "
                             "seconds") from None
        if not 1 <= timeout <= 120:
            raise ValueError("timeout must be between 1 and 120 seconds")
    return SmtpServer(scheme=scheme, host=host, port=port or DEFAULT_PORTS[scheme],
                      username=username, password=password, starttls=starttls,
                      timeout=timeout)


class SendError(Exception):
    """A message could not be handed over. ``permanent``: the server refused it for
    good (5xx about the message or recipient); otherwise it is worth trying later."""

    def __init__(self, message: str, *, permanent: bool, code: int | None = None):
        super().__init__(message)
        self.permanent = permanent
        self.code = code


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The system's trust store, verifying host names; made once (loading the store
    takes tens of milliseconds)."""
    return ssl.create_default_context()


def _reply_text(reply) -> str:
    if isinstance(reply, bytes):
        return reply.decode("utf-8", "replace")
    return str(reply)


def send_smtp(server: SmtpServer, msg: EmailMessage, *, envelope_from: str,
              recipient: str) -> None:
    """Hand ``msg`` to ``server`` for ``recipient``; raises :class:`SendError`."""
    try:
        if server.scheme == "smtps":
            smtp = smtplib.SMTP_SSL(server.host, server.port, timeout=server.timeout,
                                    context=tls_context())
        else:
            smtp = smtplib.SMTP(server.host, server.port, timeout=server.timeout)
        with smtp:
            if server.starttls:
                smtp.starttls(context=tls_context())
            if server.username:
                smtp.login(server.username, server.password)
            smtp.send_message(msg, from_addr=envelope_from, to_addrs=[recipient])
    except smtplib.SMTPRecipientsRefused as exc:
        code, reply = next(iter(exc.recipients.values()), (None, b""))
        raise SendError(f"{code} {_reply_text(reply)}".strip(),
                        permanent=bool(code and code >= 500), code=code) from None
    except smtplib.SMTPAuthenticationError as exc:
        # The server's settings, not this message: keep the mail and try again later.
        raise SendError(f"log-in refused: {exc.smtp_code} {_reply_text(exc.smtp_error)}",
                        permanent=False, code=exc.smtp_code) from None
    except smtplib.SMTPResponseException as exc:  # sender refused, data refused, ...
        code = exc.smtp_code
        raise SendError(f"{code} {_reply_text(exc.smtp_error)}".strip(),
                        permanent=bool(code and code >= 500), code=code) from None
    except (smtplib.SMTPException, OSError) as exc:  # disconnects, refused, time-outs, TLS
        raise SendError(f"{type(exc).__name__}: {exc}", permanent=False) from None


def file_name(message_id: str) -> str:
    """A file name for a Message-ID: ``<a.b@c>`` → ``a.b@c.eml``, with anything but
    letters, digits and ``.@_-+`` replaced."""
    core = message_id.strip().strip("<>")
    safe = "".join(c if c.isascii() and (c.isalnum() or c in ".@_-+") else "_" for c in core)
    return (safe.lstrip(".") or "message")[:200] + ".eml"


def write_eml(directory: Path, msg: EmailMessage) -> Path:
    """Write ``msg`` to ``directory/<Message-ID>.eml`` atomically; the same message
    written twice leaves one file. Returns the path."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = directory / file_name(str(msg["Message-ID"] or ""))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".eml")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(msg.as_bytes())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
