"""Monthly SLA statements (issue 15, item 3): the figures are the report's for the
organisation, worked out here by hand on the July of ``test_reports`` too; stored
once, mailed once per organisation and month (a re-send mails the stored figures);
due on the first business day of the home site's calendar; the portal shows each
organisation only its own; managers preview, re-send and switch them off.

Acme Tooling (Hartford, New York time, the global calendar Mon-Fri 08:00-17:00, US
holidays) in July 2026, at NOW (Fri 14 Aug 12:00 New York): cases C1-C5 and H1 (P3),
D2 (P1), E1 and E3 (P2), F1 (P4); ten in all.
"""

import csv
import io
from datetime import date

import pytest
from django.test import Client
from django.urls import reverse

from desk.conftest import ny
from desk.test_reports import NOW, build_july, july_period
from slpdesk import cli
from slpdesk.desk.models import CalendarClosure, Case, Organisation, Outbox, Statement, User
from slpdesk.reports import compute, statements
from slpdesk.reports.data import replay_period
from slpdesk.reports.facts import report_from_facts
from slpdesk.worker.steps import Context, handle_statements

H = 3600


@pytest.fixture
def july(cast):
    data = build_july(cast)
    Organisation.objects.filter(pk=cast.acme.pk).update(technical_contact=cast.alice)
    cast.acme.refresh_from_db()
    return data


def outcomes(counts: dict) -> tuple:
    return (counts["met"], counts["breached"], counts["not_applicable"], counts["open"])


# ------------------------------------------------------------------ figures
def test_the_figures_worked_out_by_hand(cast, july):
    f = statements.compute_figures(cast.acme, "2026-07", "America/New_York", NOW)
    assert f["cases"] == 10
    # Response: met C1-C4, H1, E1, E3, F1; breached C5, D2.
    assert outcomes(f["totals"]["response"]) == (8, 2, 0, 0)
    # Resolution: met C1, C2, C5, F1; breached C3; n/a C4 (a bug's), E3 (excluded);
    # still open H1, D2, E1.
    assert outcomes(f["totals"]["resolution"]) == (4, 1, 2, 3)
    by = {p["key"]: (p["cases"], p["resolved"]) for p in f["priorities"]}
    # Resolved: C1, C2, C4, C5 (P3) and F1 (P4); E3 was excluded (closed).
    assert by == {"P1": (1, 0), "P2": (2, 0), "P3": (6, 4), "P4": (1, 1)}
    assert f["resolved"] == 5
    assert {e["level"]: (e["escalations"], e["acknowledged"], e["cases"])
            for e in f["escalations"]} == {1: (2, 1, 2), 2: (1, 0, 1)}
    numbers = {name: july.cases[name].number for name in ("C3", "C5", "D2")}
    assert f["breaches"] == sorted([
        # C5: received Mon 6 Jul 09:00, answered Thu 9 Jul 12:00: 8 + 9 + 9 + 4 = 30 h
        # of business time against 24 h.
        {"case": numbers["C5"], "priority": "P3", "clock": "response",
         "target_seconds": 24 * H, "late_seconds": 6 * H},
        # D2: received Mon 13 Jul 16:30, answered Tue 10:30: 0.5 + 2.5 = 3 h against 2 h.
        {"case": numbers["D2"], "priority": "P1", "clock": "response",
         "target_seconds": 2 * H, "late_seconds": 1 * H},
        # C3: 48 h from Mon 6 Jul 09:00 is due Mon 13 Jul 12:00; never resolved. To Fri
        # 14 Aug 12:00: 5 h + 23 full days (Tue 14 Jul - Thu 13 Aug) x 9 h + 4 h = 216 h.
        {"case": numbers["C3"], "priority": "P3", "clock": "resolution",
         "target_seconds": 48 * H, "late_seconds": 216 * H},
    ], key=lambda b: (b["case"], b["clock"]))


def test_the_figures_are_the_vendors_report_for_the_organisation(cast, july):
    f = statements.compute_figures(cast.acme, "2026-07", "America/New_York", NOW)
    # The report the vendor sees: the organisation's row of the whole report...
    report = report_from_facts(Case.objects.all(), july_period(), NOW)
    row = next(b for b in report.dimensions["organisation"] if b.key == str(cast.acme.pk))
    assert f["totals"] == {"cases": row.cases, "response": row.response.as_dict(),
                           "resolution": row.resolution.as_dict()}
    # ...and, independently, every case replayed from its events, the organisation's
    # rows through the report's own arithmetic.
    (rows,) = replay_period(Case.objects.all(), july_period(), NOW)
    mine = compute.build_report([r for r in rows if r.organisation_id == cast.acme.pk],
                                july_period().tz, date(2026, 7, 1), date(2026, 7, 31))
    d = mine.as_dict()
    assert [{k: v for k, v in p.items() if k != "resolved"} for p in f["priorities"]] == \
        [{k: v for k, v in b.items() if k != "label"} for b in d["by"]["priority"]]
    assert f["status_updates"] == d["status_updates"]
    assert f["escalations"] == d["escalations"]


# ------------------------------------------------------------------ sending
def test_it_is_sent_once_and_re_sent_with_the_stored_figures(cast, july):
    first = statements.send(cast.acme, "2026-07", NOW)
    assert first.sent
    assert statements.send(cast.acme, "2026-07", NOW).sent is False  # once
    mail = Outbox.objects.get(kind="statement")
    assert (mail.recipient, mail.language) == (cast.alice, "en")
    assert mail.subject == "Your SLA statement for July 2026"
    assert july.cases["C3"].number in mail.body_text
    assert "216 h 00 min" in mail.body_text  # C3's lateness, business time
    stored = Statement.objects.get(organisation=cast.acme, month="2026-07")
    figures = stored.figures
    # A later change does not alter what was sent: a re-send mails the stored figures.
    Statement.objects.filter(pk=stored.pk).update(figures={**figures, "cases": 99})
    again = statements.send(cast.acme, "2026-07", ny(2026, 8, 20, 9, 0), again=True)
    assert again.sent
    assert Outbox.objects.filter(kind="statement").count() == 2
    assert Statement.objects.get(pk=stored.pk).sends == 2


def test_it_is_written_in_the_contacts_language(cast, july):
    User.objects.filter(pk=cast.alice.pk).update(language="sv")
    cast.acme.refresh_from_db()
    statements.send(cast.acme, "2026-07", NOW)
    mail = Outbox.objects.get(kind="statement")
    assert mail.language == "sv"
    assert mail.subject == "Ert SLA-utdrag för juli 2026"
    assert Statement.objects.get(organisation=cast.acme).language == "sv"


def test_who_gets_one(cast, july):
    # Acme has a contact; Brit Mill and Other Co have none; Endco is served by its
    # partner (E3); Noagree's agreement ended in 2025.
    assert list(statements.covered("2026-07")) == [cast.acme]
    Organisation.objects.filter(pk=cast.acme.pk).update(statements_opt_out=True)
    assert list(statements.covered("2026-07")) == []


def test_due_on_the_first_business_day_of_the_home_sites_calendar(cast, july):
    # 1 Aug 2026 is a Saturday: due Monday 3 August (New York).
    assert statements.first_business_day(cast.acme, "2026-08", NOW) == date(2026, 8, 3)
    # 1 Jan 2027 is a Friday and New Year's Day: Monday 4 January.
    assert statements.first_business_day(cast.acme, "2027-01", NOW) == date(2027, 1, 4)
    # Brit Mill's UK calendar with a closure on Tue 1 Sep 2026: Wednesday 2 September.
    CalendarClosure.objects.create(calendar="uk", date=date(2026, 9, 1), reason="Move")
    assert statements.first_business_day(cast.brit, "2026-09", NOW) == date(2026, 9, 2)

    ctx = Context(name="test")
    handle_statements(ny(2026, 8, 2, 23, 30), ctx)  # Sunday: not yet
    assert not Outbox.objects.filter(kind="statement").exists()
    handle_statements(ny(2026, 8, 3, 0, 15), ctx)  # within the hour: not checked again
    assert not Outbox.objects.filter(kind="statement").exists()
    handle_statements(ny(2026, 8, 3, 9, 0), ctx)
    assert Outbox.objects.filter(kind="statement").count() == 1
    handle_statements(ny(2026, 8, 4, 9, 0), ctx)  # the next day: sent before
    assert Outbox.objects.filter(kind="statement").count() == 1


# ------------------------------------------------------------------ command line
def test_the_command(cast, july, capsys, monkeypatch):
    monkeypatch.setattr("django.utils.timezone.now", lambda: NOW)
    assert cli.main(["statements", "send", "--month", "2026-13"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'2026-13' is not a month" in err
    assert cli.main(["statements", "send", "--month", "2026-07", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out == (f"would send: Acme Tooling (id {cast.acme.pk}) 2026-07: "
                   "would send to alice@example.com\n")
    assert not Statement.objects.exists()
    assert not Outbox.objects.filter(kind="statement").exists()
    assert cli.main(["statements", "send", "--month", "2026-07",
                     "--organisation", str(cast.acme.pk)]) == 0
    assert capsys.readouterr().out.startswith("sent: Acme Tooling")
    assert cli.main(["statements", "send", "--month", "2026-07"]) == 0
    assert capsys.readouterr().out.endswith("2026-07: sent before\n")
    assert Outbox.objects.filter(kind="statement").count() == 1
    assert cli.main(["statements", "send", "--month", "2026-07", "--organisation",
                     "999999"]) == 2
    assert capsys.readouterr().err == "slpdesk: error: There is no organisation 999999.\n"


# ------------------------------------------------------------------ portal
def _client(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_the_portal_shows_each_organisation_only_its_own(cast, july):
    statements.send(cast.acme, "2026-07", NOW)
    Organisation.objects.filter(pk=cast.other.pk).update(technical_contact=cast.olga)
    cast.other.refresh_from_db()
    statements.stored_or_new(cast.other, "2026-07", NOW)
    alice, olga = _client(cast.alice), _client(cast.olga)
    page = alice.get(reverse("portal:statements")).content.decode()
    assert "2026-07" in page
    detail = alice.get(reverse("portal:statement", args=["2026-07"]))
    assert detail.status_code == 200 and july.cases["C3"].number in detail.content.decode()
    download = alice.get(reverse("portal:statement_csv", args=["2026-07"]))
    assert download["Content-Type"] == "text/csv; charset=utf-8"
    table = list(csv.reader(io.StringIO(download.content.decode("utf-8-sig"))))
    assert table[0] == ["Organisation", "Acme Tooling"]
    assert ["All", "10", "5", "8", "2", "0", "0", "4", "1", "2", "3"] in table
    # A name that looks like a formula stays text (CSV injection).
    Statement.objects.filter(organisation=cast.acme).update(
        figures={**Statement.objects.get(organisation=cast.acme).figures,
                 "organisation": "=HYPERLINK(1)"})
    table = list(csv.reader(io.StringIO(alice.get(reverse(
        "portal:statement_csv", args=["2026-07"])).content.decode("utf-8-sig"))))
    assert table[0] == ["Organisation", "'=HYPERLINK(1)"]
    # Olga (Other Co) sees Other Co's statement, never Acme's; the month reads as hers.
    other = olga.get(reverse("portal:statement", args=["2026-07"])).content.decode()
    assert "Other Co" in other and july.cases["C3"].number not in other
    Statement.objects.filter(organisation=cast.other).delete()
    assert olga.get(reverse("portal:statement", args=["2026-07"])).status_code == 404
    assert olga.get(reverse("portal:statement_csv", args=["2026-07"])).status_code == 404
    assert "2026-07" not in olga.get(reverse("portal:statements")).content.decode()
    # Anonymous: the log-in page.
    assert Client().get(reverse("portal:statements")).status_code == 302


# ------------------------------------------------------------------ console
def test_managers_preview_re_send_and_switch_off(cast, july):
    manager = User.objects.create_user("mia", "mia@vendor.example", "pw",
                                       role=User.Role.MANAGER)
    c = _client(manager)
    url = reverse("console:statements")
    page = c.get(url, {"organisation": cast.acme.pk, "month": "2026-07"})
    assert page.status_code == 200 and july.cases["C3"].number in page.content.decode()
    assert not Statement.objects.exists()  # a preview stores nothing
    assert c.get(url, {"organisation": cast.acme.pk, "month": "July"}).status_code == 200
    c.post(reverse("console:statement_send"),
           {"organisation": cast.acme.pk, "month": "2026-07"})
    c.post(reverse("console:statement_send"),
           {"organisation": cast.acme.pk, "month": "2026-07"})
    assert Outbox.objects.filter(kind="statement").count() == 2
    c.post(reverse("console:statement_opt_out"), {"organisation": cast.acme.pk, "opt_out": "1"})
    assert Organisation.objects.get(pk=cast.acme.pk).statements_opt_out
    # An agent is not a manager: the page does not exist for them.
    agent = _client(cast.sam)
    assert agent.get(url).status_code == 404
    assert agent.post(reverse("console:statement_send"),
                      {"organisation": cast.acme.pk, "month": "2026-07"}).status_code == 404
    assert _client(cast.alice).get(url).status_code == 404  # a customer: no such page
