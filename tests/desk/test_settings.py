"""The settings helpers: strict environment variables, the secret key file, databases."""

import os
import stat
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from slpdesk.settings import (
    database_from_url,
    envaddress,
    envbool,
    envint,
    envstr,
    secret_key_from,
    sqlite_database,
)


def test_it_reads_booleans(monkeypatch):
    for value, expected in [("1", True), ("yes", True), ("ON", True), ("0", False),
                            ("false", False), (" off ", False)]:
        monkeypatch.setenv("SLPDESK_X", value)
        assert envbool("SLPDESK_X", not expected) is expected
    monkeypatch.delenv("SLPDESK_X")
    assert envbool("SLPDESK_X", True) is True


def test_it_refuses_a_bad_boolean(monkeypatch):
    monkeypatch.setenv("SLPDESK_X", "maybe")
    with pytest.raises(ImproperlyConfigured, match="SLPDESK_X='maybe' is not a boolean"):
        envbool("SLPDESK_X", False)


def test_it_reads_numbers_and_refuses_bad_ones(monkeypatch):
    monkeypatch.setenv("SLPDESK_N", "42")
    assert envint("SLPDESK_N", 1) == 42
    monkeypatch.setenv("SLPDESK_N", "4x")
    with pytest.raises(ImproperlyConfigured, match="not a whole number"):
        envint("SLPDESK_N", 1)
    monkeypatch.setenv("SLPDESK_N", "0")
    with pytest.raises(ImproperlyConfigured, match="must be at least 1"):
        envint("SLPDESK_N", 5, minimum=1)
    monkeypatch.delenv("SLPDESK_N")
    assert envint("SLPDESK_N", 5) == 5


@pytest.mark.parametrize("value", ['"Acme, Inc. Support" <support@example.com>',
                                   "Support <support@example.com>", "support@example.com"])
def test_it_reads_one_address_with_or_without_a_name(monkeypatch, value):
    monkeypatch.setenv("SLPDESK_A", value)
    assert envaddress("SLPDESK_A", "x@example.com") == value


@pytest.mark.parametrize("value", ["Acme, Inc. <support@example.com>",  # two, unquoted
                                   "a@example.com, b@example.com", "a@example.com; b@example.com",
                                   "not an address", "Support <support@example.com>\nBcc: x@y"])
def test_it_refuses_anything_but_one_address(monkeypatch, value):
    monkeypatch.setenv("SLPDESK_A", value)
    with pytest.raises(ImproperlyConfigured, match="is not an e-mail address"):
        envaddress("SLPDESK_A", "x@example.com")


def test_it_reads_strings_with_a_default(monkeypatch):
    monkeypatch.setenv("SLPDESK_S", "  ")
    assert envstr("SLPDESK_S", "dflt") == "dflt"
    monkeypatch.setenv("SLPDESK_S", "value")
    assert envstr("SLPDESK_S", "dflt") == "value"


def test_it_creates_the_secret_key_once_with_mode_0600(tmp_path):
    path = tmp_path / "secret_key"
    key = secret_key_from(path)
    assert len(key) >= 50
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert secret_key_from(path) == key


def test_it_refuses_an_empty_secret_key_file(tmp_path):
    path = tmp_path / "secret_key"
    path.write_text("\n")
    with pytest.raises(ImproperlyConfigured, match="too short"):
        secret_key_from(path)


def test_it_parses_a_postgres_url():
    db = database_from_url("postgres://desk:s%40cret@db.example:6543/slpdesk", conn_max_age=60)
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["NAME"], db["USER"], db["PASSWORD"], db["HOST"], db["PORT"]) == (
        "slpdesk", "desk", "s@cret", "db.example", 6543)
    assert db["CONN_MAX_AGE"] == 60
    # statements prepared: bound by the server, and prepared from their fifth run
    assert db["OPTIONS"] == {"server_side_binding": True, "prepare_threshold": 5}
    behind_pooler = database_from_url("postgres://x@y/z", conn_max_age=0, prepare=False)
    assert "server_side_binding" not in behind_pooler.get("OPTIONS", {})
    assert "prepare_threshold" not in behind_pooler.get("OPTIONS", {})


def test_a_statement_run_again_is_prepared_on_postgresql(db):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no server to prepare statements on")
    marker = "SELECT count(*) FROM desk_site WHERE name = %s /* prepared? */"
    with connection.cursor() as cursor:
        for n in range(6):
            cursor.execute(marker, [f"site {n}"])
        cursor.execute("SELECT statement FROM pg_prepared_statements "
                       "WHERE statement LIKE '%%prepared?%%' AND NOT from_sql")
        prepared = [row[0] for row in cursor.fetchall()]
    assert prepared == ["SELECT count(*) FROM desk_site WHERE name = $1 /* prepared? */"]


def test_it_refuses_other_database_urls():
    with pytest.raises(ImproperlyConfigured, match="unsupported scheme 'mysql'"):
        database_from_url("mysql://x@y/z", conn_max_age=0)
    with pytest.raises(ImproperlyConfigured, match="database name"):
        database_from_url("postgres://x@y", conn_max_age=0)


def test_it_configures_sqlite_for_concurrent_writers(tmp_path):
    db = sqlite_database(tmp_path / "db.sqlite3", timeout=20)
    assert db["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in db["OPTIONS"]["init_command"]
    assert db["OPTIONS"]["timeout"] == 20


def test_it_keeps_time_in_utc_and_speaks_swedish_and_english():
    assert settings.USE_TZ is True
    assert settings.TIME_ZONE == "UTC"
    assert [code for code, _name in settings.LANGUAGES] == ["en", "sv"]
    assert "django.middleware.locale.LocaleMiddleware" in settings.MIDDLEWARE
    assert settings.AUTH_USER_MODEL == "desk.User"


def test_processes_starting_at_once_agree_on_one_secret_key(tmp_path):
    """Each of several processes creating the key at once reads back the same one,
    never a half-written file."""
    code = ("import sys; from pathlib import Path; from slpdesk.settings import "
            "secret_key_from; print(secret_key_from(Path(sys.argv[1])))")
    for round_ in range(5):
        path = tmp_path / f"secret_key_{round_}"
        procs = [subprocess.Popen([sys.executable, "-c", code, str(path)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env={**os.environ, "SLPDESK_DATA_DIR": str(tmp_path / "d")})
                 for _ in range(4)]
        keys = {p.communicate(timeout=60)[0].strip() for p in procs}
        assert len(keys) == 1 and len(keys.pop()) >= 32
        assert path.read_text().strip()
