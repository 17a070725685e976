"""``slpdesk mail receive`` as an MTA's pipe (issue 12): every failure that a retry may
cure exits 75 (the MTA keeps the mail and tries again), never 1 or 2 (a bounce to the
customer); one message to several support addresses is one delivery."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from desk.test_mail_in_cli import mail_env, message, run, slpdesk, stored  # noqa: F401

EX_TEMPFAIL = 75


def test_several_recipients_in_one_delivery_are_stored_once(mail_env):  # noqa: F811
    # Postfix's ${recipient} expands to one argument per recipient.
    done = run(mail_env, "mail", "receive", "--no-process", "--recipient",
               "support@vendor.example", "escalations@vendor.example",
               stdin=message(msgid="<two@customer.example>"))
    assert done.returncode == 0, done.stderr
    assert [row[0] for row in stored(mail_env)] == ["<two@customer.example>"]


def test_settings_that_do_not_reach_the_pipe_defer_and_create_nothing(mail_env, tmp_path):  # noqa: F811
    missing = tmp_path / "not-here"
    env = {k: v for k, v in mail_env.items() if k != "SLPDESK_DATABASE_URL"}
    env["SLPDESK_DATA_DIR"] = str(missing)
    done = run(env, "mail", "receive", stdin=message())
    assert done.returncode == EX_TEMPFAIL
    assert b"does not exist" in done.stderr and len(done.stderr.splitlines()) == 1
    assert not missing.exists()


def test_a_wrong_pipe_command_defers_instead_of_bouncing(mail_env):  # noqa: F811
    done = run(mail_env, "mail", "receive", "--recipent", "x@vendor.example",
               stdin=message())
    assert done.returncode == EX_TEMPFAIL
    assert done.stderr.startswith(b"slpdesk: error:")


@pytest.mark.skipif(not shutil.which("setpriv") or os.geteuid() != 0,
                    reason="needs root and setpriv to take away root's file privileges")
def test_a_data_directory_the_pipe_may_not_read_defers(mail_env, tmp_path):  # noqa: F811
    data = tmp_path / "private"
    data.mkdir(mode=0o700)
    os.chown(data, 65534, 65534)  # nobody's; the command runs as root without DAC override
    env = {k: v for k, v in mail_env.items() if k != "SLPDESK_DATABASE_URL"}
    env["SLPDESK_DATA_DIR"] = str(data)
    done = subprocess.run(["setpriv", "--bounding-set=-dac_override,-dac_read_search",
                           *slpdesk("mail", "receive")], env=env, input=message(),
                          capture_output=True, timeout=120)
    assert done.returncode == EX_TEMPFAIL, done.stderr
    assert b"Permission denied" in done.stderr and b"Traceback" not in done.stderr


# ------------------------------------ deploy/postfix/slpdesk-pipe, as Postfix runs it
PIPE = Path(__file__).resolve().parents[2] / "deploy" / "postfix" / "slpdesk-pipe"


def through_the_pipe(settings: dict, *args: str, stdin: bytes) -> subprocess.CompletedProcess:
    """The wrapper with Postfix's pipe(8) environment: nothing but what we name here."""
    env_file = Path(settings.pop("_dir")) / "slpdesk.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
    command = slpdesk()
    # The pipe's argv names one program: a tiny launcher for this interpreter and checkout.
    launcher = env_file.with_name("slpdesk")
    launcher.write_text(f"#!/bin/sh\nexec {command[0]} -m slpdesk.cli \"$@\"\n")
    launcher.chmod(0o755)
    return subprocess.run(["/bin/sh", str(PIPE), *args], input=stdin, capture_output=True,
                          timeout=120, env={"SLPDESK_ENV": str(env_file),
                                            "SLPDESK_BIN": str(launcher)})


def pipe_settings(mail_env, tmp_path) -> dict:  # noqa: F811
    wanted = {k: v for k, v in mail_env.items()
              if k in ("SLPDESK_DATA_DIR", "SLPDESK_DATABASE_URL", "PYTHONPATH")}
    return {"_dir": str(tmp_path), **wanted}


def test_the_pipe_wrapper_gives_the_command_its_settings(mail_env, tmp_path):  # noqa: F811
    done = through_the_pipe(pipe_settings(mail_env, tmp_path), "--recipient",
                            "support@vendor.example", "help@vendor.example",
                            stdin=message(msgid="<piped@customer.example>"))
    assert done.returncode == 0, done.stderr
    assert [row[0] for row in stored(mail_env)] == ["<piped@customer.example>"]


def test_the_pipe_wrapper_defers_when_the_database_cannot_be_reached(mail_env, tmp_path):  # noqa: F811
    settings = pipe_settings(mail_env, tmp_path)
    settings["SLPDESK_DATABASE_URL"] = "postgres://postgres@127.0.0.1:1/nowhere"
    done = through_the_pipe(settings, "--recipient", "support@vendor.example",
                            stdin=message())
    assert done.returncode == EX_TEMPFAIL
    assert stored(mail_env) == []


def test_the_pipe_wrapper_defers_without_its_settings_file(tmp_path):
    done = subprocess.run(["/bin/sh", str(PIPE)], input=message(), capture_output=True,
                          timeout=60, env={"SLPDESK_ENV": str(tmp_path / "missing.env")})
    assert done.returncode == EX_TEMPFAIL and b"cannot read" in done.stderr


def test_the_pipe_wrapper_defers_when_slpdesk_cannot_run(tmp_path):
    env_file = tmp_path / "slpdesk.env"
    env_file.write_text(f"SLPDESK_DATA_DIR={tmp_path}\n")
    done = subprocess.run(["/bin/sh", str(PIPE)], input=message(), capture_output=True,
                          timeout=60, env={"SLPDESK_ENV": str(env_file),
                                           "SLPDESK_BIN": str(tmp_path / "not-installed")})
    assert done.returncode == EX_TEMPFAIL and b"try again later" in done.stderr
