"""Every ``slpdesk`` command meets a database that is missing, unreachable or not
migrated with one clear line on stderr and a non-zero status (75 where trying again
may help, 78 when there is no such database), never a traceback (issue 12, item 6).

Real subprocesses with their own data directories; the unreachable PostgreSQL is a
closed port on this machine, the missing one a database name that does not exist.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

TIMEOUT = 120
POLICY = str(Path(__file__).resolve().parents[1] / "src/slpdesk/sla/policies/connect.toml")
PERIOD = ["--from", "2026-07-01", "--to", "2026-07-31"]

COMMANDS = {
    "report": ["report", *PERIOD],
    "policy simulate": ["policy", "simulate", POLICY, *PERIOD],
    "policy publish": ["policy", "publish", POLICY, "--effective", "2030-01-01"],
    "policy diff": ["policy", "diff", POLICY],
    "worker": ["worker", "--once"],
    "mail serve": ["mail", "serve", "--port", "0"],
    "sla audit": ["sla", "audit"],
}
MIGRATING = {  # these create the database: only an unreachable server stops them
    "serve": ["serve", "--port", "0"],
    "demo": ["demo", "--no-serve"],
}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "slpdesk.cli", *args], env=env,
                          capture_output=True, text=True, timeout=TIMEOUT,
                          stdin=subprocess.DEVNULL)


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("DJANGO_SETTINGS_MODULE", "SLPDESK_DATABASE_URL", "SLPDESK_EMAIL_URL"):
        env.pop(name, None)
    env["SLPDESK_DATA_DIR"] = str(tmp_path / "data")
    return env


def assert_one_line(done: subprocess.CompletedProcess, status: int, *words: str) -> None:
    assert done.returncode == status, done.stderr
    assert "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("slpdesk: error: "), line
    for word in words:
        assert word in line, line
    assert done.stdout == ""


def test_it_prints_its_version():
    done = subprocess.run([sys.executable, "-m", "slpdesk.cli", "--version"],
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0
    from importlib.metadata import version

    assert done.stdout.strip() == f"slpdesk {version('slpdesk')}"


@pytest.mark.parametrize("name", COMMANDS)
def test_a_missing_sqlite_database_is_one_line_and_78_and_is_not_created(env, name):
    done = run(env, *COMMANDS[name])
    db = Path(env["SLPDESK_DATA_DIR"]) / "slpdesk.sqlite3"
    assert_one_line(done, 78, f"the database file {db} does not exist",
                    "slpdesk manage migrate")
    assert not db.exists()


@pytest.mark.parametrize("name", ["report", "worker"])
def test_a_database_not_migrated_is_one_line_and_75(env, name):
    data = Path(env["SLPDESK_DATA_DIR"])
    data.mkdir()
    sqlite3.connect(data / "slpdesk.sqlite3").execute("CREATE TABLE t (x)").connection.close()
    done = run(env, *COMMANDS[name])
    assert_one_line(done, 75, "the database is not migrated (", "migrations pending)")


@pytest.mark.parametrize("name", [*COMMANDS, *MIGRATING])
def test_an_unreachable_postgresql_is_one_line_and_75(env, name):
    if name in ("worker", "mail serve"):
        pytest.skip("waits for the database to come back (tested in test_worker)")
    env["SLPDESK_DATABASE_URL"] = f"postgres://slpdesk@127.0.0.1:{closed_port()}/slpdesk"
    done = run(env, *{**COMMANDS, **MIGRATING}[name])
    assert_one_line(done, 75, "the database is unavailable (", "Connection refused",
                    "try again later")


def test_a_postgresql_database_that_does_not_exist_is_one_line_and_78(env):
    probe = socket.socket()
    try:
        probe.connect(("127.0.0.1", 5432))
    except OSError:
        pytest.skip("no PostgreSQL server on 127.0.0.1:5432")
    finally:
        probe.close()
    env["SLPDESK_DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/slpdesk_no_such_db"
    done = run(env, *COMMANDS["report"])
    assert_one_line(done, 78, "the database does not exist", "slpdesk_no_such_db")
