"""A customer reads their organisation's monthly SLA statement in the portal (issue 15)."""

import re

from playwright.sync_api import expect

from browser.conftest import log_in
from slpdesk.desk.models import User
from slpdesk.reports import statements


def test_a_customer_opens_a_statement_and_its_csv(page, live_server, demo):
    ellen = User.objects.select_related("organisation").get(username="ellen.brooks")
    month = statements.previous_month(demo.date())
    stored = statements.stored_or_new(ellen.organisation, month, demo)
    log_in(page, live_server, "ellen.brooks")
    page.get_by_role("link", name="Statements").first.click()
    expect(page.locator("h1")).to_have_text("SLA statements")
    page.get_by_role("link", name=month).click()
    expect(page).to_have_url(re.compile(rf"/portal/statements/{month}/$"))
    expect(page.locator("h1")).to_contain_text("SLA statement for")
    expect(page.locator("table").first).to_contain_text(str(stored.figures["totals"]["cases"]))
    with page.expect_download() as info:
        page.get_by_role("link", name="Download as CSV").click()
    assert info.value.suggested_filename == f"sla-statement-{month}.csv"
