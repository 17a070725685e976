"""``slpdesk import`` (issue 16, item 1): cases with their history from JSON Lines."""

import base64
import io
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from jsonschema import Draft202012Validator

from desk.conftest import ny
from slpdesk import cli
from slpdesk.desk import audit, publishing, search, services
from slpdesk.desk.models import (
    Attachment,
    Case,
    CaseEvent,
    Message,
    Organisation,
    Outbox,
    PolicyVersion,
    SlaNotice,
    User,
)
from slpdesk.imports import cases as importer
from slpdesk.sla import shipped_policy_text

#: The facts and due times the services write; compared between a case the services
#: wrote and its import.
FACTS = [c for c in services.SLA_COLUMNS if c not in ("next_sla_event_at",)]


@pytest.fixture
def clock(monkeypatch):
    state = SimpleNamespace(now=ny(2026, 7, 10, 12, 0))
    monkeypatch.setattr("django.utils.timezone.now", lambda: state.now)
    return state


def run(capsys, *args):
    code = cli.main(["import", *args])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err.splitlines()


def iso(dt: datetime) -> str:
    return dt.isoformat()


def line(**over) -> dict:
    """A P1 case at Acme's Hartford site (New York): received Monday 2026-07-06 09:00,
    triaged complete at once, first response at 10:00, resolved fixed at 15:00."""
    doc = {
        "external_id": "old-1", "organisation": "Acme Tooling", "site": "Hartford",
        "contact_email": "alice@example.com", "title": "Licence server down",
        "description": "It stopped at nine.", "channel": "email",
        "received_at": "2026-07-06T09:00:00-04:00",
        "events": [
            {"at": "2026-07-06T09:00:00-04:00", "type": "received", "priority": "P1"},
            {"at": "2026-07-06T09:00:00-04:00", "type": "priority_assigned", "priority": "P1"},
            {"at": "2026-07-06T09:00:00-04:00", "type": "info_complete"},
            {"at": "2026-07-06T10:00:00-04:00", "type": "responded"},
            {"at": "2026-07-06T15:00:00-04:00", "type": "resolved", "resolution": "fixed",
             "summary": "Restarted the service."},
        ],
        "messages": [
            {"at": "2026-07-06T10:00:00-04:00", "author_email": "sam@example.com",
             "public": True, "body": "We are on it."},
            {"at": "2026-07-06T10:05:00-04:00", "author_email": "sam@example.com",
             "public": False, "body": "Looks like the licence daemon."},
        ],
    }
    doc.update(over)
    return doc


def write(tmp_path, *docs, name="cases.jsonl") -> str:
    path = tmp_path / name
    path.write_text("".join((d if isinstance(d, str) else json.dumps(d)) + "\n"
                            for d in docs), encoding="utf-8")
    return str(path)


# ------------------------------------------------------------------ the format
def test_the_schema_is_valid_and_docs_names_it():
    from pathlib import Path

    Draft202012Validator.check_schema(importer.schema())
    docs = Path(__file__).resolve().parents[2] / "docs" / "import.schema.json"
    assert json.loads(docs.read_text(encoding="utf-8")) == importer.schema()
    assert importer.schema_error(line()) is None


# ------------------------------------------------------------- one case, by hand
def test_a_case_keeps_its_history_and_its_sla(cast, clock, capsys, tmp_path):
    path = write(tmp_path, line())
    assert run(capsys, path) == (0, ["imported 1 cases, skipped 0"], [])
    case = Case.objects.get(external_id="old-1")
    assert case.number == f"SLP-{case.pk:06d}"
    assert (case.organisation, case.site, case.contact) == (cast.acme, cast.hartford,
                                                           cast.alice)
    assert case.received_at == datetime(2026, 7, 6, 13, 0, tzinfo=UTC)
    assert (case.status, case.priority, case.proposed_priority, case.resolution,
            case.resolution_summary, case.information_complete) == (
        "resolved", "P1", "P1", "fixed", "Restarted the service.", True)
    assert case.updated_at == datetime(2026, 7, 6, 19, 0, tzinfo=UTC)
    # P1 on the global calendar (Mon-Fri 08-17 New York): response target 2 h, met
    # after 1 h; resolution target 8 h, resolved after 6 business hours.
    assert (case.response_outcome, case.response_seconds, case.response_target) == (
        "met", 3600, 2 * 3600)
    assert (case.resolution_outcome, case.resolution_seconds, case.resolution_target) == (
        "met", 6 * 3600, 8 * 3600)
    assert case.response_stopped == datetime(2026, 7, 6, 14, 0, tzinfo=UTC)
    assert case.resolution_stopped == datetime(2026, 7, 6, 19, 0, tzinfo=UTC)
    assert case.sla_computed_at == clock.now
    assert case.policy_version == PolicyVersion.objects.in_force(case.received_at)
    events = list(case.events.values_list("type", "at", "priority", "resolution"))
    assert [e[0] for e in events] == ["received", "priority_assigned", "info_complete",
                                      "responded", "resolved"]
    reply, note = case.messages.order_by("created_at")
    assert (reply.kind, reply.author, note.kind) == ("public", cast.sam, "internal")
    assert case.events.get(type="responded").data == {"message": reply.pk}
    # The search index has it; nothing is mailed.
    found = search.search(Case.objects.all(), "licence daemon", staff=True)
    assert list(found.values_list("pk", flat=True)) == [case.pk]
    assert not Outbox.objects.exists()
    assert audit.audit(clock.now).differ == 0


# ------------------------------------------------------ the services, then import
def export_line(case: Case, external_id: str) -> dict:
    """The import line of a case written by the services (this test's exporter)."""
    events = []
    for ev in case.events.order_by("at", "id"):
        if ev.type not in CaseEvent.SLA_TYPES:
            continue
        item = {"at": ev.at.isoformat(), "type": ev.type}
        for key in ("priority", "kind", "resolution"):
            if getattr(ev, key):
                item[key] = getattr(ev, key)
        for key in ("summary", "reason", "defect_reference"):
            if ev.data.get(key):
                item[key] = ev.data[key]
        events.append(item)
    return {
        "external_id": external_id, "organisation": case.organisation.name,
        "site": case.site.name, "contact_email": case.contact.email, "title": case.title,
        "description": case.description, "channel": case.channel,
        "received_at": case.received_at.isoformat(), "events": events,
        "messages": [{"at": m.created_at.isoformat(), "author_email": m.author.email,
                      "public": m.kind != "internal", "body": m.body}
                     for m in case.messages.order_by("created_at", "id")],
    }


def story(cast, start):
    """A case through the services: P2 proposed, assigned P1 without the information,
    a request for information, the answer, marked complete, two updates, classified,
    resolved, reopened, resolved again; still open at the end (reopened)."""
    at = start
    case = services.receive_case(cast.hartford, contact=cast.alice, channel="portal",
                                 proposed_priority="P2", title="Crash on save",
                                 description="Saving a drawing crashes.", actor=cast.alice,
                                 now=at)
    steps = [
        (30, lambda t: services.assign_priority(case, "P1", actor=cast.sam, now=t)),
        (45, lambda t: services.reply(case, "Looking.", actor=cast.sam, now=t)),
        (90, lambda t: services.request_information(case, "Which build?", actor=cast.sam,
                                                    now=t)),
        (400, lambda t: services.record_customer_reply(case, "Build 7.", actor=cast.alice,
                                                       now=t)),
        (420, lambda t: services.mark_information_complete(case, actor=cast.sam, now=t)),
        (600, lambda t: services.reply(case, "Reproduced.", actor=cast.sam, now=t)),
        (700, lambda t: services.add_note(case, "Ask dev.", actor=cast.sam, now=t)),
        (1500, lambda t: services.reply(case, "Fix in test.", actor=cast.sam, now=t)),
        (1600, lambda t: services.resolve(case, "timeline", "Patch next week.",
                                          actor=cast.sam, now=t)),
        (3000, lambda t: services.reopen(case, "Still crashes.", actor=cast.alice, now=t)),
    ]
    for minutes, step in steps:
        step(start + timedelta(minutes=minutes))
    case.refresh_from_db()
    return case


def test_a_case_the_services_wrote_imports_to_the_same_sla_and_round_trips(
        cast, clock, capsys, tmp_path):
    original = story(cast, ny(2026, 7, 6, 9, 0))
    clock.now = ny(2026, 7, 9, 9, 0)
    services.refresh_sla(original, clock.now)  # the same moment as the import's
    original.refresh_from_db()
    first = write(tmp_path, export_line(original, "round-1"), name="one.jsonl")
    assert run(capsys, first) == (0, ["imported 1 cases, skipped 0"], [])
    imported = Case.objects.get(external_id="round-1")
    for column in FACTS:
        assert getattr(imported, column) == getattr(original, column), column
    for column in ("status", "priority", "proposed_priority", "information_complete",
                   "kind", "resolution", "channel", "title", "description", "received_at",
                   "updated_at", "calendar", "time_zone", "policy_version_id"):
        assert getattr(imported, column) == getattr(original, column), column
    # ... and the imported case, exported and imported again, is the same once more.
    second = write(tmp_path, export_line(imported, "round-2"), name="two.jsonl")
    assert run(capsys, second) == (0, ["imported 1 cases, skipped 0"], [])
    again = Case.objects.get(external_id="round-2")
    for column in FACTS:
        assert getattr(again, column) == getattr(original, column), column
    assert export_line(again, "x") == export_line(original, "x")
    assert audit.audit(clock.now).differ == 0


def test_past_sla_moments_are_settled_not_mailed(cast, clock, capsys, tmp_path):
    # An open P1 received on Monday 09:00, never answered: at the import (Friday) its
    # response breached long ago (due 11:00). The worker must not mail about it.
    doc = line(events=line()["events"][:3], messages=[])
    assert run(capsys, write(tmp_path, doc)) == (0, ["imported 1 cases, skipped 0"], [])
    case = Case.objects.get()
    due = datetime(2026, 7, 6, 15, 0, tzinfo=UTC)
    # As of its last event the response had no verdict (the facts: open, breaching
    # after 11:00); at the import it is breached.
    assert (case.response_due, case.response_outcome, case.response_open_due,
            case.response_state) == (due, "open", due, "breached")
    fired = set(SlaNotice.objects.values_list("kind", "clock", "due"))
    assert ("breached", "response", due) in fired
    # Both clocks breached before the import (Friday) and no update is owed before a
    # first contact: nothing is left for the worker to fire.
    assert case.next_sla_event_at is None
    assert audit.audit(clock.now).differ == 0
    from slpdesk.worker.steps import handle_one_sla_event

    assert handle_one_sla_event(clock.now) is False
    assert not Outbox.objects.exists()


# ------------------------------------------------------------------- K8
def test_the_policy_version_in_force_at_receipt_is_the_cases(cast, clock, capsys, tmp_path):
    # A version halving P1's response target took effect on 2026-07-01; a case
    # received before it keeps the shipped policy, one after it gets the new one.
    text = shipped_policy_text()
    assert 'version = "' in text
    new_text = text.replace('version = "', 'version = "9-', 1)
    old = PolicyVersion.objects.in_force(ny(2026, 1, 1, 0, 0))
    published = PolicyVersion.objects.create(
        policy_id=old.policy_id, version=PolicyVersion.from_toml(
            new_text, published_at=ny(2026, 5, 1, 0, 0),
            effective_at=ny(2026, 7, 1, 0, 0)).version,
        toml=new_text, published_at=ny(2026, 5, 1, 0, 0),
        effective_at=publishing.effective_from(datetime(2026, 7, 1).date()))
    before = line(external_id="before", received_at="2026-06-29T09:00:00-04:00",
                  events=[{**e, "at": e["at"].replace("07-06", "06-29")}
                          for e in line()["events"]],
                  messages=[])
    after = line(external_id="after", messages=[])
    assert run(capsys, write(tmp_path, before, after))[0] == 0
    assert Case.objects.get(external_id="before").policy_version == old
    assert Case.objects.get(external_id="after").policy_version == published
    assert audit.audit(clock.now).differ == 0


# ----------------------------------------------------------------- re-runs, etc.
def test_a_second_run_skips_what_it_imported(cast, clock, capsys, tmp_path):
    path = write(tmp_path, line(), line(external_id="old-2"))
    assert run(capsys, path) == (0, ["imported 2 cases, skipped 0"], [])
    assert run(capsys, path) == (0, ["imported 0 cases, skipped 2"], [])
    more = write(tmp_path, line(), line(external_id="old-3"), name="more.jsonl")
    assert run(capsys, more) == (0, ["imported 1 cases, skipped 1"], [])
    assert Case.objects.count() == 3


def test_a_dry_run_writes_nothing(cast, clock, capsys, tmp_path):
    path = write(tmp_path, line(), line(external_id="n", create=True, organisation="Newco",
                                        site="Oslo", country="NO", time_zone="Europe/Oslo",
                                        contact_email="per@newco.example"))
    users = User.objects.count()
    assert run(capsys, path, "--dry-run") == (
        0, ["dry run: 2 cases would be imported; nothing written",
            "imported 0 cases, skipped 0"], [])
    assert (Case.objects.count(), User.objects.count()) == (0, users)
    assert not Organisation.objects.filter(name="Newco").exists()


def test_standard_input(cast, clock, capsys, tmp_path, monkeypatch):
    text = json.dumps(line()) + "\n"
    monkeypatch.setattr(sys, "stdin", SimpleNamespace(buffer=io.BytesIO(text.encode())))
    assert run(capsys, "-") == (0, ["imported 1 cases, skipped 0"], [])
    assert Case.objects.get().external_id == "old-1"


def test_created_organisation_site_and_contacts(cast, clock, capsys, tmp_path):
    doc = line(create=True, organisation="Newco", site="Oslo", country="NO",
               time_zone="Europe/Oslo", contact_email="per@newco.example",
               received_at="2026-07-06T09:00:00+02:00",
               events=[{**e, "at": e["at"].replace("-04:00", "+02:00")}
                       for e in line()["events"]],
               messages=[{"at": "2026-07-06T11:00:00+02:00", "public": True,
                          "author_email": "kari@newco.example", "body": "Me too."}])
    second = {**doc, "external_id": "old-2"}
    assert run(capsys, write(tmp_path, doc, second)) == (
        0, ["imported 2 cases, skipped 0"], [])
    org = Organisation.objects.get(name="Newco")
    site = org.sites.get()
    assert (site.name, site.country, site.time_zone) == ("Oslo", "NO", "Europe/Oslo")
    per, kari = (User.objects.get(email=e) for e in ("per@newco.example",
                                                     "kari@newco.example"))
    for person in (per, kari):
        assert (person.organisation, person.is_active, person.role,
                person.has_usable_password()) == (org, False, "customer", False)
    assert set(Case.objects.values_list("contact", flat=True)) == {per.pk}
    assert audit.audit(clock.now).differ == 0


# -------------------------------------------------------------------- files
def test_attachments_by_path_and_by_content(cast, clock, capsys, tmp_path, settings):
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "log.txt").write_bytes(b"error 42\n")
    doc = line(attachments=[
        {"path": "files/log.txt", "at": "2026-07-06T09:30:00-04:00"},
        {"name": "../../shot.png", "content": base64.b64encode(b"\x89PNG..").decode(),
         "internal": True},
    ])
    assert run(capsys, write(tmp_path, doc)) == (0, ["imported 1 cases, skipped 0"], [])
    log, shot = Attachment.objects.order_by("name")
    assert (log.name, log.size, log.file.read(), log.internal) == ("log.txt", 9,
                                                                   b"error 42\n", False)
    assert (shot.name, shot.internal, shot.file.read()) == ("shot.png", True, b"\x89PNG..")
    assert log.uploaded_at == datetime(2026, 7, 6, 13, 30, tzinfo=UTC)
    assert CaseEvent.objects.filter(type="attached").count() == 2
    assert audit.audit(clock.now).differ == 0


# ---------------------------------------------------------------- bad lines
BAD = [
    ("not json", "{oops", "line 2: not JSON"),
    ("schema", {**line(external_id="b"), "channel": "fax"},
     "line 2: channel: 'fax' is not one of"),
    ("unknown field", {**line(external_id="b"), "colour": "red"},
     "line 2: line: Additional properties are not allowed ('colour' was unexpected)"),
    ("offset", line(external_id="b", received_at="2026-07-06T09:00:00"),
     "line 2: received_at: '2026-07-06T09:00:00' does not match"),
    ("same id", line(), "line 2: external_id: 'old-1' is also on line 1"),
    ("organisation", line(external_id="b", organisation="Nobody"),
     "line 2: organisation: there is no organisation 'Nobody'"),
    ("site", line(external_id="b", site="Nowhere"),
     "line 2: site: 'Acme Tooling' has no site 'Nowhere'"),
    ("site zone", line(external_id="b", create=True, time_zone="Europe/Oslo", country="US"),
     "line 2: site: 'Hartford' exists in US America/New_York, not US Europe/Oslo"),
    ("new site without zone", line(external_id="b", create=True, site="Nowhere"),
     "line 2: site: a site to create needs country and time_zone"),
    ("contact", line(external_id="b", contact_email="olga@example.com"),
     "line 2: contact_email: 'Acme Tooling' has no contact 'olga@example.com'"),
    ("contact elsewhere", line(external_id="b", contact_email="olga@example.com",
                               create=True),
     "line 2: contact_email: 'olga@example.com' is the address of a user outside "
     "'Acme Tooling'; no second account is made for it"),
    ("author", line(external_id="b", messages=[{"at": "2026-07-06T10:00:00-04:00",
                                                "author_email": "olga@example.com",
                                                "public": True, "body": "Hi"}]),
     "line 2: messages[0].author_email: no member of support or of 'Acme Tooling' has "
     "the address 'olga@example.com'"),
    ("note by customer", line(external_id="b", messages=[
        {"at": "2026-07-06T10:00:00-04:00", "author_email": "bob@example.com",
         "public": False, "body": "Hi"}]),
     "line 2: messages[0]: an internal note (public false) must be written by support staff"),
    ("first event", line(external_id="b", events=line()["events"][1:]),
     "line 2: events[0]: the first event must be 'received', at received_at"),
    ("order", line(external_id="b", events=[*line()["events"][:3], line()["events"][4],
                                            line()["events"][3]]),
     "line 2: events: "),
    ("future", line(external_id="b", events=[*line()["events"],
                                             {"at": "2027-01-01T00:00:00Z", "type": "reopened"}]),
     "line 2: events[5].at: 2027-01-01T00:00:00Z is in the future"),
    ("priority", line(external_id="b", events=[{**line()["events"][0], "priority": "P9"},
                                               *line()["events"][1:]]),
     "line 2: events[0].priority: 'P9' is not one of"),
    ("needs", line(external_id="b", events=[*line()["events"][:4],
                                            {"at": "2026-07-06T15:00:00-04:00",
                                             "type": "resolved"}]),
     "line 2: events[4]: a resolved event needs a resolution"),
    ("base64", line(external_id="b", attachments=[{"name": "a", "content": "!!"}]),
     "line 2: attachments[0].content: not base64"),
    ("missing file", line(external_id="b", attachments=[{"path": "nope.txt"}]),
     "line 2: attachments[0].path: cannot read 'nope.txt'"),
    ("outside", line(external_id="b", attachments=[{"path": "../../etc/passwd"}]),
     "line 2: attachments[0].path: '../../etc/passwd' lies outside the import's directory"),
    ("too large", line(external_id="b", attachments=[
        {"name": "big", "content": base64.b64encode(b"x" * 101).decode()}]),
     "line 2: attachments[0]: big is 101 bytes, more than the limit of 100"),
]


@pytest.mark.parametrize("doc,reason", [(b[1], b[2]) for b in BAD], ids=[b[0] for b in BAD])
def test_a_bad_line_is_reported_and_nothing_imported(cast, clock, capsys, tmp_path, settings,
                                                     doc, reason):
    settings.SLPDESK_MAX_ATTACHMENT_BYTES = 100
    path = write(tmp_path, line(), doc)
    for args in ((path,), (path, "--dry-run")):
        code, out, err = run(capsys, *args)
        assert (code, out) == (2, [])
        assert err[0].startswith(reason), err
        assert err[-1] == f"slpdesk: error: 1 bad line(s) in {path}; nothing imported"
    assert not Case.objects.exists()


def test_every_bad_line_is_reported(cast, clock, capsys, tmp_path):
    path = write(tmp_path, line(), "[]", line(external_id="b", site="X"), "", "{")
    with open(path, "ab") as fh:
        fh.write(b'{"title": "caf\xe9"}\n')
    code, out, err = run(capsys, path)
    assert (code, out, len(err)) == (2, [], 5)
    assert [e.split(":")[0] for e in err[:4]] == ["line 2", "line 3", "line 5", "line 6"]
    assert err[3] == "line 6: not UTF-8 text"


def test_a_failure_while_writing_leaves_nothing(cast, clock, tmp_path, monkeypatch, settings):
    # Two batches of one case; the second fails after the first was written and its
    # file stored: neither case, nor its rows, nor the file remains.
    from django.db import transaction

    media = tmp_path / "media"
    settings.MEDIA_ROOT = str(media)
    monkeypatch.setattr(importer, "BATCH", 1)
    calls = []
    real = services.store_sla

    def failing(cases, now, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("the disk is full")
        return real(cases, now, *args, **kwargs)

    monkeypatch.setattr(services, "store_sla", failing)
    docs = [line(attachments=[{"name": "a.txt", "content": base64.b64encode(b"a").decode()}]),
            line(external_id="old-2")]
    path = write(tmp_path, *docs)
    with pytest.raises(RuntimeError, match="the disk is full"), transaction.atomic():
        importer.import_file(Path(path), tmp_path, clock.now)
    assert not Case.objects.exists() and not Attachment.objects.exists()
    assert not CaseEvent.objects.exists() and not Message.objects.exists()
    assert [p for p in media.rglob("*") if p.is_file()] == []


def test_progress_goes_to_standard_error(cast, clock, capsys, tmp_path):
    code, out, err = run(capsys, write(tmp_path, line(), line(external_id="b")), "--progress")
    assert (code, out) == (0, ["imported 2 cases, skipped 0"])
    assert "importing:" in "\n".join(err) and "/2 [" in "\n".join(err)  # tqdm: done/total
