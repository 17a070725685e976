"""``slpdesk mail serve``: an SMTP or LMTP listener for an MTA to hand mail to.

Built on aiosmtpd. Each message is stored (:func:`slpdesk.mail.inbound.store`,
committed) before the listener answers 250, so nothing it acknowledged can be
lost; when the database cannot be reached it answers 451 (the MTA keeps the
message and tries again). A message over the size limit gets 552. SIGTERM or
SIGINT stops accepting connections, lets the messages being stored finish
(up to :data:`DRAIN_SECONDS`), and exits.

The listener accepts mail for any recipient and never relays: it only stores.
Run it on 127.0.0.1 (the default) or a private address behind the MTA that
does spam and sender checks.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
from concurrent.futures import ThreadPoolExecutor

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP
from django.db import DatabaseError, close_old_connections
from django.utils import timezone

from slpdesk import dbstate

from . import inbound

log = logging.getLogger(__name__)

#: Recipients one message may have (the MTA splits larger envelopes).
MAX_RECIPIENTS = 100
#: Seconds SIGTERM waits for messages being stored.
DRAIN_SECONDS = 20


def _store(raw: bytes, recipients: list[str]) -> tuple[int, bool]:
    """Store in a worker thread with its own database connection (Django's ORM is
    synchronous); a connection the database dropped is replaced first."""
    close_old_connections()
    missing = dbstate.missing()  # never an empty SQLite database in its place
    if missing is not None:
        raise missing
    try:
        row, created = inbound.store(raw, now=timezone.now(), envelope_to=recipients)
        return row.pk, created
    finally:
        close_old_connections()


class Handler:
    """aiosmtpd's hooks: check the recipient count, store the message on DATA."""

    def __init__(self, executor: ThreadPoolExecutor, *, lmtp: bool):
        self.executor = executor
        self.lmtp = lmtp
        self.busy = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return "452 4.5.3 Too many recipients"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        self.busy += 1
        try:
            loop = asyncio.get_running_loop()
            raw = envelope.original_content or b""
            try:
                pk, created = await loop.run_in_executor(
                    self.executor, _store, raw, list(envelope.rcpt_tos))
            except (DatabaseError, dbstate.Unavailable) as exc:
                log.error("mail not stored, database unavailable: %s", exc)
                status = "451 4.3.0 Temporary failure, please try again later"
            except Exception:  # noqa: BLE001 - answer, keep serving; the MTA retries
                log.exception("mail not stored")
                status = "451 4.3.0 Temporary failure, please try again later"
            else:
                status = (f"250 2.0.0 OK stored as {pk}" if created
                          else f"250 2.0.0 OK already stored as {pk}")
                log.info("mail from %s stored as %s%s", session.peer[0], pk,
                         "" if created else " (already)",
                         extra={"inbound": pk, "outcome": "stored" if created else "already"})
        finally:
            self.busy -= 1
        if self.lmtp:  # LMTP answers once per recipient (RFC 2033)
            return "\r\n".join([status] * max(len(envelope.rcpt_tos), 1))
        return status


async def run(host: str, port: int, *, lmtp: bool = False, max_bytes: int | None = None,
              ready=None) -> None:
    """Listen until SIGTERM/SIGINT. ``ready(host, port)`` is called once listening."""
    loop = asyncio.get_running_loop()
    executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="slpdesk-mail")
    handler = Handler(executor, lmtp=lmtp)
    limit = max_bytes or inbound.max_message_bytes()
    protocol = LMTP if lmtp else SMTP
    hostname = socket.gethostname()

    def factory():
        return protocol(handler, data_size_limit=limit, enable_SMTPUTF8=True,
                        hostname=hostname, ident="slpdesk")

    server = await loop.create_server(factory, host=host, port=port)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    bound = server.sockets[0].getsockname()
    if ready is not None:
        ready(bound[0], bound[1])
    try:
        await stop.wait()
    finally:
        server.close()
        await server.wait_closed()
        waited = 0.0
        while handler.busy and waited < DRAIN_SECONDS:
            await asyncio.sleep(0.1)
            waited += 0.1
        executor.shutdown(wait=True)


def serve(host: str, port: int, *, lmtp: bool = False, max_bytes: int | None = None) -> None:
    """Run the listener in this process until it is told to stop."""

    def ready(bound_host, bound_port):
        scheme = "lmtp" if lmtp else "smtp"
        print(f"slpdesk: receiving mail on {scheme}://{bound_host}:{bound_port}/ "
              "(SIGTERM or Ctrl-C to stop)", flush=True)

    asyncio.run(run(host, port, lmtp=lmtp, max_bytes=max_bytes, ready=ready))
    print("slpdesk: mail listener stopped", flush=True)
