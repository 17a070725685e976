"""``slpdesk backup`` and ``slpdesk restore`` as real processes (issue 12, item 7)."""

import hashlib
import io
import json
import os
import sqlite3
import subprocess
import tarfile
from pathlib import Path

import pytest
from django.db import connection

from desk.test_commands import run

on_sqlite = pytest.mark.skipif(connection.vendor != "sqlite", reason="the SQLite archive")
on_postgresql = pytest.mark.skipif(connection.vendor != "postgresql", reason="pg_dump")


def count(db: Path, table: str) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def loaded(command_env, *, demo: bool = False) -> Path:
    """A migrated data directory (with the demo data if ``demo``) and one uploaded file."""
    result = run(command_env, *(("demo", "--no-serve") if demo else ("migrate",)))
    assert result.returncode == 0, result.stderr
    data = Path(command_env["SLPDESK_DATA_DIR"])
    (data / "media" / "attachments").mkdir(parents=True, exist_ok=True)
    (data / "media" / "attachments" / "trace.log").write_bytes(b"line 1\nline 2\n")
    return data


@on_sqlite
def test_a_backup_restores_into_an_empty_directory_with_everything(command_env, tmp_path):
    source = loaded(command_env, demo=True)
    archive = tmp_path / "desk.tar.gz"
    result = run(command_env, "backup", str(archive))
    assert result.returncode == 0, result.stderr
    assert "SQLite online backup, integrity ok" in result.stdout
    assert archive.stat().st_mode & 0o777 == 0o600  # it holds the secret key

    target = tmp_path / "restored"
    env = dict(command_env, SLPDESK_DATA_DIR=str(target))
    result = run(env, "restore", str(archive))
    assert result.returncode == 0, result.stderr
    assert (target / "secret_key").read_text() == (source / "secret_key").read_text()
    assert (target / "media" / "attachments" / "trace.log").read_bytes() == b"line 1\nline 2\n"
    for table in ("desk_case", "desk_caseevent", "desk_user", "desk_outbox"):
        assert count(target / "slpdesk.sqlite3", table) == count(source / "slpdesk.sqlite3",
                                                                table), table
    # The restored desk runs: migrate finds nothing to do, the demo is there.
    result = run(env, "demo", "--no-serve")
    assert result.returncode == 0, result.stderr
    assert "already loaded" in result.stdout


@on_sqlite
def test_restore_refuses_a_directory_that_is_not_empty(command_env, tmp_path):
    loaded(command_env)
    archive = tmp_path / "desk.tar.gz"
    assert run(command_env, "backup", str(archive)).returncode == 0
    result = run(command_env, "restore", str(archive))  # into the live data directory
    assert result.returncode == 2
    assert "is not empty" in result.stderr and len(result.stderr.splitlines()) == 1


@on_sqlite
def test_restore_refuses_a_damaged_archive_and_writes_nothing(command_env, tmp_path):
    loaded(command_env)
    archive = tmp_path / "desk.tar.gz"
    assert run(command_env, "backup", str(archive)).returncode == 0
    # The same archive with one byte of the uploaded file changed.
    damaged = tmp_path / "damaged.tar.gz"
    with tarfile.open(archive) as src, tarfile.open(damaged, "w:gz") as dst:
        for info in src.getmembers():
            data = src.extractfile(info).read() if info.isfile() else None
            if info.name.endswith("trace.log"):
                data = b"LINE 1\nline 2\n"
            dst.addfile(info, None if data is None else io.BytesIO(data))
    target = tmp_path / "restored"
    result = run(dict(command_env, SLPDESK_DATA_DIR=str(target)), "restore", str(damaged))
    assert result.returncode == 2
    assert "media/attachments/trace.log is damaged" in result.stderr
    assert not target.exists()


def test_backup_refuses_an_existing_file(command_env, tmp_path):
    loaded(command_env)
    archive = tmp_path / "desk.tar.gz"
    archive.write_bytes(b"precious")
    result = run(command_env, "backup", str(archive))
    assert result.returncode == 2 and "exists already" in result.stderr
    assert archive.read_bytes() == b"precious"


@on_postgresql
def test_on_postgresql_the_backup_holds_a_pg_dump(command_env, tmp_path):
    loaded(command_env, demo=True)
    archive = tmp_path / "desk.tar.gz"
    result = run(command_env, "backup", str(archive))
    assert result.returncode == 0, result.stderr
    assert "PostgreSQL with pg_dump" in result.stdout
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path / "x", filter="data")
    listing = subprocess.run(["pg_restore", "--list", str(tmp_path / "x" / "database.pgdump")],
                             capture_output=True, text=True, check=True).stdout
    assert "TABLE DATA public desk_case " in listing
    key = (tmp_path / "x" / "secret_key").read_text()
    assert key == (Path(command_env["SLPDESK_DATA_DIR"]) / "secret_key").read_text()
    # Restoring needs an empty database; the one in use is refused, untouched.
    result = run(dict(command_env, SLPDESK_DATA_DIR=str(tmp_path / "new")), "restore",
                 str(archive))
    assert result.returncode == 2 and "is not empty" in result.stderr


@on_postgresql
def test_on_postgresql_without_pg_dump_the_backup_is_refused_clearly(command_env, tmp_path):
    loaded(command_env)
    bare = tmp_path / "bin"
    bare.mkdir()
    env = dict(command_env, PATH=str(bare))
    result = run(env, "backup", str(tmp_path / "desk.tar.gz"))
    assert result.returncode == 2
    assert result.stderr.startswith("slpdesk: error: PostgreSQL needs pg_dump")
    assert not (tmp_path / "desk.tar.gz").exists()


def test_the_archive_manifest_lists_every_member_with_its_checksum(command_env, tmp_path):
    loaded(command_env)
    archive = tmp_path / "desk.tar.gz"
    assert run(command_env, "backup", str(archive)).returncode == 0

    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("slpdesk-backup.json"))
        for name, digest in manifest["sha256"].items():
            assert hashlib.sha256(tar.extractfile(name).read()).hexdigest() == digest
    assert set(manifest["sha256"]) >= {"secret_key", "media/attachments/trace.log",
                                       manifest["database"]}
    assert os.path.basename(manifest["database"]).startswith("database.")
