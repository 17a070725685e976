"""The reports in a real browser: the compliance report draws its charts (with their
text alternatives), a figure leads to its cases, the live board, the simulator, and
the charts in Swedish."""

import re

from playwright.sync_api import expect

from browser.conftest import log_in, screenshot
from slpdesk.desk.models import Case
from slpdesk.sla import shipped_policy_text


def _chart_boxes(page) -> list[dict]:
    charts = page.locator("svg.chart[role=img]")
    expect(charts).to_have_count(3)
    return [charts.nth(k).bounding_box() for k in range(3)]


def test_a_manager_reads_the_report_and_follows_a_figure_to_its_cases(page, live_server,
                                                                      demo):
    log_in(page, live_server, "david.miller")  # a manager, in English, New York time
    page.get_by_role("link", name="Reports", exact=True).click()
    expect(page.get_by_role("heading", name="Compliance report")).to_be_visible()
    expect(page.get_by_role("img", name="Compliance over time, by priority")).to_be_visible()
    expect(page.get_by_role("img", name="Breaches by organisation")).to_be_visible()
    expect(page.get_by_role("img", name=re.compile("first response against the target"))
           ).to_be_visible()
    for box in _chart_boxes(page):  # drawn, and at a readable size
        assert box["width"] > 400 and box["height"] > 120
    # The chart's numbers as a table, for those who cannot see it.
    figure = page.locator("figure.chart").last
    figure.get_by_text("The numbers as a table").click()
    expect(figure.locator("table")).to_be_visible()
    screenshot(page, "reports-compliance")

    # The P2 row's case count leads to exactly those cases.
    p2 = page.locator("table#by-priority tr[data-key=P2]")
    count = int(p2.locator("td.num").first.inner_text())
    p2.locator("td.num a").first.click()
    expect(page.get_by_role("heading", name="Cases behind a figure")).to_be_visible()
    expect(page.locator("#report-cases tbody tr")).to_have_count(count)
    first = page.locator("#report-cases tbody tr a").first
    number = first.inner_text()
    first.click()
    expect(page).to_have_url(re.compile(rf"/console/cases/{number}/$"))


def test_the_live_board_updates_in_place_and_can_be_paused(page, live_server, demo):
    log_in(page, live_server, "david.miller")
    page.goto(f"{live_server.url}/reports/board/?every=2")
    expect(page.get_by_role("heading", name="Live board")).to_be_visible()
    expect(page.locator("meta[http-equiv=refresh]")).to_have_count(0)  # no reloading page
    breached = Case.objects.filter(response_state="breached", response_stopped__isnull=True)
    if breached.exists():
        expect(page.locator("section").filter(has=page.locator("#breached"))
               .get_by_role("link", name=breached.first().number)).to_be_visible()
    screenshot(page, "reports-board")
    live = page.locator("#board-live")
    pause = page.locator("#board-pause")
    expect(pause).to_have_text("Pause updates")
    expect(pause).to_have_attribute("aria-pressed", "false")

    # A change on the desk shows up without a full-page reload.
    page.evaluate("window.stillThisPage = true")
    number = live.locator("tr[data-case]").first.get_attribute("data-case")
    Case.objects.filter(number=number).update(title="Renamed while the board watched")
    expect(live.locator(f"tr[data-case='{number}']").first).to_contain_text(
        "Renamed while the board watched", timeout=15_000)
    assert page.evaluate("window.stillThisPage") is True
    # A keyboard user keeps their place: the focused link has focus after an update.
    link = live.locator(f"tr[data-case='{number}'] a").first
    link.focus()
    shown = live.get_attribute("data-generated")
    expect(live).not_to_have_attribute("data-generated", shown, timeout=15_000)
    expect(live.locator(f"tr[data-case='{number}'] a").first).to_be_focused()
    # When the counts change, the new ones are said politely (a live status region).
    announce = page.locator("#board-announce")
    expect(announce).to_have_attribute("aria-live", "polite")
    expect(announce).to_have_text("")
    before = live.get_attribute("data-summary")
    Case.objects.filter(number=number).update(status=Case.Status.RESOLVED)
    expect(live.locator(f"tr[data-case='{number}']")).to_have_count(0, timeout=15_000)
    expect(announce).to_have_text(live.get_attribute("data-summary"))
    assert live.get_attribute("data-summary") != before
    assert page.evaluate("window.stillThisPage") is True

    # Paused: the timer beats on, but nothing is fetched and nothing changes.
    pause.click()
    expect(pause).to_have_text("Resume updates")
    expect(pause).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#board-state")).to_have_text("Updates are paused.")
    fetched = []
    page.on("request", lambda r: fetched.append(r.url) if "/reports/board/" in r.url else None)
    shown = live.get_attribute("data-generated")
    beats = int(pause.get_attribute("data-ticks") or 0)
    expect(pause).to_have_attribute("data-ticks", str(beats + 2), timeout=15_000)
    assert fetched == []
    expect(live).to_have_attribute("data-generated", shown)

    # Remembered in this browser: after a reload the board stays paused.
    page.reload()
    expect(pause).to_have_attribute("aria-pressed", "true")
    fetched.clear()
    shown = live.get_attribute("data-generated")
    expect(pause).to_have_attribute("data-ticks", "2", timeout=15_000)
    assert fetched == []
    expect(live).to_have_attribute("data-generated", shown)

    # Resumed: updates again, and says so.
    pause.click()
    expect(pause).to_have_attribute("aria-pressed", "false")
    expect(live).not_to_have_attribute("data-generated", shown, timeout=15_000)
    expect(page.locator("#board-state")).to_have_text("Updates every 2 seconds.")


def test_a_supervisor_simulates_a_draft_in_swedish(page, live_server, demo):
    log_in(page, live_server, "sofia.berg")  # Swedish, Stockholm time
    page.goto(f"{live_server.url}/reports/")
    expect(page.locator("html")).to_have_attribute("lang", "sv")
    _chart_boxes(page)
    months = page.locator("#by-month tbody th").all_inner_texts()
    assert months and all(re.search(r"\b(januari|februari|mars|april|maj|juni|juli|augusti|"
                                     r"september|oktober|november|december) \d{4}", m)
                          for m in months), months
    page.goto(f"{live_server.url}/reports/simulate/")
    text = shipped_policy_text().replace('version = "1"', 'version = "2"')
    p1 = text.index("[priorities.P1]")
    text = text[:p1] + text[p1:].replace('response = "2h"', 'response = "30m"', 1)
    page.locator("textarea[name=text]").fill(text)
    page.locator("form#simulate button[type=submit]").first.click()
    expect(page.locator("table#comparison")).to_be_visible()
    screenshot(page, "reports-simulate-sv")
