"""Pages fit the screen (issue 13, item 6): no horizontal scrolling in the console at
1280 px nor in the portal at 390 px (a phone), where lists become cards; and the
search box in the header finds cases in both."""

from __future__ import annotations

import pytest

from .conftest import log_in, screenshot

CONSOLE_PAGES = [
    "/console/", "/console/?view=all", "/console/?view=unassigned", "/console/?view=all&q=the",
    "/console/escalations/", "/console/calendars/", "/console/cases/new/", "/console/mail/",
    "/console/inbound/", "/console/updates/", "/console/policy/",
]
PORTAL_PAGES = ["/portal/", "/portal/cases/", "/portal/cases/?show=all",
                "/portal/cases/?q=the", "/portal/cases/new/", "/portal/updates/", "/preferences/"]


def overflow(page) -> tuple[int, int]:
    """The document's scroll width and the viewport's width."""
    return page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]")


def assert_fits(page, url: str) -> None:
    response = page.goto(url)
    assert response.status == 200, url
    scroll, width = overflow(page)
    assert scroll <= width, f"{url}: {scroll} px wide in a {width} px window"


def test_the_console_fits_1280_pixels(page, live_server, demo):
    from slpdesk.desk.models import Case

    page.set_viewport_size({"width": 1280, "height": 900})
    log_in(page, live_server, "sofia.berg")
    case = Case.objects.filter(messages__isnull=False).order_by("pk").first()
    for path in [*CONSOLE_PAGES, f"/console/cases/{case.number}/"]:
        assert_fits(page, live_server.url + path)
    page.goto(f"{live_server.url}/console/?view=all")
    screenshot(page, "console-queue-1280")


@pytest.mark.parametrize("username", ["ellen.brooks", "lars.svensson"])
def test_the_portal_fits_a_390_pixel_phone(page, live_server, demo, username):
    from slpdesk.desk import access
    from slpdesk.desk.models import User

    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, live_server, username)
    user = User.objects.get(username=username)
    case = access.cases_for(user).order_by("pk").first()
    for path in [*PORTAL_PAGES, f"/portal/cases/{case.number}/"]:
        assert_fits(page, live_server.url + path)
    # the list is a stack of cards: each row's cells sit one above the other
    page.goto(f"{live_server.url}/portal/cases/?show=all")
    first = page.locator("table.list tbody tr").first
    boxes = [cell.bounding_box() for cell in first.locator("td").all()]
    assert len(boxes) >= 2 and boxes[1]["y"] > boxes[0]["y"]
    screenshot(page, f"portal-cases-390-{username}")


def test_the_header_search_jumps_to_a_case_and_finds_words(page, live_server, demo):
    from slpdesk.desk.models import Case

    case = Case.objects.order_by("pk").first()
    log_in(page, live_server, "james.carter")
    page.fill("header input[name=q]", case.number)
    page.press("header input[name=q]", "Enter")
    page.wait_for_url(f"**/console/cases/{case.number}/")
    word = case.title.split()[0]
    page.fill("header input[name=q]", word)
    page.press("header input[name=q]", "Enter")
    page.wait_for_url("**/console/?q=*")
    numbers = page.locator("table.queue tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.case)")
    assert case.number in numbers
