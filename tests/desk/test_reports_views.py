"""The reports' pages: who may see them, the report with its charts and links, the
cases behind a figure (in the viewer's zone), the exports and their neutralised
cells, the live board, and the simulator in the console."""

import csv
import io
import re
from types import SimpleNamespace

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from desk.conftest import ny
from desk.test_reports import NOW, build_july, halved_p3_response
from slpdesk.desk import services
from slpdesk.desk.models import Case, PolicyVersion
from slpdesk.reports.exports import neutralise

JULY = {"from": "2026-07-01", "to": "2026-07-31"}


@pytest.fixture
def clock(monkeypatch):
    state = SimpleNamespace(now=NOW)
    monkeypatch.setattr("django.utils.timezone.now", lambda: state.now)
    return state


@pytest.fixture
def july(cast, clock):
    data = build_july(cast)
    for user in (data.sam, data.sue):
        user.time_zone = "America/New_York"
        user.language = "en"
        user.save()
    return data


def as_user(client, user):
    client.force_login(user)
    return client


def numbers_in(response) -> list[str]:
    return sorted(set(re.findall(r'data-case="(SLP-\d+)"', response.content.decode())))


# ------------------------------------------------------------------- access
@pytest.mark.parametrize("name", ["report", "cases", "board", "simulate"])
def test_customers_and_strangers_get_nothing(client, july, cast, name):
    url = reverse(f"reports:{name}")
    assert client.get(url).status_code == 302  # to the log-in
    assert as_user(client, cast.alice).get(url).status_code == 404
    assert client.get(reverse("reports:export", args=["cases", "csv"])).status_code == 404


def test_agents_read_reports_and_the_board_but_do_not_simulate(client, july):
    as_user(client, july.sam)
    for name in ("report", "cases", "board"):
        assert client.get(reverse(f"reports:{name}")).status_code == 200, name
    assert client.get(reverse("reports:simulate")).status_code == 404
    assert client.post(reverse("reports:simulate"), {"text": "x"}).status_code == 404
    page = client.get(reverse("reports:report")).content.decode()
    assert reverse("reports:simulate") not in page


def test_leads_simulate(client, july):
    page = as_user(client, july.sue).get(reverse("reports:simulate"))
    assert page.status_code == 200 and b'name="text"' in page.content


def test_the_console_links_to_the_reports(client, july, cast):
    assert reverse("reports:report").encode() in as_user(client, july.sam).get(
        reverse("console:queue")).content
    client.force_login(cast.alice)
    assert reverse("reports:report").encode() not in client.get(
        reverse("portal:home")).content


# ------------------------------------------------------------------- report
def test_the_report_shows_each_figure_with_a_link_to_its_cases(client, july):
    page = as_user(client, july.sue).get(reverse("reports:report"), JULY)
    assert page.status_code == 200
    html = page.content.decode()
    report = page.context["report"]
    assert report.cases == 13 and report.zone == "America/New_York"
    # The P3 row: 1 response breached (C5), linked to the list of exactly that case.
    link = re.search(r'<tr data-key="P3">.*?</tr>', html, re.S).group(0)
    breached = re.findall(r'href="([^"]+outcome=breached[^"]*)"', link)[0].replace("&amp;",
                                                                                  "&")
    assert "clock=response" in breached
    assert numbers_in(client.get(breached)) == july.number("C5")
    # Medians in business time.
    row = re.search(r'<table class="list figures" id="business-time">.*?</table>', html,
                    re.S).group(0)
    assert "6 h 30 min" in row and "25 h 00 min" in row
    assert 'id="escalation-levels"' in html and "Level 2" in html


def test_the_report_draws_three_charts_with_text_alternatives(client, july):
    html = as_user(client, july.sue).get(reverse("reports:report"), JULY).content.decode()
    svgs = re.findall(r'<svg class="chart" role="img" aria-labelledby="([^"]+)"', html)
    assert svgs == ["chart-compliance-title chart-compliance-desc",
                    "chart-distribution-title chart-distribution-desc",
                    "chart-breaches-title chart-breaches-desc"]
    assert '<title id="chart-breaches-title">Breaches by organisation</title>' in html
    assert html.count("The numbers as a table") == 3
    # The breaches table under the chart: Acme 2 responses (C5, D2) and 1 resolution (C3).
    breaches = re.search(r'id="chart-breaches".*?</figure>', html, re.S).group(0)
    assert re.search(r"<th scope=\"row\">Acme Tooling</th><td>2</td><td>1</td>", breaches)


def test_the_report_is_in_the_viewers_language(client, july):
    july.sue.language = "sv"
    july.sue.save()
    html = as_user(client, july.sue).get(reverse("reports:report"), JULY).content.decode()
    assert '<html lang="sv">' in html
    assert "juli 2026" in html  # month names in Swedish (Django's own catalogue)


def test_a_bad_period_falls_back_to_the_default_with_a_message(client, july):
    page = as_user(client, july.sue).get(reverse("reports:report"),
                                         {"from": "2026-07-31", "to": "2026-07-01"})
    assert page.status_code == 200
    assert [str(m) for m in page.context["messages"]] == [
        "The period ends before it starts. Showing the default period, 2026-06-01 to "
        "2026-08-14, instead."]
    # Default: this month and the two before it, in the viewer's zone (NOW is 14 Aug).
    period = page.context["period"]
    assert (period.first.isoformat(), period.last.isoformat()) == ("2026-06-01", "2026-08-14")


def test_an_invalid_date_names_its_field_in_the_viewers_language(client, july):
    july.sue.language = "sv"
    july.sue.save()
    page = as_user(client, july.sue).get(reverse("reports:report"),
                                         {"from": "2026-13-45", "to": "2026-07-31"})
    assert [str(m) for m in page.context["messages"]] == [
        "Från: Fyll i ett giltigt datum. Visar standardperioden, 2026-06-01 till "
        "2026-08-14, i stället."]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_an_export_of_a_bad_period_is_refused_not_replaced(client, july, fmt):
    response = as_user(client, july.sue).get(
        reverse("reports:export", args=["report", fmt]), {"from": "2026-07-31",
                                                          "to": "2026-07-01"})
    assert response.status_code == 400
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content.decode() == "The period ends before it starts."
    # Nothing left over to show on the next page.
    page = client.get(reverse("reports:report"), JULY)
    assert list(page.context["messages"]) == []


def test_case_lists_take_months_in_the_viewers_zone(client, july):
    """E1 was received Fri 31 Jul 23:30 in New York: July there, August in Stockholm."""
    e1 = july.cases["E1"].number
    query = {"from": "2026-07-01", "to": "2026-08-31", "dim": "month"}
    as_user(client, july.sue)
    assert e1 in numbers_in(client.get(reverse("reports:cases"), {**query, "key": "2026-07"}))
    assert numbers_in(client.get(reverse("reports:cases"), {**query, "key": "2026-08"})) == []
    july.sue.time_zone = "Europe/Stockholm"
    july.sue.save()
    assert numbers_in(client.get(reverse("reports:cases"),
                                 {**query, "key": "2026-08"})) == [e1]


def test_case_lists_say_what_they_show_and_ignore_nonsense(client, july):
    as_user(client, july.sue)
    page = client.get(reverse("reports:cases"), {**JULY, "dim": "priority", "key": "P3",
                                                 "clock": "resolution", "outcome": "open"})
    assert numbers_in(page) == july.number("H1")
    assert page.context["described"] == ["Priority: P3 Medium", "Resolution: no verdict yet"]
    everything = client.get(reverse("reports:cases"), {**JULY, "dim": "colour",
                                                       "clock": "x", "outcome": "y"})
    assert len(numbers_in(everything)) == 13


# ------------------------------------------------------------------ exports
def test_the_report_exports_as_csv_and_xlsx(client, july):
    as_user(client, july.sue)
    response = client.get(reverse("reports:export", args=["report", "csv"]), JULY)
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    text = response.content.decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(text)))
    assert lines[0] == ["All cases"]
    assert lines[2][:4] == ["All cases", "13", "9", "69.2"]
    p3 = next(row for row in lines if row and row[0] == "P3 Medium")
    assert p3[:6] == ["P3 Medium", "6", "5", "83.3", "1", "16.7"]
    response = client.get(reverse("reports:export", args=["report", "xlsx"]), JULY)
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames[:3] == ["All cases", "By priority", "By month"]
    assert [c.value for c in book["By priority"][2]][:3] == ["P1 Urgent", 2, 1]


def test_exported_cells_that_look_like_formulas_are_neutralised(client, july, cast):
    nasty = ["=HYPERLINK(\"http://evil.example\",\"x\")", "+1+2", "-3+4", "@SUM(A1)",
             "\t=1", "\r=1"]
    for n, title in enumerate(nasty):
        services.receive_case(cast.hartford, contact=cast.alice, channel=Case.Channel.PORTAL,
                              proposed_priority="P4", title=title, release=cast.r2026,
                              actor=cast.alice, now=ny(2026, 7, 30, 9, n))
    as_user(client, july.sue)
    text = client.get(reverse("reports:export", args=["cases", "csv"]),
                      JULY).content.decode("utf-8-sig")
    titles = {row[1] for row in csv.reader(io.StringIO(text))}
    for title in nasty:
        assert "'" + title.strip() in titles or "'" + title in titles, title
        assert title not in titles
    book = load_workbook(io.BytesIO(client.get(
        reverse("reports:export", args=["cases", "xlsx"]), JULY).content))
    sheet = book.active
    values = {row[1].value: row[1].data_type for row in sheet.iter_rows(min_row=2)}
    assert values["'+1+2"] == "s" and values["'@SUM(A1)"] == "s"
    assert not [v for v in values if isinstance(v, str) and v[:1] in "=+-@"]
    # Times in the viewer's zone, named in the header.
    header = [c.value for c in sheet[1]]
    assert "Received (America/New_York)" in header


def test_neutralise_leaves_numbers_and_plain_text_alone():
    assert neutralise("=1+1") == "'=1+1"
    assert neutralise("\n=1") == "'\n=1"
    assert neutralise("\x00x") == "'\x00x"
    assert neutralise("Acme Tooling") == "Acme Tooling"
    assert neutralise("") == ""
    assert neutralise(-5) == -5 and neutralise(None) is None


def test_a_case_export_follows_the_figure(client, july):
    as_user(client, july.sue)
    text = client.get(reverse("reports:export", args=["cases", "csv"]), {
        **JULY, "clock": "response", "outcome": "breached"}).content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert sorted(r[0] for r in rows[1:]) == july.number("C5", "D2", "G1")
    d2 = next(r for r in rows if r[0] == july.cases["D2"].number)
    header = rows[0]
    assert d2[header.index("Business hours to first response")] == "3.0"
    assert d2[header.index("Response")] == "breached"
    assert client.get(reverse("reports:export", args=["cases", "pdf"])).status_code == 404


# -------------------------------------------------------------------- board
def test_the_board_shows_what_is_breached_owed_and_escalated_now(client, july, cast):
    services.escalate(july.cases["H1"], "Waiting too long.", channel="portal",
                      actor=cast.alice, now=ny(2026, 8, 3, 9, 0))
    # A P1 received 1 h 45 min before NOW: 15 of its 120 minutes left (< 25 %).
    risky = services.receive_case(cast.hartford, contact=cast.alice, channel="portal",
                                  proposed_priority="P1", title="Down", release=cast.r2026,
                                  actor=cast.alice, now=ny(2026, 8, 14, 10, 15))
    page = as_user(client, july.sam).get(reverse("reports:board"))
    # Updated in place by its script, never reloaded whole (issue 13).
    assert "Refresh" not in page
    html = page.content.decode()
    assert 'http-equiv="refresh"' not in html
    assert 'data-refresh="60"' in html and "/static/reports/board.js" in html
    sections = {s["id"]: sorted(r["case"].number for r in s["rows"])
                for s in page.context["sections"]}
    # Every open case, whenever received: C3's resolution and the responses of G1 and
    # Z1 (June, never answered) run past due; no clock is merely at risk; the updates
    # of C3, D2 and E1 are overdue (H1 waits on the customer); the new P1 is at risk.
    assert sections == {"breached": july.number("C3", "G1", "Z1"), "at-risk": [risky.number],
                        "updates": july.number("C3", "D2", "E1")}
    assert [e.case.number for e in page.context["escalations"]] == july.number("H1")
    assert page.context["unacknowledged"] == 1
    assert ('data-summary="Breached: 3, at risk: 1, status updates owed: 3, '
            'open escalations: 1."') in html


@pytest.mark.parametrize(("every", "seconds"), [("5", 5), ("2", 2), ("3600", 3600),
                                                ("1", 60), ("0", 60), ("x", 60)])
def test_the_board_updates_as_often_as_asked_within_bounds(client, july, every, seconds):
    page = as_user(client, july.sam).get(reverse("reports:board"), {"every": every})
    assert f'data-refresh="{seconds}"' in page.content.decode()


# ----------------------------------------------------------------- simulate
def test_a_pasted_draft_shows_today_and_the_draft_side_by_side(client, july):
    as_user(client, july.sue)
    page = client.post(reverse("reports:simulate"), {
        "first": "2026-07-01", "last": "2026-07-31", "text": halved_p3_response()})
    assert page.status_code == 200, page.content[:2000]
    assert numbers_in(page) == july.number("C4")
    rows = {r["label"]: (r["current"], r["draft"]) for r in page.context["comparison"]}
    assert rows["Responses breached"] == (3, 4)
    assert rows["P3 Medium: response target"] == (24 * 3600, 12 * 3600)
    assert b"1 case would change" in page.content


def test_an_uploaded_or_stored_draft_works_too(client, july):
    from django.core.files.uploadedfile import SimpleUploadedFile

    as_user(client, july.sue)
    upload = SimpleUploadedFile("draft.toml", halved_p3_response().encode())
    page = client.post(reverse("reports:simulate"), {
        "first": "2026-07-01", "last": "2026-07-31", "file": upload})
    assert numbers_in(page) == july.number("C4")
    stored = PolicyVersion.objects.get()
    page = client.post(reverse("reports:simulate"), {
        "first": "2026-07-01", "last": "2026-07-31", "version": stored.pk})
    assert page.context["changes_count"] == 0
    csv_page = client.post(reverse("reports:simulate"), {
        "first": "2026-07-01", "last": "2026-07-31", "text": halved_p3_response(),
        "format": "csv"})
    rows = list(csv.reader(io.StringIO(csv_page.content.decode("utf-8-sig"))))
    assert [r[0] for r in rows[1:]] == july.number("C4")


@pytest.mark.parametrize("data, error", [
    ({"text": "this is not toml ="}, "The draft is not a valid policy"),
    ({"text": ""}, "Choose one draft"),
    ({"text": "[policy]\nid = 'x'\n"}, "The draft is not a valid policy"),
])
def test_a_bad_draft_is_refused_with_its_reason(client, july, data, error):
    page = as_user(client, july.sue).post(reverse("reports:simulate"), {
        "first": "2026-07-01", "last": "2026-07-31", **data})
    assert page.status_code == 200
    assert error in page.content.decode()
    assert "result" not in page.context

