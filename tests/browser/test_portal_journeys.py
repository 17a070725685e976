"""The customer's journeys in a real browser: open a case, follow it, escalate it."""

import re

from playwright.sync_api import expect

from browser.conftest import log_in, screenshot
from slpdesk.desk.models import Attachment, Case, Escalation


def test_a_customer_opens_a_case_with_a_file(page, live_server, demo, tmp_path):
    log_in(page, live_server, "ellen.brooks")
    expect(page.locator(".open-now").first).to_be_visible()  # open now / opens again (C6)
    screenshot(page, "portal-home")
    page.get_by_role("link", name="New case").first.click()
    # The priorities are explained with the policy's own examples before one is chosen.
    expect(page.get_by_text("P2", exact=False).first).to_be_visible()
    site = page.locator("select[name=site]")
    if site.locator("option").count() > 1:
        site.select_option(index=1)
    page.fill("input[name=title]", "Post-processor drops the tool change on op 7")
    page.check("input[name=proposed_priority][value=P2]")
    page.select_option("select[name=release]", index=1)
    page.fill("textarea[name=description]",
              "1. Open the attached part\n2. Post op 7\n3. No M6 in the output")
    page.fill("textarea[name=system_details]", "Windows 11, 32 GB")
    log = tmp_path / "post.log"
    log.write_text("G0 X0 Y0\n")
    page.set_input_files("input[name=attachments]", str(log))
    screenshot(page, "portal-new-case")
    page.get_by_role("button", name="Send the case").click()

    expect(page).to_have_url(re.compile(r"/portal/cases/SLP-\d+/$"))
    case = Case.objects.get(title="Post-processor drops the tool change on op 7")
    expect(page.locator("h1")).to_contain_text(case.number)
    expect(page.get_by_text("post.log")).to_be_visible()
    assert case.proposed_priority == "P2" and case.entitlement == "entitled"
    assert Attachment.objects.get(case=case).name == "post.log"
    assert case.response_due is not None  # the response clock runs (K1)
    screenshot(page, "portal-case")

    page.get_by_role("link", name="Cases").first.click()
    expect(page.get_by_role("link", name=case.number)).to_be_visible()


def test_a_customer_replies_and_escalates_a_case(page, live_server, demo):
    case = Case.objects.filter(contact__username="ellen.brooks", status="open",
                               escalation_level=0).first()
    log_in(page, live_server, "ellen.brooks")
    page.goto(f"{live_server.url}/portal/cases/{case.number}/")
    page.fill("textarea[name=body]", "Any news on this?")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator("ol.conversation")).to_contain_text("Any news on this?")

    page.get_by_role("button", name="Escalate").click()  # no reason: refused
    assert not Escalation.objects.filter(case=case).exists()
    page.get_by_label("Why does the case need escalating?").fill(
        "We have been waiting too long for a fix.")
    page.get_by_role("button", name="Escalate").click()
    expect(page.locator("ol.story").get_by_text(  # on the timeline (issue 13)
        "We have been waiting too long for a fix.")).to_be_visible()
    escalation = Escalation.objects.get(case=case)
    assert escalation.level == 1 and escalation.raised_by.username == "ellen.brooks"


def test_another_organisation_sees_nothing_of_the_case(page, live_server, demo):
    case = Case.objects.filter(contact__username="ellen.brooks").first()
    log_in(page, live_server, "tom.hughes")
    response = page.goto(f"{live_server.url}/portal/cases/{case.number}/")
    assert response.status == 404
    page.goto(f"{live_server.url}/portal/cases/?show=all")
    expect(page.get_by_text(case.number)).to_have_count(0)
