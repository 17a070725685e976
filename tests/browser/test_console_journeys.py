"""The agent's journey in a real browser: find the case in the queue, triage it,
reply, resolve it; the customer sees the answer; and the console in Swedish."""

import re

from playwright.sync_api import expect

from browser.conftest import log_in, screenshot
from slpdesk.desk.models import Case, Escalation


def new_case_of(username: str) -> Case:
    return Case.objects.filter(contact__username=username, status=Case.Status.NEW).first()


def test_an_agent_triages_replies_and_resolves_a_case(page, live_server, demo):
    case = new_case_of("ellen.brooks") or new_case_of("mike.chen")
    log_in(page, live_server, "james.carter")
    page.locator("nav.tabs a", has_text=re.compile(r"^All\b")).click()  # "All 5"
    expect(page.get_by_role("link", name=case.number)).to_be_visible()
    expect(page.locator("table .badge").first).to_be_visible()
    screenshot(page, "console-queue")
    page.get_by_role("link", name=case.number).click()
    expect(page).to_have_url(re.compile(rf"/console/cases/{case.number}/$"))
    expect(page.get_by_role("img", name=re.compile("SLA timeline"))).to_be_visible()

    triage = page.locator("form#triage")
    triage.locator("select").select_option("P2")
    triage.get_by_label("The information is complete").check()
    triage.get_by_role("button", name="Set priority").click()
    expect(page.locator(".messages")).to_contain_text("The priority is set.")
    case.refresh_from_db()
    assert (case.priority, case.status, case.information_complete) == ("P2", "open", True)

    write = page.locator("form#write")
    write.locator("textarea").fill("We can reproduce it; a fixed post is on its way.")
    write.get_by_role("button", name="Send reply").click()
    expect(page.locator(".conversation")).to_contain_text("a fixed post is on its way")
    case.refresh_from_db()
    assert case.response_state == "met"  # the first reply stopped the response clock (K1)

    resolve = page.locator("form#resolve")
    resolve.locator("input[type=radio][value=fixed]").check()
    resolve.locator("textarea").fill("The corrected post is installed.")
    resolve.get_by_role("button", name="Resolve").click()
    # The page that answered the resolve (the reply's message was on the page before).
    expect(page.locator(".messages")).to_contain_text("The case is resolved.")
    case.refresh_from_db()
    assert case.status == "resolved" and case.resolution == "fixed"
    screenshot(page, "console-case")

    # The customer sees the reply and the resolution, and not the internal notes.
    page.get_by_role("button", name="Log out").click()
    log_in(page, live_server, case.contact.username)
    page.goto(f"{live_server.url}/portal/cases/{case.number}/")
    expect(page.get_by_text("a fixed post is on its way")).to_be_visible()
    resolved = page.locator("ol.story li.resolved")  # on the timeline (issue 13)
    expect(resolved.get_by_text("The corrected post is installed.")).to_be_visible()
    expect(resolved.get_by_text("Resolved: Fixed")).to_be_visible()


def test_a_supervisor_acknowledges_an_escalation_from_the_board(page, live_server, demo):
    waiting = Escalation.objects.filter(acknowledged_at__isnull=True, level=1).first()
    if waiting is None:
        case = Case.objects.filter(status=Case.Status.OPEN, escalation_level=0).first()
        from django.utils import timezone

        from slpdesk.desk import services
        waiting = services.escalate(case, "Too slow", channel="portal", actor=case.contact,
                                    now=timezone.now())
    log_in(page, live_server, "sofia.berg")
    page.goto(f"{live_server.url}/console/escalations/")
    expect(page.get_by_role("link", name=waiting.case.number).first).to_be_visible()
    screenshot(page, "console-escalations")
    row = page.locator(f"form[action$='/escalations/{waiting.pk}/acknowledge/']")
    row.get_by_role("button").click()
    expect(page.locator(".messages")).to_contain_text(
        f"Eskaleringen av {waiting.case.number} till nivå 1 har kvitterats.")  # in Swedish
    waiting.refresh_from_db()
    assert waiting.acknowledged_by.username == "sofia.berg"


def test_the_console_and_portal_speak_swedish_to_swedish_users(page, live_server, demo):
    log_in(page, live_server, "anna.lind")  # an agent whose profile says Swedish
    expect(page.locator("html")).to_have_attribute("lang", "sv")
    expect(page.get_by_role("link", name="Kö", exact=True)).to_be_visible()
    screenshot(page, "console-queue-sv")
    page.get_by_role("button", name="Logga ut").click()
    log_in(page, live_server, "karin.nilsson")
    expect(page.locator("html")).to_have_attribute("lang", "sv")
    expect(page.get_by_role("link", name="Nytt ärende").first).to_be_visible()
    screenshot(page, "portal-home-sv")
