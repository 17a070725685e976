"""Accessibility as a test (issue 13 item 8): axe-core, run in Chromium on every main
page of the portal, the console and the reports, in English and in Swedish, finds no
critical and no serious violation (WCAG 2.x A/AA rules and axe's best practices).

One browser; per language one context for the log-in page and the customer (the
case list and a case also on a 390 px phone), and one for the staff member, who walk
the pages in turn. axe-core comes from PyPI
(axe-playwright-python ships axe.min.js; nothing is fetched at run time).
"""

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from browser.conftest import log_in

AXE = Axe()
BLOCKING = ("critical", "serious")

# language -> (browser locale, customer, staff member who sees the console and reports)
WHO = {
    "en": ("en-GB", "ellen.brooks", "david.miller"),  # New York customer; a manager
    "sv": ("sv-SE", "karin.nilsson", "sofia.berg"),   # Swedish customer; a supervisor
}


def _check(page, name: str, language: str, found: list) -> None:
    """Run axe on the page as it is now and keep its critical and serious violations."""
    expect(page.locator("html")).to_have_attribute("lang", language)
    results = AXE.run(page, options={"resultTypes": ["violations"]})
    for v in results.response["violations"]:
        if v["impact"] in BLOCKING:
            targets = [" ".join(map(str, n["target"])) for n in v["nodes"]][:5]
            found.append(f"{language} {name}: {v['id']} ({v['impact']}) {v['help']} "
                         f"at {targets}")


def _visit(page, url: str, name: str, language: str, found: list) -> None:
    response = page.goto(url)
    assert response is not None and response.status == 200, (name, url)
    _check(page, name, language, found)


def _href(page, selector: str) -> str:
    link = page.locator(selector).first
    expect(link).to_be_attached()
    return link.get_attribute("href")


@pytest.mark.parametrize("language", ["en", "sv"])
def test_every_main_page_has_no_critical_or_serious_violation(browser, live_server, demo,
                                                             language):
    locale, customer, staff = WHO[language]
    base = live_server.url
    found: list[str] = []
    size = {"width": 1280, "height": 900}

    context = browser.new_context(locale=locale, viewport=size)
    page = context.new_page()
    _visit(page, f"{base}/login/", "login", language, found)
    log_in(page, live_server, customer)
    expect(page).to_have_url(f"{base}/portal/")
    _check(page, "portal home", language, found)
    _visit(page, f"{base}/portal/cases/?show=all", "portal cases", language, found)
    case = _href(page, "table.list tbody a[href*='/portal/cases/']")
    _visit(page, f"{base}/portal/cases/new/", "portal new case", language, found)
    _visit(page, f"{base}{case}", "portal case", language, found)
    _visit(page, f"{base}/portal/updates/", "portal updates", language, found)
    _visit(page, f"{base}/preferences/", "preferences", language, found)
    page.set_viewport_size({"width": 390, "height": 844})  # a phone: the lists as cards
    _visit(page, f"{base}/portal/cases/?show=all", "portal cases at 390 px", language, found)
    _visit(page, f"{base}{case}", "portal case at 390 px", language, found)
    context.close()

    context = browser.new_context(locale=locale, viewport=size)
    page = context.new_page()
    log_in(page, live_server, staff)
    expect(page.locator("header.topbar form.search")).to_be_attached()
    for path, name in [("/console/?tab=all", "console queue"),
                       ("/console/escalations/", "console escalations"),
                       ("/console/calendars/", "console calendars"),
                       ("/console/mail/", "console outbox"),
                       ("/console/policy/", "console policy"),
                       ("/console/updates/", "console updates"),
                       ("/console/inbound/", "console inbound"),
                       ("/console/cases/new/", "console new case"),
                       ("/console/canned/", "console canned replies")]:
        _visit(page, f"{base}{path}", name, language, found)
    page.goto(f"{base}/console/?tab=all")
    case = _href(page, "main a[href*='/console/cases/SLP-']")
    _visit(page, f"{base}{case}", "console case", language, found)
    _visit(page, f"{base}/reports/", "reports", language, found)
    drill = _href(page, "table#by-priority td.num a")
    _visit(page, f"{base}/reports/board/", "live board", language, found)
    _visit(page, f"{base}{drill}", "reports drill-down", language, found)
    context.close()

    assert found == [], "\n".join(found)
