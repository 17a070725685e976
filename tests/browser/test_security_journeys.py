"""Issue 11 in Chromium: password reset through the outbox (English and Swedish),
two-factor enrolment and sign-in with codes computed by pyotp (an independent
RFC 6238), and no Content-Security-Policy violation on any main page for any role."""

from __future__ import annotations

import re

import pyotp
import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from browser.conftest import log_in

NEW_PASSWORD = "Glacier-Harbour-4817"


def _reset_link(username: str) -> tuple[str, str]:
    """The subject and the link of the newest password-reset mail to ``username``, as
    the worker would send it (the MIME message built from the outbox row)."""
    from slpdesk.desk.models import Outbox
    from slpdesk.mail.outbound import build_message

    row = Outbox.objects.filter(kind="password_reset", recipient__username=username).latest(
        "created_at")
    message = build_message(row)
    text = message.get_body(("plain",)).get_content()
    return str(message["Subject"]), re.search(r"http://\S+/password-reset/\S+/", text)[0]


@pytest.mark.parametrize("username, locale, texts", [
    ("ellen.brooks", "en-GB", {"link": "Forgotten your password?", "send": "Send the link",
                               "subject": "Set a new password", "set": "Set the password",
                               "done": "Your new password is set."}),
    ("karin.nilsson", "sv-SE", {"link": "Glömt lösenordet?", "send": "Skicka länken",
                                "subject": "Välj ett nytt lösenord", "set": "Spara lösenordet",
                                "done": "Ditt nya lösenord är sparat."}),
])
def test_a_user_resets_a_forgotten_password_by_e_mail(browser, live_server, demo, username,
                                                      locale, texts):
    from slpdesk.desk.demo import DEMO_PASSWORD
    from slpdesk.desk.models import User

    context = browser.new_context(locale=locale)
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.get_by_role("link", name=texts["link"]).click()
    page.fill("input[name=email]", User.objects.get(username=username).email)
    page.get_by_role("button", name=texts["send"]).click()
    expect(page).to_have_url(f"{live_server.url}/password-reset/sent/")

    subject, link = _reset_link(username)
    assert subject == texts["subject"]
    page.goto(link)
    page.fill("input[name=new_password1]", NEW_PASSWORD)
    page.fill("input[name=new_password2]", NEW_PASSWORD)
    page.get_by_role("button", name=texts["set"]).click()
    expect(page.get_by_text(texts["done"])).to_be_visible()

    page.goto(link)  # the link works once
    expect(page.get_by_role("alert")).to_be_visible()
    log_in(page, live_server, username, DEMO_PASSWORD)  # the old password is gone
    expect(page).to_have_url(f"{live_server.url}/login/")
    log_in(page, live_server, username, NEW_PASSWORD)
    expect(page).to_have_url(f"{live_server.url}/portal/")
    context.close()
    # The other demo users keep the shared password.
    other = browser.new_context()
    try:
        page = other.new_page()
        log_in(page, live_server, "james.carter")
        expect(page).to_have_url(f"{live_server.url}/console/")
    finally:
        other.close()  # its queue page polls; no request may outlive the test


def test_an_administrator_enrols_an_authenticator_and_signs_in_with_it(page, live_server, demo,
                                                                     settings):
    settings.SLPDESK_REQUIRE_2FA = "admin"  # the default
    log_in(page, live_server, "admin")
    expect(page).to_have_url(re.compile(r"/preferences/two-factor/\?next="))
    qr = page.locator("img.qr")
    assert qr.get_attribute("src").startswith("data:image/svg+xml")
    assert qr.evaluate("img => img.naturalWidth") > 0  # the CSP lets the QR code show
    secret = page.locator("code.secret").inner_text()
    totp = pyotp.TOTP(secret)  # SHA-1, 6 digits, 30 s: what the QR code's URI says
    page.fill("input[name=code]", totp.now())
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    expect(page.locator(".recovery-codes code").first).to_be_visible()
    codes = page.locator(".recovery-codes code").all_inner_texts()
    assert len(codes) == 10 and len(set(codes)) == 10
    page.get_by_role("link", name="Continue").click()
    expect(page).to_have_url(f"{live_server.url}/console/")
    page.get_by_role("button", name="Log out").click()
    log_in(page, live_server, "james.carter")  # an agent need not enrol in this mode
    expect(page).to_have_url(f"{live_server.url}/console/")
    page.get_by_role("button", name="Log out").click()

    # Next log-in: the password, then a code (the next time step: a code is good once).
    log_in(page, live_server, "admin")
    expect(page).to_have_url(re.compile(r"/login/verify/"))
    page.goto(f"{live_server.url}/console/")  # nothing opens before the second step
    expect(page).to_have_url(re.compile(r"/login/verify/\?next=/console/"))
    # The code of the step after the one last accepted: django-otp keeps the clock
    # drift it saw at enrolment (a code of the previous step read just after a step
    # began counts as drift -1), so "the wall clock's next step" can fall outside it.
    last = TOTPDevice.objects.get(user__username="admin").last_t
    page.fill("input[name=code]", totp.at((last + 1) * 30))
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live_server.url}/console/")
    page.get_by_role("button", name="Log out").click()

    # A recovery code works once.
    log_in(page, live_server, "admin")
    page.fill("input[name=code]", codes[0])
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live_server.url}/console/")
    page.get_by_role("button", name="Log out").click()
    log_in(page, live_server, "admin")
    page.fill("input[name=code]", codes[0])
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".errorlist")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/login/verify/"))


# ------------------------------------------------------------------ CSP walk
WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
    e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
"""
ROLES = ["ellen.brooks", "lars.svensson", "james.carter", "sofia.berg", "david.miller",
         "helen.ward", "admin"]
SIMULATES = {"sofia.berg", "david.miller", "helen.ward", "admin"}


def _main_pages(page, live_server) -> list[str]:
    links = page.locator("header a[href^='/']").evaluate_all(
        "links => links.map(a => a.getAttribute('href'))")
    extra = ["/preferences/", "/preferences/two-factor/", "/preferences/api-tokens/",
             "/password/"]
    return list(dict.fromkeys(links + extra))


@pytest.mark.parametrize("username", ROLES)
def test_no_page_violates_the_content_security_policy(browser, live_server, demo, username):
    from slpdesk.desk import access
    from slpdesk.desk.models import User

    context = browser.new_context()
    context.add_init_script(WATCH)
    page = context.new_page()
    messages = []
    page.on("console", lambda m: messages.append(m.text)
            if "Content Security Policy" in m.text else None)
    log_in(page, live_server, username)
    urls = _main_pages(page, live_server)
    user = User.objects.get(username=username)
    case = access.cases_for(user).order_by("pk").first()
    if access.is_staff(user):
        urls += [f"/console/cases/{case.number}/", "/reports/board/"]
        urls += ["/reports/simulate/"] if username in SIMULATES else []
    else:
        urls.append(f"/portal/cases/{case.number}/")
    if username == "admin":
        urls += ["/admin/desk/case/", f"/admin/desk/case/{case.pk}/change/", "/api/v1/docs"]
    violations = {}
    for url in urls:
        response = page.goto(live_server.url + url)
        assert response.status < 400, url
        assert "script-src 'self'" in response.headers["content-security-policy"], url
        page.wait_for_load_state("load")
        found = page.evaluate("window.__csp")
        if found:
            violations[url] = found
    assert len(urls) >= 6
    assert violations == {}
    assert messages == []
    # The listener does hear a violation: an inline script the policy must block.
    page.evaluate("""() => { const s = document.createElement('script');
                              s.textContent = 'window.__ran = 1'; document.body.append(s); }""")
    page.wait_for_function("window.__csp.length > 0")
    assert page.evaluate("window.__csp")[0].startswith("script-src")
    assert page.evaluate("window.__ran") is None
    context.close()
