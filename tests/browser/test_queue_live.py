"""The queue's working tools in a real browser (issue 13 items 2 and 5): bulk assign,
the "new or changed" notice after a case arrives from elsewhere (the list refreshed in
place, no reload), keyboard shortcuts with their help, and a second agent told who
else is on the case. The polls are made short here; each wait is on a condition."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from slpdesk.desk import services
from slpdesk.desk.models import Case, Site, User

from .conftest import log_in


@pytest.fixture
def quick_polls(settings):
    settings.SLPDESK_QUEUE_POLL_SECONDS = 1
    settings.SLPDESK_CASE_POLL_SECONDS = 1


def new_case(title: str) -> Case:
    """A case a customer sends through the portal, in another session."""
    contact = User.objects.get(username="ellen.brooks")
    site = Site.objects.filter(organisation=contact.organisation).order_by("pk").first()
    return services.receive_case(site, contact=contact, channel=Case.Channel.PORTAL,
                                 proposed_priority="P2", title=title, actor=contact,
                                 now=timezone.now())


def test_bulk_assign_and_the_notice_of_a_new_case(page, live_server, demo, quick_polls):
    unassigned = set(Case.objects.filter(assignee__isnull=True, status__in=(
        "new", "open", "waiting")).values_list("number", flat=True))
    assert unassigned  # the demo has some
    log_in(page, live_server, "james.carter")
    page.goto(f"{live_server.url}/console/?view=unassigned")
    page.get_by_label("Tick every case on this page").check()
    bulk = page.locator("form#bulk")
    bulk.get_by_label("Assign to").select_option(label="Me")
    bulk.get_by_role("button", name="Assign").click()
    expect(page.locator(".messages")).to_contain_text("Assigned to James Carter:")
    james = User.objects.get(username="james.carter")
    assert set(Case.objects.filter(number__in=unassigned, assignee=james).values_list(
        "number", flat=True)) == unassigned
    expect(page.get_by_text("No cases match.")).to_be_visible()

    page.evaluate("window.stillHere = true")  # gone if the page reloads
    case = new_case("Spindle stops at 4000 rpm")
    notice = page.locator("#queue-notice")
    expect(notice).to_contain_text("1 case is new or changed.")
    notice.get_by_role("button", name="Show").click()
    expect(page.locator(f'tr[data-case="{case.number}"]')).to_be_visible()
    expect(notice).to_be_hidden()
    assert page.evaluate("window.stillHere") is True


def test_keyboard_shortcuts_and_their_help(page, live_server, demo):
    first, second = new_case("First of two"), new_case("Second of two")
    log_in(page, live_server, "james.carter")
    page.goto(f"{live_server.url}/console/?view=unassigned&sort=received")
    page.keyboard.press("?")
    help_dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(help_dialog).to_be_visible()
    expect(help_dialog).to_contain_text("Assign the case to me")
    page.keyboard.press("Escape")
    expect(help_dialog).to_be_hidden()
    # Chromium drops a key sent before the page behind a closed modal dialog is
    # rendered again (still inert); wait for two frames, as a person's next key would.
    page.evaluate("() => new Promise(done => requestAnimationFrame("
                  "() => requestAnimationFrame(done)))")

    rows = page.locator("tr[data-case]")
    page.keyboard.press("j")
    expect(rows.nth(0)).to_have_class(re.compile("picked"))
    page.keyboard.press("j")
    expect(rows.nth(1)).to_have_class(re.compile("picked"))
    page.keyboard.press("k")
    expect(rows.nth(0)).to_have_class(re.compile("picked"))  # newest first: "second"
    page.keyboard.press("o")
    expect(page).to_have_url(re.compile(rf"/console/cases/{second.number}/$"))
    page.wait_for_load_state()  # the new page's script listens for keys once loaded

    page.keyboard.press("r")
    reply = page.locator("#write textarea")
    expect(reply).to_be_focused()
    page.keyboard.type("jk/a")  # typing: no shortcut fires
    expect(reply).to_have_value("jk/a")
    expect(page).to_have_url(re.compile(rf"/console/cases/{second.number}/$"))
    page.locator("h1").click()
    page.keyboard.press("n")
    expect(page.locator("#note textarea")).to_be_focused()
    page.locator("h1").click()
    page.keyboard.press("/")
    expect(page.locator("#header-q")).to_be_focused()
    page.locator("h1").click()
    page.keyboard.press("j")  # the next case of the queue
    expect(page).to_have_url(re.compile(rf"/console/cases/{first.number}/$"))
    page.wait_for_load_state()
    page.keyboard.press("a")
    expect(page.locator(".messages")).to_contain_text("The assignment is changed.")
    first.refresh_from_db()
    assert first.assignee.username == "james.carter"


def test_a_second_agent_sees_who_else_is_on_the_case(page, browser, live_server, demo,
                                                     quick_polls):
    case = new_case("Coolant alarm")
    log_in(page, live_server, "james.carter")
    page.goto(f"{live_server.url}/console/cases/{case.number}/")
    other = browser.new_context(locale="sv-SE", viewport={"width": 1280, "height": 900})
    anna = other.new_page()
    log_in(anna, live_server, "anna.lind")  # works in Swedish
    anna.goto(f"{live_server.url}/console/cases/{case.number}/")
    presence = anna.locator("#presence")
    expect(presence).to_have_text("James Carter har det här ärendet öppet.")
    page.locator("#write textarea").type("Checking the coolant")
    expect(presence).to_have_text("James Carter skriver i det här ärendet.")
    expect(page.locator("#presence")).to_have_text("Anna Lind has this case open.")
    other.close()
