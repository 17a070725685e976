"""How a finished e-mail leaves the machine: SMTP, or a file in the data directory.

Standard library only (``smtplib``, ``ssl``, ``email``) and no Django import,
``SLPDESK_EMAIL_URL`` is parsed at start-up by
:func:`slpdesk.config.parse_email_url` (a bad value stops the process).

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
from email.message import EmailMessage
from pathlib import Path

from slpdesk.config import SmtpServer


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
