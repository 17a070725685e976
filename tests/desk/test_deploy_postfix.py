"""Mail in through a real Postfix (issue 12, item 9): a private Postfix instance (its own
configuration and queue in a temporary directory, SMTP on a free port; the system's
Postfix and port 25 are never touched) hands support mail to the documented pipe
(``deploy/postfix/slpdesk-pipe`` as an unprivileged pipe user) and to the LMTP
listener (``slpdesk mail serve --lmtp``).

Postfix never runs a pipe as root, so the pipe user (nobody) runs slpdesk with the
system's Python 3.11 and this checkout's packages (the suite's own interpreter may sit
in a directory only root can enter); the tests of the pipe are skipped where that is
not possible.
"""

import os
import re
import shutil
import smtplib
import sqlite3
import subprocess
import sys
import sysconfig
import tempfile
from email.message import EmailMessage
from pathlib import Path

import pytest
from django.db import connection

from desk.test_commands import TIMEOUT, free_port, slpdesk
from desk.test_mail_in_cli import mail_env, stored  # noqa: F401
from desk.test_serve import wait_for

ROOT = Path(__file__).resolve().parents[2]
POSTFIX = shutil.which("postfix") or ("/usr/sbin/postfix"
                                      if os.path.exists("/usr/sbin/postfix") else None)
if POSTFIX is None and os.environ.get("CI") == "true":
    pytest.fail("Postfix is required in CI (.ci/run installs it)", pytrace=False)
pytestmark = pytest.mark.skipif(POSTFIX is None or os.geteuid() != 0,
                                reason="needs Debian's postfix and root")
NOBODY = 65534
DOMAIN = "support.example.com"


def world_readable(path: Path) -> bool:
    """Can any user reach ``path`` (o+x on every folder above it, o+r on it)?"""
    path = path.resolve()
    return all(p.stat().st_mode & 0o001 for p in path.parents) and bool(
        path.stat().st_mode & 0o004)


SITE_PACKAGES = Path(sysconfig.get_paths()["purelib"])
SYSTEM_PYTHON = Path(f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}")
PIPE_POSSIBLE = (SYSTEM_PYTHON.exists() and world_readable(SITE_PACKAGES)
                 and world_readable(ROOT / "src"))


class Postfix:
    """A private Postfix: ``start()``, ``send()``, ``outcome()``, ``stop()``."""

    def __init__(self, folder: Path, transport: str, *, pipe_argv: str = ""):
        self.dir, self.port = folder, free_port()
        for sub in ("conf", "queue", "data"):
            (folder / sub).mkdir()
        shutil.chown(folder / "data", "postfix")
        master = [f"127.0.0.1:{self.port} inet n - n - - smtpd"] + [
            f"{name} unix {private} - n {wakeup} {limit} {command}"
            for name, private, wakeup, limit, command in [
                ("pickup", "n", "60", "1", "pickup"), ("cleanup", "n", "-", "0", "cleanup"),
                ("qmgr", "n", "300", "1", "qmgr"), ("rewrite", "-", "-", "-", "trivial-rewrite"),
                ("bounce", "-", "-", "0", "bounce"), ("defer", "-", "-", "0", "bounce"),
                ("trace", "-", "-", "0", "bounce"), ("verify", "-", "-", "1", "verify"),
                ("flush", "n", "1000?", "0", "flush"), ("proxymap", "-", "-", "-", "proxymap"),
                ("smtp", "-", "-", "-", "smtp"), ("relay", "-", "-", "-", "smtp"),
                ("showq", "n", "-", "-", "showq"), ("error", "-", "-", "-", "error"),
                ("retry", "-", "-", "-", "error"), ("discard", "-", "-", "-", "discard"),
                ("lmtp", "-", "-", "-", "lmtp"), ("anvil", "-", "-", "1", "anvil"),
                ("scache", "-", "-", "1", "scache")]]
        master.append("postlog unix-dgram n - n - 1 postlogd")
        if pipe_argv:  # deploy/postfix/master.cf's entry, with this test's wrapper
            master.append(f"slpdesk unix - n n - 2 pipe\n  flags=Rq user=nobody "
                          f"argv={pipe_argv} --recipient ${{recipient}}")
        (folder / "conf" / "master.cf").write_text("\n".join(master) + "\n")
        (folder / "conf" / "main.cf").write_text(f"""
compatibility_level = 3.6
queue_directory = {folder / 'queue'}
data_directory = {folder / 'data'}
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.test.example
mydestination =
relay_domains = {DOMAIN}
transport_maps = inline:{{ {DOMAIN}={transport} }}
slpdesk_destination_recipient_limit = 10
mynetworks = 127.0.0.0/8
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
alias_maps =
alias_database =
maillog_file = {folder / 'maillog'}
maillog_file_prefixes = {folder}
syslog_name = postfix-slpdesk-test
""")
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([POSTFIX, "-c", str(self.dir / "conf"), "start-fg"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)

        def answers():
            try:
                smtplib.SMTP("127.0.0.1", self.port, timeout=5).quit()
                return True
            except OSError:
                return False

        wait_for(answers, "Postfix")

    def send(self, recipients, msgid: str) -> str:
        msg = EmailMessage()
        msg["From"] = "customer@elsewhere.example"
        msg["To"] = ", ".join(recipients)
        msg["Subject"] = "Help"
        msg["Message-ID"] = msgid
        msg.set_content("The post processor stops.")
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as smtp:
            smtp.ehlo("client.example")
            smtp.mail("customer@elsewhere.example")
            for rcpt in recipients:
                assert smtp.rcpt(rcpt)[0] == 250
            code, said = smtp.data(msg.as_bytes())
        assert code == 250, said
        return re.search(rb"queued as (\w+)", said).group(1).decode()

    def outcome(self, queue_id: str) -> list[str]:
        """The delivery statuses Postfix logged for ``queue_id``, once it has."""
        log = self.dir / "maillog"
        found: list[str] = []

        def logged():
            text = log.read_text() if log.exists() else ""
            found[:] = re.findall(rf"{queue_id}: to=<[^>]+>.* status=(\w+)", text)
            return bool(found)

        wait_for(logged, f"Postfix to deliver {queue_id}")
        return found

    def log(self) -> str:
        return (self.dir / "maillog").read_text()

    def stop(self):
        subprocess.run([POSTFIX, "-c", str(self.dir / "conf"), "stop"],
                       capture_output=True, timeout=TIMEOUT)
        if self.proc is not None:
            try:
                self.proc.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def folder():
    """A temporary folder Postfix's own user may enter (pytest's are root's only)."""
    path = Path(tempfile.mkdtemp(prefix="slpdesk-postfix-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def listener(mail_env):  # noqa: F811
    procs = []

    def start(env):
        port = free_port()
        proc = subprocess.Popen(slpdesk("mail", "serve", "--lmtp", "--port", str(port)),
                                env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        procs.append(proc)

        def up():
            try:
                smtplib.LMTP("127.0.0.1", port, timeout=5).quit()
                return True
            except OSError:
                return False

        wait_for(up, "the LMTP listener")
        return port

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(TIMEOUT)


def test_postfix_hands_mail_to_the_lmtp_listener(mail_env, listener, folder):  # noqa: F811
    port = listener(mail_env)
    postfix = Postfix(folder, f"lmtp:inet:127.0.0.1:{port}")
    postfix.start()
    try:
        queue_id = postfix.send([f"help@{DOMAIN}", f"escalations@{DOMAIN}"], "<lmtp@c.example>")
        assert postfix.outcome(queue_id) == ["sent", "sent"], postfix.log()
    finally:
        postfix.stop()
    assert [row[0] for row in stored(mail_env)] == ["<lmtp@c.example>"]


def test_postfix_defers_when_the_listener_cannot_store(mail_env, listener, folder):  # noqa: F811
    port = listener({**mail_env,
                     "SLPDESK_DATABASE_URL": "postgres://postgres@127.0.0.1:1/nowhere"})
    postfix = Postfix(folder, f"lmtp:inet:127.0.0.1:{port}")
    postfix.start()
    try:
        queue_id = postfix.send([f"help@{DOMAIN}"], "<deferred@c.example>")
        assert postfix.outcome(queue_id) == ["deferred"], postfix.log()
    finally:
        postfix.stop()
    assert "status=bounced" not in postfix.log()


# --------------------------------------------------------------------- the pipe
def pipe_setup(folder: Path, settings: dict) -> str:
    """The wrapper, a settings file and a launcher the pipe user (nobody) can run."""
    bin_dir = folder / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "slpdesk-pipe"
    shutil.copy(ROOT / "deploy" / "postfix" / "slpdesk-pipe", wrapper)
    launcher = bin_dir / "slpdesk"
    launcher.write_text(f"#!/bin/sh\nPYTHONPATH={ROOT / 'src'}:{SITE_PACKAGES} "
                        f"exec {SYSTEM_PYTHON} -m slpdesk.cli \"$@\"\n")
    env_file = folder / "slpdesk.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
    for path in (wrapper, launcher):
        path.chmod(0o755)
    env_file.chmod(0o644)
    # The wrapper finds its settings file where the test put it.
    text = wrapper.read_text().replace("/etc/slpdesk/slpdesk.env", str(env_file))
    wrapper.write_text(text.replace("/opt/slpdesk/venv/bin/slpdesk", str(launcher)))
    return str(wrapper)


def nobodys_data_dir(mail_env, folder: Path) -> dict:  # noqa: F811
    """Settings for the pipe: a data directory owned by the pipe user (on SQLite with the
    migrated database), and on PostgreSQL the test database."""
    data = folder / "data-dir"
    if connection.vendor == "sqlite":
        shutil.copytree(mail_env["SLPDESK_DATA_DIR"], data)
    else:
        data.mkdir()
    for path in [data, *data.rglob("*")]:
        os.chown(path, NOBODY, NOBODY)
    settings = {"SLPDESK_DATA_DIR": str(data)}
    if mail_env.get("SLPDESK_DATABASE_URL"):
        settings["SLPDESK_DATABASE_URL"] = mail_env["SLPDESK_DATABASE_URL"]
    return settings


def stored_by_pipe(settings) -> list[str]:
    if connection.vendor == "postgresql":
        from slpdesk.desk.models import InboundMessage

        return list(InboundMessage.objects.values_list("message_id", flat=True))
    with sqlite3.connect(Path(settings["SLPDESK_DATA_DIR"]) / "slpdesk.sqlite3") as db:
        return [row[0] for row in db.execute("SELECT message_id FROM desk_inboundmessage")]


needs_pipe = pytest.mark.skipif(not PIPE_POSSIBLE, reason="the pipe user cannot run this "
                                "checkout (no system Python 3.11, or a private checkout)")


@needs_pipe
def test_the_pipe_gets_its_settings_and_several_recipients_in_one_delivery(mail_env, folder):  # noqa: F811
    settings = nobodys_data_dir(mail_env, folder)
    postfix = Postfix(folder, "slpdesk:", pipe_argv=pipe_setup(folder, settings))
    postfix.start()
    try:
        queue_id = postfix.send([f"help@{DOMAIN}", f"escalations@{DOMAIN}"], "<pipe@c.example>")
        assert postfix.outcome(queue_id) == ["sent", "sent"], postfix.log()
    finally:
        postfix.stop()
    assert stored_by_pipe(settings) == ["<pipe@c.example>"]
    assert "status=bounced" not in postfix.log()


@needs_pipe
@pytest.mark.parametrize("fault", ["database", "permissions"])
def test_the_pipe_defers_and_never_bounces(mail_env, folder, fault):  # noqa: F811
    settings = nobodys_data_dir(mail_env, folder)
    if fault == "database":
        settings["SLPDESK_DATABASE_URL"] = "postgres://postgres@127.0.0.1:1/nowhere"
    else:  # a data directory the pipe user may not read
        settings.pop("SLPDESK_DATABASE_URL", None)
        private = folder / "private"
        private.mkdir(mode=0o700)
        settings["SLPDESK_DATA_DIR"] = str(private)
    postfix = Postfix(folder, "slpdesk:", pipe_argv=pipe_setup(folder, settings))
    postfix.start()
    try:
        queue_id = postfix.send([f"help@{DOMAIN}"], f"<{fault}@c.example>")
        assert postfix.outcome(queue_id) == ["deferred"], postfix.log()
    finally:
        postfix.stop()
    assert "status=bounced" not in postfix.log()
    # Postfix logs what the command said: the reason, in one line.
    reason = {"database": "cannot be stored now", "permissions": "Permission denied"}[fault]
    assert reason in postfix.log(), postfix.log()
