"""Canned replies in a real browser (issue 13 item 4): the agent picks one, the
script fills the reply box in place (no page load), and sending it as a request
for information goes through the service: the case waits on the customer."""

import re

from playwright.sync_api import expect

from browser.conftest import log_in
from slpdesk.desk.models import Case, CaseEvent


def test_an_agent_inserts_a_canned_reply_and_sends_it(page, live_server, demo):
    case = Case.objects.filter(status=Case.Status.OPEN, contact__language="en").order_by(
        "pk").first()
    contact = case.contact.get_full_name()
    log_in(page, live_server, "james.carter")
    page.goto(f"{live_server.url}/console/cases/{case.number}/")
    picker = page.locator("form#canned-picker")
    picker.get_by_label("Canned reply").select_option(label="Ask for the controller logs "
                                                            "(shared)")
    picker.get_by_role("button", name="Insert").click()
    box = page.locator("form#write textarea")
    expect(box).to_have_value(re.compile(rf"^Hello {contact},\n\nTo find out what is going "
                                         rf"on in {case.number} we need"))
    expect(picker.locator("#canned-status")).to_contain_text("edit it before sending")
    expect(page).to_have_url(re.compile(rf"/console/cases/{case.number}/$"))  # in place
    ask = page.locator("form#write button.primary")
    expect(ask).to_have_text("Ask the customer for information")

    box.press("End")
    box.type(" Thanks!")
    ask.click()
    expect(page.locator(".messages")).to_contain_text("the case waits on the customer")
    case.refresh_from_db()
    assert (case.status, case.resolution_state) == ("waiting", "paused")
    event = CaseEvent.objects.filter(case=case).order_by("-id").first()
    assert event.type == "info_requested"
    body = case.messages.get(pk=event.data["message"]).body
    assert body.startswith(f"Hello {contact},") and body.endswith("James Carter Thanks!")
