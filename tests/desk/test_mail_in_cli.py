"""``slpdesk mail receive`` (an MTA pipe) and ``slpdesk mail serve`` (SMTP and LMTP) as
real processes: a message is stored before the command says so (exit 0, or 250),
a second delivery stores nothing, an unreachable database is a temporary failure
(exit 75, or 451), an oversized message is refused (552), SIGTERM stops the
listener cleanly.

On SQLite each test migrates its own database file in a fresh data directory
and reads it with ``sqlite3``; on PostgreSQL the commands use the test database.
"""

import os
import signal
import smtplib
import socket
import sqlite3
import subprocess
import sys
import time
from email.message import EmailMessage
from urllib.parse import quote

import pytest
from django.db import connection

TIMEOUT = 120


@pytest.fixture
def mail_env(transactional_db, tmp_path) -> dict[str, str]:
    """The environment of an ``slpdesk`` subprocess with a migrated database (on
    PostgreSQL the test database, its rows committed and flushed afterwards)."""
    env = dict(os.environ)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env["SLPDESK_DATA_DIR"] = str(tmp_path / "data")
    env.pop("SLPDESK_DATABASE_URL", None)
    if connection.vendor == "postgresql":
        db = connection.settings_dict
        auth = quote(db["USER"] or "", safe="")
        if db["PASSWORD"]:
            auth += ":" + quote(db["PASSWORD"], safe="")
        env["SLPDESK_DATABASE_URL"] = (f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:"
                                       f"{db['PORT'] or 5432}/{db['NAME']}")
    else:
        done = run(env, "manage", "migrate", "-v0")
        assert done.returncode == 0, done.stderr
    return env


def slpdesk(*args: str) -> list[str]:
    return [sys.executable, "-m", "slpdesk.cli", *args]


def run(env, *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess:
    return subprocess.run(slpdesk(*args), env=env, input=stdin, capture_output=True,
                          timeout=TIMEOUT)


def stored(env) -> list[tuple]:
    """(message_id, state, outcome, sender) of every stored message, oldest first."""
    if connection.vendor == "postgresql":
        from slpdesk.desk.models import InboundMessage

        return list(InboundMessage.objects.order_by("pk").values_list(
            "message_id", "state", "outcome", "sender"))
    with sqlite3.connect(os.path.join(env["SLPDESK_DATA_DIR"], "slpdesk.sqlite3")) as db:
        return db.execute("SELECT message_id, state, outcome, sender FROM "
                          "desk_inboundmessage ORDER BY id").fetchall()


def message(msgid="<m1@customer.example>", frm="stranger@elsewhere.example", body="Hello",
            subject="Help") -> bytes:
    msg = EmailMessage()
    msg["From"] = frm
    msg["To"] = "support@vendor.example"
    msg["Subject"] = subject
    if msgid:
        msg["Message-ID"] = msgid
    msg.set_content(body)
    return msg.as_bytes()


# ---------------------------------------------------------------- receive
def test_receive_stores_a_message_from_standard_input_once(mail_env):
    first = run(mail_env, "mail", "receive", stdin=message())
    assert first.returncode == 0, first.stderr
    assert b"stored as" in first.stdout
    again = run(mail_env, "mail", "receive", stdin=message())
    assert again.returncode == 0, again.stderr
    assert b"already stored" in again.stdout
    rows = stored(mail_env)
    # Processed right after it was stored: an unknown sender is held for an agent.
    assert rows == [("<m1@customer.example>", "held", "unknown_sender",
                     "stranger@elsewhere.example")]


def test_receive_only_stores_when_asked_and_takes_the_envelope_recipient(mail_env):
    done = run(mail_env, "mail", "receive", "--no-process", "--recipient",
               "support+1.2.abc@vendor.example", stdin=message(msgid=None))
    assert done.returncode == 0, done.stderr
    [(key, state, outcome, _sender)] = stored(mail_env)
    assert key.startswith("<sha256-") and (state, outcome) == ("pending", "")


def test_receive_is_a_temporary_failure_when_the_database_is_down(mail_env):
    env = {**mail_env, "SLPDESK_DATABASE_URL": "postgres://postgres@127.0.0.1:1/nowhere"}
    done = run(env, "mail", "receive", stdin=message())
    assert done.returncode == 75
    assert b"try again later" in done.stderr


def test_receive_refuses_an_empty_or_oversized_message(mail_env):
    assert run(mail_env, "mail", "receive", stdin=b"").returncode == 65
    env = {**mail_env, "SLPDESK_MAX_ATTACHMENT_BYTES": "1000"}
    big = message(body="x" * 1200 + "\n" * 2 * 1024 * 1024)
    done = run(env, "mail", "receive", stdin=big)
    assert done.returncode == 65 and b"larger than" in done.stderr
    assert stored(mail_env) == []


# ------------------------------------------------------------------ serve
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def listener(mail_env, tmp_path):
    procs = []

    def start(*extra):
        port = free_port()
        log = tmp_path / f"serve-{port}.log"
        with open(log, "w") as out:
            proc = subprocess.Popen(slpdesk("mail", "serve", "--port", str(port), *extra),
                                    env=mail_env, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL)
        procs.append(proc)
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()
            if "receiving mail on" in log.read_text():
                return proc, port, log
            time.sleep(0.1)
        raise AssertionError("the listener did not start")

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_serve_stores_each_message_before_it_answers_250(mail_env, listener):
    proc, port, log = listener("--max-bytes", "200000")
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        refused = smtp.sendmail("someone@elsewhere.example", ["support@vendor.example"],
                                message())
        assert refused == {}
        # Acknowledged means stored: it is in the database already.
        assert [r[0] for r in stored(mail_env)] == ["<m1@customer.example>"]
        code, text = smtp.noop()
        assert code == 250
        smtp.sendmail("someone@elsewhere.example", ["support@vendor.example"], message())
        with pytest.raises((smtplib.SMTPSenderRefused, smtplib.SMTPDataError)) as too_big:
            smtp.sendmail("someone@elsewhere.example", ["support@vendor.example"],
                          message(msgid="<big@x>", body="y" * 300_000))
        assert too_big.value.smtp_code == 552
    assert len(stored(mail_env)) == 1
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    assert "mail listener stopped" in log.read_text()


def test_serve_speaks_lmtp_and_stores_the_envelope_recipient(mail_env, listener):
    proc, port, _log = listener("--lmtp")
    with smtplib.LMTP("127.0.0.1", port, timeout=30) as lmtp:
        lmtp.sendmail("someone@elsewhere.example", ["support+7.9.xyz@vendor.example"],
                      message(msgid="<lmtp@x>"))
    assert [r[0] for r in stored(mail_env)] == ["<lmtp@x>"]
    if connection.vendor == "postgresql":
        from slpdesk.desk.models import InboundMessage

        raw = bytes(InboundMessage.objects.get().raw)
        assert raw.startswith(b"Delivered-To: support+7.9.xyz@vendor.example\r\n")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0


def test_serve_answers_451_when_it_cannot_store(mail_env, listener, tmp_path):
    if connection.vendor == "postgresql":
        pytest.skip("the database is the shared test database here")
    proc, port, _log = listener()
    db = os.path.join(mail_env["SLPDESK_DATA_DIR"], "slpdesk.sqlite3")
    os.remove(db)  # the database goes away while the listener runs
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp, \
            pytest.raises(smtplib.SMTPDataError) as failed:
        smtp.sendmail("someone@elsewhere.example", ["support@vendor.example"], message())
    assert failed.value.smtp_code == 451
    assert not os.path.exists(db)  # no empty database made in its place
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
