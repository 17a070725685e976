"""Log-in, log-out and the language of the pages, in a real browser."""

from playwright.sync_api import expect

from browser.conftest import log_in


def test_a_customer_logs_in_to_the_portal_and_out_again(page, live_server, demo):
    log_in(page, live_server, "ellen.brooks")
    expect(page).to_have_url(f"{live_server.url}/portal/")
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(f"{live_server.url}/login/")


def test_a_wrong_password_is_refused_with_a_message(page, live_server, demo):
    log_in(page, live_server, "ellen.brooks", "not-the-password")
    expect(page.get_by_role("alert")).to_be_visible()
    expect(page).to_have_url(f"{live_server.url}/login/")


def test_staff_land_on_the_console(page, live_server, demo):
    log_in(page, live_server, "james.carter")
    expect(page).to_have_url(f"{live_server.url}/console/")


def test_the_login_page_follows_the_browser_language(browser, live_server, demo):
    context = browser.new_context(locale="sv-SE")
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    expect(page.locator("html")).to_have_attribute("lang", "sv")
    context.close()
