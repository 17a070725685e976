"""A real SMTP server on a real socket for the e-mail tests (aiosmtpd), and the tests
of the transport on its own: ``SLPDESK_EMAIL_URL`` parsing and how SMTP replies
are sorted into temporary and permanent failures.

Other test modules use :class:`Smtpd` and the ``smtpd`` fixture from here.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections import Counter
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller

from slpdesk.config import SmtpServer, parse_email_url
from slpdesk.mail.transport import SendError, file_name, send_smtp, write_eml


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Smtpd:
    """An SMTP server on 127.0.0.1 that keeps what it accepts. ``rcpt_reply`` /
    ``data_reply`` (e.g. ``"451 4.3.0 Try later"``) make it refuse; ``delay``
    holds each message that long before answering the DATA (``receiving`` is set
    when one arrives)."""

    def __init__(self):
        self.port = free_port()
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.rcpt_reply: str | None = None
        self.data_reply: str | None = None
        self.delay = 0.0
        self.receiving = threading.Event()
        self._lock = threading.Lock()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    # aiosmtpd's handler hooks
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.receiving.set()
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.data_reply:
            return self.data_reply
        msg = message_from_bytes(envelope.content, policy=email_policy.default)
        with self._lock:
            self.messages.append(msg)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"

    # for the tests
    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    @property
    def server(self) -> SmtpServer:
        return SmtpServer("smtp", "127.0.0.1", self.port, timeout=10)

    def message_ids(self) -> Counter:
        with self._lock:
            return Counter(str(m["Message-ID"]) for m in self.messages)

    def start(self) -> Smtpd:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


def running_smtpd():
    """For a fixture: ``yield from running_smtpd()``."""
    server = Smtpd().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def smtpd():
    yield from running_smtpd()


def sample() -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = "Hello"
    msg["From"] = "support@example.com"
    msg["To"] = "alice@example.com"
    msg["Message-ID"] = "<slpdesk.test.1@example.com>"
    msg.set_content("Hi")
    return msg


# -------------------------------------------------------------- SLPDESK_EMAIL_URL
def test_it_reads_email_urls():
    assert parse_email_url("") is None
    assert parse_email_url("  ") is None
    server = parse_email_url("smtp://mailer%40example.com:p%3Ass@smtp.example.com:587"
                             "?starttls=1&timeout=20")
    assert server == SmtpServer("smtp", "smtp.example.com", 587, "mailer@example.com", "p:ss",
                                starttls=True, timeout=20)
    assert "p:ss" not in repr(server) and "p:ss" not in str(server)
    assert parse_email_url("smtps://u:p@mail.example.com") == SmtpServer(
        "smtps", "mail.example.com", 465, "u", "p")
    assert parse_email_url("SMTP://relay") == SmtpServer("smtp", "relay", 25)
    assert parse_email_url("smtp://relay:2525/?starttls=0").starttls is False


@pytest.mark.parametrize("url, problem", [
    ("http://relay", "unsupported scheme"),
    ("relay.example.com", "unsupported scheme"),
    ("smtp://", "host name"),
    ("smtp://relay:99999", "out of range"),
    ("smtp://relay:abc", "Port could not be cast"),
    ("smtp://relay/path", "path"),
    ("smtp://relay?tls=1", "unknown option 'tls'"),
    ("smtp://relay?starttls=maybe", "not a boolean"),
    ("smtp://relay?starttls=1&starttls=1", "twice"),
    ("smtps://relay?starttls=1", "makes no sense"),
    ("smtp://relay?timeout=0", "between 1 and 120"),
    ("smtp://relay?timeout=soon", "whole number"),
    ("smtp://user@relay", "both a user name and a password"),
    ("smtp://relay\n.example", "white space"),
])
def test_it_refuses_bad_email_urls(url, problem):
    with pytest.raises(ValueError, match=problem):
        parse_email_url(url)


def test_it_reads_mail_addresses(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    from slpdesk.settings import envaddress

    for good in ("help@support.example", "Acme Support <help@support.example>"):
        monkeypatch.setenv("SLPDESK_A", good)
        assert envaddress("SLPDESK_A", "x@y") == good
    monkeypatch.delenv("SLPDESK_A")
    assert envaddress("SLPDESK_A", "support@localhost") == "support@localhost"
    for bad in ("support", "@example.com", "a@b@c", "a@b, c@d", "a b@c",
                "Support <s@x>\r\nBcc: e@f"):
        monkeypatch.setenv("SLPDESK_A", bad)
        with pytest.raises(ImproperlyConfigured, match="is not an e-mail address"):
            envaddress("SLPDESK_A", "x@y")
    monkeypatch.setenv("SLPDESK_A", "Support <s@x.example>")
    with pytest.raises(ImproperlyConfigured):
        envaddress("SLPDESK_A", "x@y", display_name=False)


def test_a_bad_email_url_stops_the_process_at_start_up(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "SLPDESK_DATA_DIR": str(tmp_path), "SLPDESK_EMAIL_URL": "smtp:/x",
           "SLPDESK_DATABASE_URL": ""}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run([sys.executable, "-m", "slpdesk.cli", "worker", "--once"],
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith("slpdesk: error: SLPDESK_EMAIL_URL:"), result.stderr
    env["SLPDESK_EMAIL_URL"] = ""
    env["SLPDESK_EMAIL_FROM"] = "not an address"
    result = subprocess.run([sys.executable, "-m", "slpdesk.cli", "worker", "--once"],
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "SLPDESK_EMAIL_FROM='not an address' is not an e-mail address" in result.stderr
    env["SLPDESK_EMAIL_FROM"] = "support@example.com"
    env["SLPDESK_REPLY_TO"] = "support+x@example.com"
    result = subprocess.run([sys.executable, "-m", "slpdesk.cli", "worker", "--once"],
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "must not contain '+'" in result.stderr


# -------------------------------------------------------------- SMTP conversations
def test_it_hands_a_message_to_an_smtp_server(smtpd):
    send_smtp(smtpd.server, sample(), envelope_from="bounces@example.com",
              recipient="alice@example.com")
    assert smtpd.envelopes == [("bounces@example.com", ["alice@example.com"])]
    assert str(smtpd.messages[0]["Message-ID"]) == "<slpdesk.test.1@example.com>"


@pytest.mark.parametrize("where", ["rcpt", "data"])
def test_4xx_is_temporary_and_5xx_permanent(smtpd, where):
    setattr(smtpd, f"{where}_reply", "451 4.3.0 Mailbox busy, try later")
    with pytest.raises(SendError) as err:
        send_smtp(smtpd.server, sample(), envelope_from="s@example.com",
                  recipient="alice@example.com")
    assert (err.value.permanent, err.value.code) == (False, 451)
    assert "try later" in str(err.value)
    setattr(smtpd, f"{where}_reply", "550 5.1.1 No such user")
    with pytest.raises(SendError) as err:
        send_smtp(smtpd.server, sample(), envelope_from="s@example.com",
                  recipient="alice@example.com")
    assert (err.value.permanent, err.value.code) == (True, 550)
    assert smtpd.messages == []


def test_no_server_is_temporary():
    with pytest.raises(SendError) as err:
        send_smtp(SmtpServer("smtp", "127.0.0.1", free_port(), timeout=2), sample(),
                  envelope_from="s@example.com", recipient="alice@example.com")
    assert err.value.permanent is False
    assert "ConnectionRefusedError" in str(err.value)


def test_a_server_that_does_not_answer_times_out_as_temporary():
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        server = SmtpServer("smtp", "127.0.0.1", silent.getsockname()[1], timeout=1)
        with pytest.raises(SendError) as err:
            send_smtp(server, sample(), envelope_from="s@example.com",
                      recipient="alice@example.com")
    assert err.value.permanent is False


# -------------------------------------------------------------- files (the default)
def test_it_writes_a_message_to_a_file_once_and_atomically(tmp_path):
    path = write_eml(tmp_path / "mail", sample())
    assert path.name == "slpdesk.test.1@example.com.eml"
    assert message_from_bytes(path.read_bytes())["Subject"] == "Hello"
    assert write_eml(tmp_path / "mail", sample()) == path
    assert [p.name for p in (tmp_path / "mail").iterdir()] == [path.name]  # no leftovers
    assert file_name("<../../etc/passwd@x>") == "_.._etc_passwd@x.eml"
