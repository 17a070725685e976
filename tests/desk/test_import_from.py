"""``slpdesk import-from django-helpdesk|zendesk`` (issue 16, item 1): the converters,
against a real django-helpdesk database and fixtures written from Zendesk's API
documentation, then imported with ``slpdesk import``."""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from slpdesk import cli
from slpdesk.desk import audit
from slpdesk.desk.models import Case, Message
from slpdesk.imports import cases as importer

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
ZENDESK = HERE / "fixtures" / "zendesk"


@pytest.fixture
def clock(monkeypatch):
    state = SimpleNamespace(now=datetime(2026, 7, 10, 16, 0, tzinfo=UTC))
    monkeypatch.setattr("django.utils.timezone.now", lambda: state.now)
    return state


def convert(capsys, *args):
    code = cli.main(["import-from", *args])
    out, err = capsys.readouterr()
    # Only the command's own lines: a browser test's live server in the same worker
    # may write a stray traceback to the same stderr.
    return code, [json.loads(x) for x in out.splitlines()], [
        line for line in err.splitlines() if line.startswith("slpdesk:")]


def base(**over):
    return {"organisation": "Acme Tooling", "site": "Hartford", **over}


def opened(at: str, priority: str) -> list[dict]:
    return [{"at": at, "type": "received", "priority": priority},
            {"at": at, "type": "priority_assigned", "priority": priority},
            {"at": at, "type": "info_complete"}]


def import_lines(capsys, tmp_path, docs) -> tuple:
    path = tmp_path / "converted.jsonl"
    path.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    code = cli.main(["import", str(path)])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


# ------------------------------------------------------------ django-helpdesk
@pytest.fixture
def helpdesk_db(tmp_path):
    """A django-helpdesk 2.6.1 SQLite database, migrated and filled by django-helpdesk
    itself in its own process (its own settings: bench/peer_settings.py)."""
    path = tmp_path / "helpdesk.sqlite3"
    env = {k: v for k, v in os.environ.items() if k != "PEER_DATABASE_URL"}
    env.update(DJANGO_SETTINGS_MODULE="peer_settings", PEER_SQLITE=str(path),
               PEER_MEDIA_ROOT=str(tmp_path / "media"),
               PYTHONPATH=os.pathsep.join([str(ROOT / "bench"), str(HERE)]))
    done = subprocess.run([sys.executable, str(HERE / "helpdesk_world.py")], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return path


def test_django_helpdesk_tickets_become_lines_that_import(cast, clock, capsys, tmp_path,
                                                          helpdesk_db):
    code, docs, err = convert(capsys, "django-helpdesk", f"sqlite:///{helpdesk_db}",
                              "--site", "Hartford")
    assert (code, err) == (0, ["slpdesk: converted 3 tickets"])
    one, two, three = docs
    assert one == base(
        external_id="django-helpdesk:1", contact_email="alice@example.com",
        title="Licence server down", description="It stopped at nine.", channel="email",
        received_at="2026-07-06T13:00:00Z",
        events=[*opened("2026-07-06T13:00:00Z", "P1"),
                {"at": "2026-07-06T14:00:00Z", "type": "responded"},
                {"at": "2026-07-06T15:00:00Z", "type": "priority_assigned", "priority": "P2"},
                {"at": "2026-07-06T16:00:00Z", "type": "customer_replied"},
                {"at": "2026-07-06T19:00:00Z", "type": "status_update"},
                {"at": "2026-07-06T19:00:00Z", "type": "resolved", "resolution": "fixed",
                 "summary": "Restarted the service."}],
        messages=[
            {"at": "2026-07-06T14:00:00Z", "author_email": "sam@example.com", "public": True,
             "body": "We are on it."},
            {"at": "2026-07-06T15:00:00Z", "author_email": "sam@example.com",
             "public": False, "body": "Not that urgent after all."},
            {"at": "2026-07-06T16:00:00Z", "author_email": "alice@example.com",
             "public": True, "body": "Thanks, still broken here."},
            {"at": "2026-07-06T19:00:00Z", "author_email": "sam@example.com", "public": True,
             "body": "Fixed by a restart."}])
    assert two == base(
        external_id="django-helpdesk:2", contact_email="alice@example.com",
        title="Slow export", description="Export takes an hour.", channel="email",
        received_at="2026-07-07T14:00:00Z", events=opened("2026-07-07T14:00:00Z", "P3"),
        messages=[])
    assert three["events"] == [*opened("2026-07-07T15:00:00Z", "P4"),
                               {"at": "2026-07-07T16:00:00Z", "type": "resolved",
                                "resolution": "no-defect", "summary": "Duplicate"}]
    for doc in docs:
        assert importer.schema_error(doc) is None

    assert import_lines(capsys, tmp_path, docs) == (0, ["imported 3 cases, skipped 0"], "")
    case = Case.objects.get(external_id="django-helpdesk:1")
    # Hand values: received Monday 09:00 New York as P1, answered at 10:00 (1 h, met),
    # lowered to P2 at 11:00 (resolution target 24 business hours), resolved at 15:00
    # after 6 business hours; the customer's message did not pause anything.
    assert (case.priority, case.status, case.response_outcome, case.response_seconds) == (
        "P2", "resolved", "met", 3600)
    assert (case.resolution_outcome, case.resolution_seconds, case.resolution_target) == (
        "met", 6 * 3600, 24 * 3600)
    assert case.messages.filter(kind=Message.Kind.INTERNAL).count() == 1
    assert Case.objects.get(external_id="django-helpdesk:2").status == "open"
    assert audit.audit(clock.now).differ == 0
    # Converting and importing again changes nothing.
    assert import_lines(capsys, tmp_path, docs) == (0, ["imported 0 cases, skipped 3"], "")


def test_a_database_that_is_not_django_helpdesk_is_one_line(capsys, tmp_path):
    (tmp_path / "empty.sqlite3").write_bytes(b"")
    code, docs, err = convert(capsys, "django-helpdesk", f"sqlite:///{tmp_path}/empty.sqlite3")
    assert (code, docs, len(err)) == (2, [], 1)
    assert err[0].startswith("slpdesk: error: sqlite:///") and "not a django-helpdesk" in err[0]
    code, docs, err = convert(capsys, "django-helpdesk", "mysql://x/y")
    assert (code, err) == (2, ["slpdesk: error: 'mysql://x/y': give sqlite:///PATH or "
                               "postgres://USER@HOST:PORT/NAME"])


# -------------------------------------------------------------------- Zendesk
def test_zendesk_exports_become_lines_that_import(cast, clock, capsys, tmp_path):
    code, docs, err = convert(
        capsys, "zendesk", str(ZENDESK / "tickets.json"), "--audits",
        str(ZENDESK / "audits.json"), "--users", str(ZENDESK / "users.json"),
        "--organizations", str(ZENDESK / "organizations.json"), "--site", "Hartford")
    assert (code, err) == (0, ["slpdesk: converted 2 tickets"])
    first, second = docs
    assert first == base(
        external_id="zendesk:101", contact_email="alice@example.com",
        title="Printer driver crash", description="The driver crashes when we print.",
        channel="portal", received_at="2026-07-06T13:00:00Z",
        events=[*opened("2026-07-06T13:00:00Z", "P2"),
                {"at": "2026-07-06T14:00:00Z", "type": "info_requested"},
                {"at": "2026-07-07T13:00:00Z", "type": "customer_replied"},
                {"at": "2026-07-07T14:00:00Z", "type": "priority_assigned", "priority": "P1"},
                {"at": "2026-07-07T15:00:00Z", "type": "status_update"},
                {"at": "2026-07-07T15:00:00Z", "type": "resolved", "resolution": "fixed"}],
        messages=[
            {"at": "2026-07-06T14:00:00Z", "author_email": "sam@example.com", "public": True,
             "body": "Which driver version do you run?"},
            {"at": "2026-07-07T13:00:00Z", "author_email": "alice@example.com",
             "public": True, "body": "Version 3.2."},
            {"at": "2026-07-07T14:00:00Z", "author_email": "sam@example.com",
             "public": False, "body": "Known bug in 3.2."},
            {"at": "2026-07-07T15:00:00Z", "author_email": "sam@example.com", "public": True,
             "body": "Fixed in driver 3.3."}])
    assert second == base(
        external_id="zendesk:102", contact_email="bob@example.com", title="Licence renewal",
        description="When does our licence end?", channel="email",
        received_at="2026-07-08T13:00:00Z", events=opened("2026-07-08T13:00:00Z", "P3"),
        messages=[])

    assert import_lines(capsys, tmp_path, docs) == (0, ["imported 2 cases, skipped 0"], "")
    case = Case.objects.get(external_id="zendesk:101")
    # Hand values: P2 at Monday 09:00 New York; the request for information at 10:00 is
    # the first contact (1 h, met) and pauses the resolution clock until the answer on
    # Tuesday 09:00; raised to P1 (8 h) at 10:00, solved at 11:00: 1 h + 2 h = 3 h.
    assert (case.response_outcome, case.response_seconds) == ("met", 3600)
    assert (case.resolution_outcome, case.resolution_seconds, case.resolution_target) == (
        "met", 3 * 3600, 8 * 3600)
    assert case.events.get(type="info_requested").data == {
        "message": case.messages.get(body="Which driver version do you run?").pk}
    assert audit.audit(clock.now).differ == 0


def test_zendesk_without_users_or_organisations(cast, clock, capsys):
    code, docs, err = convert(capsys, "zendesk", str(ZENDESK / "tickets.json"),
                              "--audits", str(ZENDESK / "audits.json"),
                              "--country", "US", "--time-zone", "America/New_York")
    assert code == 0
    assert (docs[0]["organisation"], docs[0]["contact_email"], docs[0]["create"],
            docs[0]["country"], docs[0]["time_zone"]) == (
        "Zendesk organization 901", "zendesk-user-501@zendesk.invalid", True, "US",
        "America/New_York")
    assert docs[0]["messages"][0]["author_email"] == "zendesk-user-601@zendesk.invalid"
    code, docs, err = convert(capsys, "zendesk", str(ZENDESK / "nope.json"))
    assert code == 2 and err[0].startswith("slpdesk: error: ") and "cannot read" in err[0]


def test_django_helpdesk_on_postgresql_reads_the_same(capsys, tmp_path, helpdesk_db):
    """The same django-helpdesk data in PostgreSQL (a database of its own beside the
    test database, dropped afterwards) converts to the same lines."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only (SLPDESK_DATABASE_URL)")
    import psycopg

    db = connection.settings_dict
    name = f"{db['NAME']}_helpdesk"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    server = f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        env = dict(os.environ, DJANGO_SETTINGS_MODULE="peer_settings",
                   PEER_DATABASE_URL=f"{server}/{name}",
                   PYTHONPATH=os.pathsep.join([str(ROOT / "bench"), str(HERE)]))
        done = subprocess.run([sys.executable, str(HERE / "helpdesk_world.py")], env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        from_postgres = convert(capsys, "django-helpdesk", f"{server}/{name}")
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
    assert from_postgres == convert(capsys, "django-helpdesk", f"sqlite:///{helpdesk_db}")
    assert len(from_postgres[1]) == 3
