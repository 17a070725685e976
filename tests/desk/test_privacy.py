"""A person's data: the export (complete, and only one's own for a customer), the
erasure (no trace of the person in the database, the files or the mail; every SLA
figure and report number unchanged; recorded without the data), retention (dry run
against the real run, once a day), and who may use the pages.

The world is :mod:`privacy_world` (Alicia Quenneville of Acme Tooling). The trace
test runs the real commands in a data directory of their own and reads the bytes:
the SQLite file (and its WAL) and every file under the data directory, or on
PostgreSQL a ``pg_dump`` of the test database.
"""

from __future__ import annotations

import email
import io
import json
import os
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.urls import reverse

from desk import privacy_world as world
from slpdesk.config import parse_retention_years
from slpdesk.desk import audit
from slpdesk.desk.models import (
    Attachment,
    Case,
    CaseEvent,
    Escalation,
    InboundMessage,
    Message,
    Organisation,
    Outbox,
    Site,
    User,
)
from slpdesk.desk.services import SLA_COLUMNS, DeskError
from slpdesk.privacy import retention
from slpdesk.privacy.erasure import MARKER, erase
from slpdesk.privacy.export import collect, write_zip
from slpdesk.privacy.models import Erasure, RetentionRun
from slpdesk.reports.data import Period
from slpdesk.reports.facts import report_from_facts

HERE = Path(__file__).resolve().parent
#: A moment after everything in the world happened (the world's cases are of July 2026).
LATER = datetime(2026, 8, 3, 12, 0, tzinfo=UTC)


@pytest.fixture
def built(db, django_capture_on_commit_callbacks, settings, tmp_path):
    settings.SLPDESK_MAIL_DIR = tmp_path / "mail"  # this test's mail and files only
    settings.MEDIA_ROOT = tmp_path / "media"
    with django_capture_on_commit_callbacks(execute=True):
        names = world.build()
    names["user"] = User.objects.get(pk=names["alicia"])
    return names


def erase_alicia(built, **kw):
    return erase(built["user"], now=LATER, actor=User.objects.get(username="ada"),
                 by_label="console", **kw)


def sla_snapshot() -> dict:
    return {c["number"]: c for c in Case.objects.order_by("pk").values(
        "number", "updated_at", "sla_computed_at", "status", "priority", "contact_id",
        "organisation_id", "assignee_id", *SLA_COLUMNS)}


def event_snapshot() -> list:
    return list(CaseEvent.objects.order_by("pk").values_list(
        "pk", "case_id", "at", "type", "priority", "kind", "resolution", "actor_id"))


def july_report() -> dict:
    period = Period(datetime(2026, 7, 1).date(), datetime(2026, 7, 31).date(), UTC, "UTC")
    return report_from_facts(Case.objects.all(), period, LATER).as_dict()


def texts_in_database() -> str:
    """Every text column the erasure rewrites, joined (for the in-process tests)."""
    parts = []
    for model, fields in ((Message, ["body"]), (Case, ["title", "description",
                                                       "system_details", "resolution_summary"]),
                          (Escalation, ["reason"]), (Attachment, ["name", "file"]),
                          (Outbox, ["to_address", "subject", "body_text", "body_html"]),
                          (InboundMessage, ["sender", "subject"]),
                          (User, ["username", "first_name", "last_name", "email", "phone"])):
        for row in model.objects.values_list(*fields):
            parts.extend(str(v) for v in row)
    parts.extend(json.dumps(d) for d in CaseEvent.objects.values_list("data", flat=True))
    parts.extend(bytes(r).decode("utf-8", "replace")
                 for r in InboundMessage.objects.values_list("raw", flat=True))
    return "\n".join(parts).lower()


# ------------------------------------------------------------------- export
def test_the_export_holds_everything_about_a_contact(built):
    document, files = collect(built["user"], now=LATER, self_service=False)
    c1, c2, c3 = built["cases"]
    account = document["account"]
    assert (account["username"], account["email"], account["phone"], account["first_name"],
            account["last_name"]) == (world.USERNAME, world.EMAIL, world.PHONE, world.FIRST,
                                      world.LAST)
    assert document["preferences"] == {"language": "sv", "time_zone": "Europe/Stockholm"}
    assert [c["number"] for c in document["cases"]] == [c1, c2]  # c3 is Bob's
    first = document["cases"][0]
    assert first["description"].startswith("Alicia Quenneville here")
    # her reply came in by e-mail: the intake's message, authored by her
    bodies = [(m["author"], m["kind"], m["body"]) for m in first["messages"]]
    assert bodies == [
        ("support", "public", "Hello Alicia, which machine is it?"),
        ("you", "public", world.INBOUND_BODY),
        ("support", "public", "Thanks Alicia Quenneville, a fix is on its way."),
    ]  # the internal note is not in an administrator's default export
    assert [m["body"] for m in document["messages_written"]] == [world.INBOUND_BODY]
    assert first["files"] == [{
        "id": files[0].pk, "name": "quenneville-trace.log", "size": len(world.FILE_CONTENT),
        "uploaded_at": "2026-07-06T13:00:00+00:00", "uploaded_by": "you", "internal": False,
        "path": f"files/{files[0].pk}-quenneville-trace.log"}]
    assert document["cases"][1]["escalations"][0]["reason"] == "Alicia Quenneville needs it today"
    assert [(t["name"], t["last_used_at"]) for t in document["api_tokens"]] == [
        ("CRM sync", "2026-07-06T13:20:00+00:00")]
    assert [d["name"] for d in document["two_factor_devices"]] == ["Alicia's phone"]
    assert [(r["ip_address"], r["user_agent"]) for r in document["log_ins"]] == [
        ("192.0.2.7", "Firefox")]
    assert [r["ip_address"] for r in document["failed_log_ins"]] == ["192.0.2.8"]
    mails = document["mail_sent_to_you"]
    assert {m["to"] for m in mails} == {world.EMAIL}
    assert [r["subject"] for r in document["mail_received_from_you"]] == [
        f"Re: [{c1}] Alicia's post-processor crashes"]

    out = io.BytesIO()
    write_zip(out, document, files)
    with zipfile.ZipFile(out) as archive:
        assert sorted(archive.namelist()) == sorted(
            ["personal-data.json", f"files/{files[0].pk}-quenneville-trace.log"])
        assert archive.read(f"files/{files[0].pk}-quenneville-trace.log") == world.FILE_CONTENT
        assert json.loads(archive.read("personal-data.json")) == json.loads(
            json.dumps(document))


def test_mail_sent_to_her_is_every_outbox_row_for_her(built):
    document, _files = collect(built["user"], now=LATER, self_service=False)
    expected = sorted(Outbox.objects.filter(to_address=world.EMAIL)
                      .values_list("kind", "subject"))
    assert sorted((m["kind"], m["subject"]) for m in document["mail_sent_to_you"]) == expected
    assert len(expected) >= 6


def test_an_administrator_may_add_the_internal_notes(built):
    document, _ = collect(built["user"], now=LATER, self_service=False, include_internal=True)
    notes = [m for m in document["cases"][0]["messages"] if m["internal"]]
    assert [m["body"] for m in notes] == [f"She prefers mail at {world.EMAIL}."]


def download(client, user) -> dict:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    TOTPDevice.objects.filter(user=user).delete()  # (no second factor in these tests)
    client.force_login(user)
    response = client.get(reverse("my_data") + "?download=1")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))) as archive:
        return json.loads(archive.read("personal-data.json"))


def test_a_customer_downloads_only_their_own_data_and_never_internal_notes(built, client):
    doc = download(client, built["user"])
    assert doc["scope"] == "self"
    assert [c["number"] for c in doc["cases"]] == built["cases"][:2]
    assert all(not m["internal"] for c in doc["cases"] for m in c["messages"])
    bob = download(client, User.objects.get(username="bob"))
    assert bob["account"]["username"] == "bob"
    assert [c["number"] for c in bob["cases"]] == [built["cases"][2]]
    assert world.INBOUND_BODY not in json.dumps(bob)


def test_a_contact_moved_to_another_organisation_no_longer_downloads_its_cases(built, client):
    other = Organisation.objects.create(name="Other Co")
    Site.objects.create(organisation=other, name="Göteborg", country="SE",
                        time_zone="Europe/Stockholm")
    alicia = built["user"]
    alicia.organisation = other
    alicia.save()
    doc = download(client, alicia)
    assert doc["cases"] == [] and doc["messages_written"] == []
    assert doc["account"]["organisation"] == "Other Co"


def test_the_preferences_link_to_the_download_page(built, client):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    TOTPDevice.objects.all().delete()
    client.force_login(built["user"])
    page = client.get(reverse("preferences")).content.decode()
    assert reverse("my_data") in page
    assert client.get(reverse("my_data")).status_code == 200


# ------------------------------------------------------------------ erasure
def test_erasure_keeps_every_sla_figure_and_report_number(built):
    before, events, report = sla_snapshot(), event_snapshot(), july_report()
    assert audit.audit(LATER).differ == 0
    erase_alicia(built, reason="asked by Alicia Quenneville on the phone")
    assert sla_snapshot() == before
    assert event_snapshot() == events
    assert july_report() == report
    result = audit.audit(LATER)
    assert (result.checked, result.differ) == (3, 0)


def test_erasure_removes_her_from_every_text_and_the_account(built):
    alicia = built["user"]
    record = erase_alicia(built, reason="asked by Alicia Quenneville on the phone")
    text = texts_in_database()
    for needle in world.NEEDLES:
        assert needle not in text, needle
    alicia.refresh_from_db()
    assert alicia.username == record.subject_ref
    assert (alicia.first_name, alicia.last_name, alicia.email, alicia.phone,
            alicia.language, alicia.time_zone) == ("", "", "", "", "", "")
    assert not alicia.is_active and not alicia.has_usable_password()
    assert alicia.get_full_name() == "erased contact"
    assert Organisation.objects.get(name="Acme Tooling").technical_contact is None
    # the erasure's record: who, when, why (without her name), of whom (opaque)
    assert (record.by.username, record.at, record.reason, record.mode) == (
        "ada", LATER, f"asked by {MARKER} on the phone", Erasure.Mode.REDACT)
    assert record.subject_id == alicia.pk


def test_erasure_clears_the_account_around_it(built):
    from axes.models import AccessAttempt, AccessLog
    from django.contrib.sessions.models import Session
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from slpdesk.api.models import ApiToken
    from slpdesk.desk.models import CasePresence, SavedView

    alicia = built["user"]
    for name, shared in (("mine", False), ("the team's", True)):
        SavedView.objects.create(owner=alicia, name=name, shared=shared, created_at=LATER,
                                 updated_at=LATER)
    CasePresence.objects.create(case=Case.objects.first(), user=alicia, seen_at=LATER)
    assert [v["name"] for v in collect(alicia, now=LATER, self_service=False)[0][
        "saved_views"]] == ["mine", "the team's"]
    assert Session.objects.filter(pk=built["session"]).exists()
    erase_alicia(built)
    assert list(SavedView.objects.values_list("name", flat=True)) == ["the team's"]
    assert not CasePresence.objects.exists()
    assert not ApiToken.objects.filter(user=alicia).exists()
    assert not TOTPDevice.objects.filter(user=alicia).exists()
    assert not AccessLog.objects.exists() and not AccessAttempt.objects.exists()
    assert not Session.objects.filter(pk=built["session"]).exists()


def test_redacting_replaces_her_texts_and_drops_waiting_mail(
        built, django_capture_on_commit_callbacks):
    alicia = built["user"]
    attachment = Attachment.objects.get(uploaded_by=alicia)
    path = Path(attachment.file.path)
    waiting = Outbox.objects.get(to_address=world.EMAIL, state=Outbox.State.PENDING)
    sent_copy = Path(settings.SLPDESK_MAIL_DIR)
    eml_before = sorted(p.name for p in sent_copy.glob("*.eml"))
    assert path.exists() and eml_before
    with django_capture_on_commit_callbacks(execute=True):
        erase_alicia(built)
    assert not path.exists()
    attachment.refresh_from_db()
    assert (attachment.name, attachment.file.name, attachment.size) == (MARKER, "", 0)
    assert list(Message.objects.filter(author=alicia).values_list("body", flat=True)) == [MARKER]
    c1 = Case.objects.get(number=built["cases"][0])
    assert (c1.title, c1.description) == (f"{MARKER}'s post-processor crashes", MARKER)
    assert Message.objects.filter(case=c1, author__username="sam").first().body == \
        f"Hello {MARKER}, which machine is it?"
    assert not Outbox.objects.filter(pk=waiting.pk).exists()
    sent = Outbox.objects.filter(recipient=alicia)
    assert set(sent.values_list("to_address", "body_text")) == {("", MARKER)}
    left = "".join(p.read_text(errors="replace") for p in sent_copy.glob("*.eml")).lower()
    assert "quennev" not in left and "alicia" not in left
    row = InboundMessage.objects.get()
    assert (bytes(row.raw), row.sender) == (b"", "")


def test_keeping_bodies_removes_only_her_identifiers(built):
    erase_alicia(built, redact=False)
    body = Message.objects.get(author=built["user"]).body
    assert body == f"The machine is a Haas VF-2. Call me on {MARKER}, {MARKER}"
    c3 = Case.objects.get(number=built["cases"][2])  # Bob's case names her in full
    assert c3.description == f"Please copy {MARKER} ({MARKER}) on replies."
    assert Escalation.objects.get().reason == f"{MARKER} needs it today"


def test_her_messages_show_erased_contact_to_a_colleague(built, client):
    erase_alicia(built)
    client.force_login(User.objects.get(username="bob"))
    page = client.get(reverse("portal:case", args=[built["cases"][0]])).content.decode()
    assert "erased contact" in page and "[erased]" in page
    assert "Alicia" not in page and "Quenneville" not in page
    client.cookies["django_language"] = "sv"
    bob = User.objects.get(username="bob")
    bob.language = "sv"
    bob.save()
    page = client.get(reverse("portal:case", args=[built["cases"][0]])).content.decode()
    assert "raderad kontakt" in page and "[raderat]" in page


def test_a_person_is_erased_once_and_nobody_erases_themselves(built):
    ada = User.objects.get(username="ada")
    with pytest.raises(DeskError) as err:
        erase(ada, now=LATER, actor=ada)
    assert err.value.code == "self"
    erase_alicia(built)
    with pytest.raises(DeskError) as err:
        erase_alicia(built)
    assert err.value.code == "erased"
    assert Erasure.objects.count() == 1


# ------------------------------------------------------------ the console
def test_only_administrators_reach_the_personal_data_pages(built, client):
    alicia = built["user"]
    urls = [reverse("privacy:people") + "?q=alicia", reverse("privacy:person", args=[alicia.pk]),
            reverse("privacy:export", args=[alicia.pk])]
    from django_otp.plugins.otp_totp.models import TOTPDevice

    TOTPDevice.objects.all().delete()
    for name in ("sam", "bob", world.USERNAME):
        client.force_login(User.objects.get(username=name))
        for url in urls:
            assert client.get(url).status_code == 404, (name, url)
        response = client.post(reverse("privacy:erase", args=[alicia.pk]),
                               {"reason": "x", "mode": "redact", "confirm": world.USERNAME})
        assert response.status_code == 404
    client.logout()
    assert client.get(urls[0]).status_code == 302  # to the log-in
    alicia.refresh_from_db()
    assert alicia.erased_at is None
    client.force_login(User.objects.get(username="ada"))
    page = client.get(urls[0]).content.decode()
    assert reverse("privacy:person", args=[alicia.pk]) in page
    response = client.get(urls[2])
    with zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))) as archive:
        doc = json.loads(archive.read("personal-data.json"))
    assert doc["account"]["email"] == world.EMAIL and doc["scope"] == "administrator"


def test_the_console_erases_after_the_user_name_is_typed(built, client):
    alicia = built["user"]
    client.force_login(User.objects.get(username="ada"))
    url = reverse("privacy:erase", args=[alicia.pk])
    form = {"reason": "request of 2026-08-01", "mode": "keep"}
    page = client.post(url, form)
    assert page.status_code == 200 and b'id="confirm-erase"' in page.content
    assert client.post(url, {**form, "confirm": "someone"}).status_code == 400
    alicia.refresh_from_db()
    assert alicia.erased_at is None and not Erasure.objects.exists()
    response = client.post(url, {**form, "confirm": world.USERNAME})
    assert response.status_code == 302
    record = Erasure.objects.get()
    assert (record.by.username, record.by_label, record.reason, record.mode) == (
        "ada", "console", "request of 2026-08-01", "keep")


# ---------------------------------------------------------------- retention
def test_retention_dry_run_lists_what_the_run_anonymises(built, settings):
    settings.SLPDESK_RETENTION_YEARS = 1
    c1, c2, c3 = built["cases"]
    before, report = sla_snapshot(), july_report()
    assert list(retention.due(datetime(2027, 7, 6, 12, 0, tzinfo=UTC), 1)) == []
    when = datetime(2027, 7, 7, 12, 0, tzinfo=UTC)  # c1 was resolved 2026-07-06 16:00 UTC
    assert [c.number for c in retention.due(when, 1)] == [c1]
    assert retention.handle_one_retention(when) is True
    assert retention.handle_one_retention(when) is False  # once a day
    run = RetentionRun.objects.get()
    assert (run.day.isoformat(), run.cases) == ("2027-07-07", 1)
    case = Case.objects.get(number=c1)
    assert case.anonymised_at == when
    assert set(case.messages.values_list("body", flat=True)) == {MARKER}
    assert (case.description, case.resolution_summary) == (MARKER, MARKER)
    assert case.title == f"{MARKER}'s post-processor crashes"
    assert not Attachment.objects.filter(case=case).exclude(file="").exists()
    assert Case.objects.get(number=c3).description.startswith("Please copy Alicia")
    assert list(retention.due(when, 1)) == []
    after = sla_snapshot()
    assert {k: v for k, v in after.items() if k != c1} == {
        k: v for k, v in before.items() if k != c1}
    assert after[c1] == before[c1]
    assert july_report() == report
    assert audit.audit(when).differ == 0
    assert built["user"].is_active  # accounts are not retention's business


def test_retention_is_off_unless_set(built, settings):
    settings.SLPDESK_RETENTION_YEARS = None
    assert retention.handle_one_retention(datetime(2030, 1, 1, tzinfo=UTC)) is False
    assert not RetentionRun.objects.exists()


@pytest.mark.parametrize("text, expected", [("", None), ("off", None), (" 7 ", 7), ("1", 1),
                                            ("100", 100)])
def test_retention_years_parse(text, expected):
    assert parse_retention_years(text) == expected


@pytest.mark.parametrize("text", ["0", "101", "-1", "2.5", "seven", "1y"])
def test_a_bad_retention_setting_is_refused(text):
    with pytest.raises(ValueError, match="number of years"):
        parse_retention_years(text)


# ---------------------------------------------------- the commands, the bytes
def slpdesk(env, *args, check=True) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "slpdesk.cli", *args], env=env,
                          capture_output=True, text=True, timeout=300)
    if check:
        assert done.returncode == 0, done.stderr
    return done


def stored_bytes(env) -> bytes:
    """Everything the desk keeps: the data directory's files and, on PostgreSQL, a
    dump of the database; in lower case."""
    data = Path(env["SLPDESK_DATA_DIR"])
    chunks = [p.read_bytes() for p in sorted(data.rglob("*")) if p.is_file()]
    for path in data.rglob("*.eml"):  # the mails' parts decoded (quoted-printable, base64)
        for part in email.message_from_bytes(path.read_bytes()).walk():
            if not part.is_multipart():
                chunks.append(part.get_payload(decode=True) or b"")
    if connection.vendor == "postgresql":
        db = connection.settings_dict
        dump = subprocess.run(
            ["pg_dump", "-h", db["HOST"] or "127.0.0.1", "-p", str(db["PORT"] or 5432),
             "-U", db["USER"], db["NAME"]], capture_output=True, check=True,
            env={**os.environ, "PGPASSWORD": db["PASSWORD"] or ""})
        chunks.append(dump.stdout)
    return b"\n".join(chunks).lower()


def test_erasure_leaves_no_trace_in_the_database_files_or_mail(command_env):
    env = {**command_env, "PYTHONPATH": os.pathsep.join(
        [str(HERE), env_path] if (env_path := command_env.get("PYTHONPATH")) else [str(HERE)])}
    slpdesk(env, "migrate")
    built = json.loads(subprocess.run(
        [sys.executable, "-m", "privacy_world"], env={**env, "DJANGO_SETTINGS_MODULE":
                                                      "slpdesk.settings"},
        capture_output=True, text=True, check=True, timeout=300).stdout)
    report = ["report", "--from", "2026-07-01", "--to", "2026-07-31", "--format", "json"]
    figures = json.loads(slpdesk(env, *report).stdout)
    assert slpdesk(env, "sla", "audit").stdout.strip() == "checked 3 cases: 0 differ"
    before = stored_bytes(env)
    for needle in world.NEEDLES:  # the search would find her: she is there
        assert needle.encode() in before, needle
    assert world.FILE_CONTENT.lower() in before

    done = slpdesk(env, "privacy", "erase", "--email", world.EMAIL.upper(), "--reason",
                   "asked by Alicia Quenneville", "--by", "ada")
    out = json.loads(done.stdout)
    assert out["account_id"] == built["alicia"] and out["mode"] == "redact"
    after = stored_bytes(env)
    for needle in world.NEEDLES:
        assert needle.encode() not in after, needle
    assert json.loads(slpdesk(env, *report).stdout) == figures
    assert slpdesk(env, "sla", "audit").stdout.strip() == "checked 3 cases: 0 differ"
    again = slpdesk(env, "privacy", "erase", "--user", out["erased"], check=False)
    assert (again.returncode, again.stderr.strip()) == (
        2, "slpdesk: error: This person's data was already erased.")


def test_retention_command_dry_run_then_run(command_env):
    env = {**command_env, "PYTHONPATH": str(HERE), "SLPDESK_RETENTION_YEARS": "1"}
    slpdesk(env, "migrate")
    built = json.loads(subprocess.run(
        [sys.executable, "-m", "privacy_world"], env={**env, "DJANGO_SETTINGS_MODULE":
                                                      "slpdesk.settings"},
        capture_output=True, text=True, check=True, timeout=300).stdout)
    at = ["--now", "2027-07-07T12:00:00Z"]
    dry = json.loads(slpdesk(env, "privacy", "retention", "--dry-run", *at).stdout)
    assert (dry["would_anonymise"], [c["number"] for c in dry["cases"]]) == (
        1, built["cases"][:1])
    assert json.loads(slpdesk(env, "privacy", "retention", "--dry-run", "--now",
                              "2027-07-06T12:00:00Z").stdout)["would_anonymise"] == 0
    done = json.loads(slpdesk(env, "privacy", "retention", *at).stdout)
    assert (done["dry_run"], done["anonymised"]) == (False, 1)
    assert json.loads(slpdesk(env, "privacy", "retention", "--dry-run", *at).stdout)[
        "would_anonymise"] == 0
    assert slpdesk(env, "sla", "audit").stdout.strip() == "checked 3 cases: 0 differ"
    assert world.FILE_CONTENT not in b"".join(
        p.read_bytes() for p in Path(env["SLPDESK_DATA_DIR"], "media").rglob("*")
        if p.is_file())


def test_the_commands_refuse_bad_input_in_one_line(command_env):
    slpdesk(command_env, "migrate")
    nobody = slpdesk(command_env, "privacy", "export", "--user", "nobody", check=False)
    assert (nobody.returncode, nobody.stderr) == (2, "slpdesk: error: There is no account "
                                                     "nobody.\n")
    off = slpdesk(command_env, "privacy", "retention", "--dry-run", check=False)
    assert (off.returncode, off.stderr) == (
        2, "slpdesk: error: SLPDESK_RETENTION_YEARS is not set: retention is off\n")
    bad = slpdesk({**command_env, "SLPDESK_RETENTION_YEARS": "ten"}, "privacy", "retention",
                  check=False)
    assert bad.returncode == 2
    assert bad.stderr == ("slpdesk: error: SLPDESK_RETENTION_YEARS: 'ten' is not a number of "
                          "years from 1 to 100 (or off)\n")
    dry = slpdesk({**command_env, "SLPDESK_RETENTION_YEARS": "3"}, "privacy", "retention",
                  "--dry-run")
    assert json.loads(dry.stdout)["would_anonymise"] == 0
    when = slpdesk({**command_env, "SLPDESK_RETENTION_YEARS": "3"}, "privacy", "retention",
                   "--now", "soon", check=False)
    assert (when.returncode, when.stderr) == (
        2, "slpdesk: error: --now: 'soon' is not an ISO 8601 time\n")


def test_a_common_user_name_is_only_erased_in_the_persons_own_cases(built):
    from slpdesk.desk import services

    acme = Organisation.objects.get(name="Acme Tooling")
    sven = User.objects.create_user("support", "sven@example.com", "pw", first_name="Sven",
                                    last_name="Ström", organisation=acme)
    c3 = Case.objects.get(number=built["cases"][2])
    services.record_customer_reply(c3, "Our support contract says Sven Ström decides.",
                                   actor=User.objects.get(username="bob"),
                                   now=c3.updated_at)
    mine = services.receive_case(c3.site, contact=sven, channel="portal",
                                 proposed_priority="P4", title="Ask support, not Sven",
                                 actor=sven, now=c3.updated_at)
    erase(sven, now=LATER, redact=False)
    assert c3.messages.latest("pk").body == f"Our support contract says {MARKER} decides."
    mine.refresh_from_db()
    assert mine.title == f"Ask {MARKER}, not {MARKER}"


def test_the_admin_lists_erasures_read_only(built, client):
    ada = User.objects.get(username="ada")
    ada.is_staff = ada.is_superuser = True
    ada.save()
    record = erase_alicia(built, reason="request")
    client.force_login(ada)
    page = client.get(reverse("admin:privacy_erasure_changelist")).content.decode()
    assert record.subject_ref in page
    assert client.get(reverse("admin:privacy_erasure_add")).status_code == 403
    assert client.post(reverse("admin:privacy_erasure_delete", args=[record.pk]),
                       {"post": "yes"}).status_code == 403
    assert Erasure.objects.filter(pk=record.pk).exists()


def test_webhook_deliveries_lose_her_identifiers(built):
    import uuid

    from slpdesk.webhooks.models import Delivery, Webhook

    hook = Webhook.objects.create(url="https://hooks.example.com/in", events=["case.created"],
                                  secret="s", created_at=LATER)
    c1, _c2, c3 = (Case.objects.get(number=n) for n in built["cases"])
    bodies = {c1: {"contact": {"name": "Alicia Quenneville", "email": world.EMAIL},
                   "title": "Alicia's post-processor crashes"},
              c3: {"description": f"Please copy Alicia Quenneville ({world.EMAIL})"}}
    for case, data in bodies.items():
        Delivery.objects.create(uuid=uuid.uuid4(), webhook=hook, event="case.created",
                                case=case, body=json.dumps({"data": data}), state="pending",
                                next_attempt_at=LATER, created_at=LATER)
    erase_alicia(built)
    got = {d.case_id: json.loads(d.body)["data"] for d in Delivery.objects.all()}
    assert got == {c1.pk: {"contact": {"name": MARKER, "email": MARKER},
                           "title": f"{MARKER}'s post-processor crashes"},
                   c3.pk: {"description": f"Please copy {MARKER} ({MARKER})"}}
