"""``slpdesk backup FILE`` and ``slpdesk restore FILE``: one archive holds everything a
desk needs to come back.

The archive is a gzipped tar with

* ``slpdesk-backup.json``: what it holds, and the SHA-256 of every other member;
* the database: ``database.sqlite3``, a consistent copy of the live SQLite database made
  with SQLite's online backup API (committed transactions only, the WAL included; other
  processes go on writing meanwhile) and checked with ``PRAGMA integrity_check``; or
  ``database.pgdump``, PostgreSQL's ``pg_dump --format=custom`` of the database;
* ``media/``: the uploaded files (attachments);
* ``secret_key``: the key that signs sessions and every reply address in mails already
  sent (without it, customers' replies to old mails are held as *bad token*).

The archive contains the secret key: it is written with mode 0600; keep it like a
password. Restoring checks every member against the manifest and the SQLite copy's
integrity before anything is written, and refuses a data directory that is not empty.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from . import __version__
from .config import data_dir

MANIFEST = "slpdesk-backup.json"
SQLITE_MEMBER = "database.sqlite3"
PG_MEMBER = "database.pgdump"
SQLITE_NAME = "slpdesk.sqlite3"  # the database's name in the data directory (settings)


class BackupError(Exception):
    """The backup or restore cannot be done; the message says why (one line)."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _integrity(path: Path) -> str:
    """``PRAGMA integrity_check`` of the SQLite file ``path`` ("ok" when sound)."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            return "; ".join(row[0] for row in db.execute("PRAGMA integrity_check"))
    except sqlite3.DatabaseError as exc:
        return str(exc)


def _pg_environment(db: dict) -> tuple[list[str], dict]:
    """Connection arguments and environment for pg_dump/pg_restore (the password in
    PGPASSWORD, never on the command line)."""
    env = dict(os.environ)
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    args = ["--host", str(db.get("HOST") or "127.0.0.1"), "--port", str(db.get("PORT") or 5432),
            "--username", str(db.get("USER") or "postgres")]
    return args, env


def _copy_database(work: Path) -> tuple[str, str, str]:
    """Write the database into ``work``: (member name, engine, how it was copied)."""
    from django.conf import settings
    from django.db import connection

    db = settings.DATABASES["default"]
    if connection.vendor == "sqlite":
        target = work / SQLITE_MEMBER
        connection.ensure_connection()
        with contextlib.closing(sqlite3.connect(target)) as copy:
            connection.connection.backup(copy)  # every page in one step: consistent
        verdict = _integrity(target)
        if verdict != "ok":
            raise BackupError(f"the copy of the database failed its integrity check: {verdict}")
        return SQLITE_MEMBER, "sqlite", "SQLite online backup, integrity ok"
    if connection.vendor == "postgresql":
        pg_dump = shutil.which("pg_dump")
        if pg_dump is None:
            raise BackupError("PostgreSQL needs pg_dump for a backup, and it is not on the "
                              "PATH: install PostgreSQL's client tools (Debian: "
                              "postgresql-client) of the server's version")
        args, env = _pg_environment(db)
        target = work / PG_MEMBER
        result = subprocess.run([pg_dump, *args, "--format=custom", "--no-owner",
                                 "--no-privileges", "--file", str(target), str(db["NAME"])],
                                env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            raise BackupError("pg_dump failed: " + " ".join(result.stderr.split()))
        return PG_MEMBER, "postgresql", "PostgreSQL with pg_dump --format=custom"
    raise BackupError(f"cannot back up a {connection.vendor} database")


def backup(path: str | Path, *, now: datetime | None = None) -> str:
    """Write the archive ``path`` (which must not exist); returns the line to print."""
    from django.conf import settings

    path = Path(path)
    if path.exists():
        raise BackupError(f"{path} exists already: give a new file name")
    if not path.parent.is_dir():
        raise BackupError(f"{path.parent} is not a directory")
    now = now or datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="slpdesk-backup-") as tmp:
        work = Path(tmp)
        member, engine, how = _copy_database(work)
        (work / "secret_key").write_text(settings.SECRET_KEY + "\n", encoding="ascii")
        media = Path(settings.MEDIA_ROOT)
        files = 0
        if media.is_dir():
            shutil.copytree(media, work / "media", symlinks=False)
            files = sum(1 for p in (work / "media").rglob("*") if p.is_file())
        members = sorted(p.relative_to(work).as_posix() for p in work.rglob("*") if p.is_file())
        manifest = {
            "format": 1,
            "slpdesk": __version__,
            "created": now.isoformat(),
            "engine": engine,
            "database": member,
            "files": files,
            "sha256": {name: _sha256(work / name) for name in members},
        }
        fd, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
                data = json.dumps(manifest, indent=2).encode()
                info = tarfile.TarInfo(MANIFEST)
                info.size, info.mtime, info.mode = len(data), int(now.timestamp()), 0o600
                tar.addfile(info, io.BytesIO(data))
                for name in members:
                    tar.add(work / name, arcname=name, recursive=False)
                raw.flush()
                os.fsync(raw.fileno())
            os.chmod(partial, 0o600)
            os.replace(partial, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(partial)
            raise
    return (f"slpdesk: backup written to {path} (database: {how}; {files} uploaded "
            "files; the secret key: keep the archive private)")


def _read_archive(path: Path, into: Path) -> dict:
    """Unpack the archive ``path`` into the empty directory ``into`` after checking it:
    only plain files and folders under relative names, each as the manifest says."""
    try:
        with tarfile.open(path, mode="r:gz") as tar:
            names = tar.getnames()
            if MANIFEST not in names:
                raise BackupError(f"{path} is not an slpdesk backup (no {MANIFEST})")
            manifest = json.load(tar.extractfile(MANIFEST))
            for info in tar.getmembers():
                if not (info.isfile() or info.isdir()):
                    raise BackupError(f"{path}: {info.name!r} is not a plain file")
            tar.extractall(into, filter="data")  # refuses absolute names and '..'
    except (tarfile.TarError, OSError, EOFError, ValueError) as exc:
        raise BackupError(f"{path} cannot be read as a backup: {exc}") from None
    sums = manifest.get("sha256") if isinstance(manifest, dict) else None
    if not isinstance(sums, dict) or manifest.get("database") not in sums:
        raise BackupError(f"{path}: the manifest is incomplete")
    on_disk = {p.relative_to(into).as_posix() for p in into.rglob("*") if p.is_file()}
    if on_disk - {MANIFEST} != set(sums):
        raise BackupError(f"{path}: the files do not match the manifest")
    for name, expected in sums.items():
        if _sha256(into / name) != expected:
            raise BackupError(f"{path}: {name} is damaged (its checksum does not match)")
    return manifest


def _restore_postgresql(work: Path) -> str:
    """pg_restore the dump into the empty database of SLPDESK_DATABASE_URL."""
    import dj_database_url
    import psycopg

    url = os.environ.get("SLPDESK_DATABASE_URL", "").strip()
    if not url:
        raise BackupError("this backup is of a PostgreSQL database: set SLPDESK_DATABASE_URL "
                          "to the empty database to restore it into")
    pg_restore = shutil.which("pg_restore")
    if pg_restore is None:
        raise BackupError("pg_restore is not on the PATH: install PostgreSQL's client tools")
    db = dj_database_url.parse(url)
    try:
        with psycopg.connect(url, connect_timeout=10) as conn:
            tables = conn.execute("SELECT count(*) FROM information_schema.tables "
                                  "WHERE table_schema = 'public'").fetchone()[0]
    except psycopg.Error as exc:
        raise BackupError(f"cannot reach the database: {exc}".replace("\n", " ")) from None
    if tables:
        raise BackupError(f"the database {db['NAME']} is not empty ({tables} tables): "
                          "restore into a new, empty database")
    args, env = _pg_environment(db)
    result = subprocess.run([pg_restore, *args, "--no-owner", "--no-privileges",
                             "--exit-on-error", "--dbname", str(db["NAME"]),
                             str(work / PG_MEMBER)],
                            env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise BackupError("pg_restore failed: " + " ".join(result.stderr.split()))
    return f"PostgreSQL database {db['NAME']}"


def restore(path: str | Path) -> str:
    """Restore the archive ``path`` into the data directory, which must be empty (or not
    exist yet); returns the line to print. Nothing is written unless the archive is
    sound."""
    path = Path(path)
    target = data_dir()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise BackupError(f"the data directory {target} is not empty: restore into an empty "
                          "one (set SLPDESK_DATA_DIR)")
    if not path.is_file():
        raise BackupError(f"{path}: no such file")
    with tempfile.TemporaryDirectory(prefix="slpdesk-restore-") as tmp:
        work = Path(tmp)
        manifest = _read_archive(path, work)
        engine = manifest.get("engine")
        if engine == "sqlite":
            if os.environ.get("SLPDESK_DATABASE_URL", "").strip():
                raise BackupError("this backup is of a SQLite database: unset "
                                  "SLPDESK_DATABASE_URL to restore it")
            verdict = _integrity(work / SQLITE_MEMBER)
            if verdict != "ok":
                raise BackupError(f"the database in {path} failed its integrity check: "
                                  f"{verdict}")
        elif engine != "postgresql":
            raise BackupError(f"{path}: unknown database engine {engine!r}")
        target.mkdir(mode=0o700, parents=True, exist_ok=True)
        if engine == "postgresql":
            where = _restore_postgresql(work)
        else:
            shutil.copy2(work / SQLITE_MEMBER, target / SQLITE_NAME)
            where = f"{target / SQLITE_NAME}"
        key = target / "secret_key"
        key.write_text((work / "secret_key").read_text(encoding="ascii"), encoding="ascii")
        key.chmod(0o600)
        if (work / "media").is_dir():
            shutil.copytree(work / "media", target / "media")
    return (f"slpdesk: restored {path} (made {manifest.get('created')}) into {target}: "
            f"database {where}, {manifest.get('files', 0)} uploaded files, the secret key; "
            "now run 'slpdesk migrate'")
