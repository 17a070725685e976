"""Single sign-on end to end: Chromium, the desk (Django's live server) and a real
OpenID Connect provider in a second process (django-oauth-toolkit, :mod:`sso_idp`):
the authorisation-code flow with PKCE, RS256-signed ID tokens checked against the
provider's JWKS, userinfo. In English and Swedish."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from playwright.sync_api import expect

pytest.importorskip("oauth2_provider", reason="django-oauth-toolkit (the test extra) "
                    "runs the test provider")

from browser.conftest import log_in, screenshot  # noqa: E402

TESTS = Path(__file__).resolve().parents[1]
CLIENT_ID, CLIENT_SECRET = "slpdesk-desk", "a-client-secret-for-the-tests-only"
IDP_PASSWORD = "provider-pass-1"
NAME = "Test IdP"
# The provider's people: (user name there, e-mail, verified, groups).
PEOPLE = [
    ("idp.lead", "kim.lund@vendor.test", True, ["support-leads", "everyone"]),
    ("idp.newagent", "new.agent@vendor.test", True, ["support-agents"]),
    ("idp.gone", "former.staff@vendor.test", True, ["everyone"]),
    ("idp.customer", "Ellen.Brooks@Northwind.test", True, ["customers"]),
    ("idp.stranger", "stranger@elsewhere.test", True, []),
    ("idp.newcomer", "newcomer@northwind.test", True, []),
    ("idp.unverified", "una.verified@northwind.test", False, []),
]
ROLE_MAP = "support-agents=agent,support-leads=supervisor,support-admins=admin"


@pytest.fixture(scope="session")
def idp(live_server, tmp_path_factory):
    """The provider, started once for the session with the desk registered as its
    client (redirect URI: the live server's callback). Yields its issuer URL."""
    import json

    folder = tmp_path_factory.mktemp("idp")
    users = folder / "users.json"
    users.write_text(json.dumps([
        {"username": u, "password": IDP_PASSWORD, "email": e, "email_verified": v,
         "groups": g} for u, e, v, g in PEOPLE]), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(TESTS), "SSO_IDP_DIR": str(folder),
           "SSO_IDP_USERS": str(users)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    stderr = (folder / "stderr.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "sso_idp.serve", CLIENT_ID, CLIENT_SECRET,
         f"{live_server.url}/login/sso/callback/"],
        env=env, stdout=subprocess.PIPE, stderr=stderr, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(process.stdout.readline()), daemon=True).start()
    try:
        first = lines.get(timeout=120)
    except queue.Empty:
        first = ""
    if not first.startswith("READY "):
        process.kill()
        pytest.fail("the test provider did not start: "
                    + (folder / "stderr.log").read_text(encoding="utf-8")[-2000:])
    yield f"http://127.0.0.1:{int(first.split()[1])}/o"
    process.terminate()
    process.wait(timeout=30)
    stderr.close()


@pytest.fixture
def sso(idp, settings, transactional_db):
    """The desk configured for the provider (as the environment would: parse_oidc);
    returns a function that re-configures it with other variables."""
    from slpdesk.config import parse_oidc

    def configure(**extra):
        settings.SLPDESK_OIDC = parse_oidc({
            "SLPDESK_OIDC_ISSUER": idp, "SLPDESK_OIDC_CLIENT_ID": CLIENT_ID,
            "SLPDESK_OIDC_CLIENT_SECRET": CLIENT_SECRET, "SLPDESK_OIDC_NAME": NAME,
            "SLPDESK_OIDC_SCOPES": "openid email profile groups",
            "SLPDESK_OIDC_ROLE_MAP": ROLE_MAP, **extra})

    configure()
    return configure


@pytest.fixture
def people(transactional_db):
    """The desk's side: two customer organisations (one lets northwind.test join), a
    customer contact, a staff member; returns them by name."""
    from slpdesk.desk.models import Organisation, User

    northwind = Organisation.objects.create(name="Northwind Machining",
                                            sso_domains="northwind.test")
    other = Organisation.objects.create(name="Elsewhere Tooling", sso_domains="other.test")
    ellen = User.objects.create_user("ellen", "ellen.brooks@northwind.test", "desk-pass-1",
                                     role=User.Role.CUSTOMER, organisation=northwind)
    unverified = User.objects.create_user("una", "una.verified@northwind.test",
                                          "desk-pass-1", organisation=northwind)
    kim = User.objects.create_user("kim", "kim.lund@vendor.test", "desk-pass-1",
                                   role=User.Role.AGENT)
    former = User.objects.create_user("former", "former.staff@vendor.test", "desk-pass-1",
                                      role=User.Role.MANAGER)
    return {"northwind": northwind, "other": other, "ellen": ellen, "kim": kim,
            "unverified": unverified, "former": former}


def sign_in_with_provider(page, live_server, who: str, button: str = f"Sign in with {NAME}",
                          start: str = "/login/"):
    """From the desk's log-in page (or the page at ``start``, which sends there) through
    the provider's log-in form."""
    page.goto(f"{live_server.url}{start}")
    page.get_by_role("link", name=button).click()
    page.fill("input[name=username]", who)
    page.fill("input[name=password]", IDP_PASSWORD)
    page.get_by_role("button", name="Sign in at the provider").click()


@pytest.fixture
def page_in(browser):
    """A page in a browser whose language is ``lang`` (closed after the test)."""
    contexts = []

    def open_page(lang: str):
        contexts.append(browser.new_context(locale=lang))
        return contexts[-1].new_page()

    yield open_page
    for context in contexts:
        context.close()


# ----------------------------------------------------------------- the button
@pytest.mark.parametrize("lang, text", [("en-GB", "Sign in with Test IdP"),
                                        ("sv-SE", "Logga in med Test IdP")])
def test_the_login_page_offers_the_provider_in_the_browser_language(
        page_in, live_server, sso, lang, text):
    page = page_in(lang)
    page.goto(f"{live_server.url}/login/")
    expect(page.get_by_role("link", name=text)).to_have_attribute("href", "/login/sso/")
    screenshot(page, f"login-sso-{lang}")


def test_without_single_sign_on_there_is_no_button(page, live_server, sso, settings):
    settings.SLPDESK_OIDC = None
    page.goto(f"{live_server.url}/login/")
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    expect(page.locator("a[href^='/login/sso/']")).to_have_count(0)
    assert page.request.get(f"{live_server.url}/login/sso/").status == 404


# ----------------------------------------------------------------------- staff
def test_staff_take_their_role_from_the_groups_and_land_on_the_console(
        page, live_server, sso, people, settings):
    settings.SLPDESK_REQUIRE_2FA = "staff"  # not asked after the provider: its MFA counts
    sign_in_with_provider(page, live_server, "idp.lead")
    expect(page).to_have_url(f"{live_server.url}/console/")
    people["kim"].refresh_from_db()
    assert people["kim"].role == "supervisor"  # support-leads=supervisor, was agent


def test_a_staff_member_with_an_authenticator_app_is_not_asked_for_a_code(
        page, live_server, sso, people):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    TOTPDevice.objects.create(user=people["kim"], name="phone", confirmed=True)
    sign_in_with_provider(page, live_server, "idp.lead")
    expect(page).to_have_url(f"{live_server.url}/console/")


def test_a_new_staff_member_in_a_mapped_group_gets_an_account(page, live_server, sso,
                                                              people):
    from slpdesk.desk.models import User

    sign_in_with_provider(page, live_server, "idp.newagent")
    expect(page).to_have_url(f"{live_server.url}/console/")
    user = User.objects.get(email="new.agent@vendor.test")
    assert (user.username, user.role, user.organisation_id, user.has_usable_password()) == (
        "new.agent@vendor.test", "agent", None, False)


def test_staff_in_no_mapped_group_are_refused(page, live_server, sso, people):
    sign_in_with_provider(page, live_server, "idp.gone")
    expect(page).to_have_url(f"{live_server.url}/login/")
    expect(page.locator(".messages")).to_have_text(
        "Test IdP does not place you in any support group, so you cannot sign in to the desk.")
    people["former"].refresh_from_db()
    assert people["former"].role == "manager"


# ------------------------------------------------------------------- customers
def test_a_customer_is_matched_to_their_account_by_e_mail(page, live_server, sso, people):
    from axes.models import AccessLog

    from slpdesk.desk.models import User

    # the address in other letter case; a page asked for before the log-in comes after it
    sign_in_with_provider(page, live_server, "idp.customer", start="/portal/cases/")
    expect(page).to_have_url(f"{live_server.url}/portal/cases/")
    expect(page.locator(".usernav a[href='/preferences/']")).to_have_text("ellen")
    assert User.objects.count() == 4  # nobody created
    people["ellen"].refresh_from_db()
    assert people["ellen"].organisation_id == people["northwind"].pk
    # in the log-in history (axes' access log), by the way it came in
    assert list(AccessLog.objects.values_list("username", "path_info")) == [
        ("ellen", "/login/sso/callback/")]


@pytest.mark.parametrize("lang, text", [
    ("en-GB", "There is no account for stranger@elsewhere.test here. Ask your "
              "organisation's technical contact or the support team to add you."),
    ("sv-SE", "Det finns inget konto för stranger@elsewhere.test här. Be din "
              "organisations tekniska kontakt eller supporten att lägga till dig."),
])
def test_an_unknown_customer_is_refused(page_in, live_server, sso, people, lang, text):
    from axes.models import AccessAttempt

    from slpdesk.desk.models import User

    page = page_in(lang)
    button = "Logga in med Test IdP" if lang == "sv-SE" else "Sign in with Test IdP"
    sign_in_with_provider(page, live_server, "idp.stranger", button)
    expect(page).to_have_url(f"{live_server.url}/login/")
    expect(page.locator(".messages")).to_have_text(text)
    assert not User.objects.filter(email__iexact="stranger@elsewhere.test").exists()
    # a refusal counts for the address in the lock-out, like a wrong password
    assert [a.failures_since_start for a in AccessAttempt.objects.all()] == [1]


def test_a_locked_address_cannot_sign_in_through_the_provider_either(page, live_server, sso,
                                                                     people):
    from axes.models import AccessAttempt

    AccessAttempt.objects.create(  # 50 failed log-ins from this address just now
        username="someone", ip_address="127.0.0.1", user_agent="x", http_accept="*/*",
        path_info="/login/", get_data="", post_data="", failures_since_start=50)
    sign_in_with_provider(page, live_server, "idp.customer")
    expect(page.get_by_role("heading", name="Log-in locked for a while")).to_be_visible()
    page.goto(f"{live_server.url}/portal/")
    expect(page).to_have_url(f"{live_server.url}/login/?next=/portal/")


def test_an_allowed_domain_joins_that_organisation(page, live_server, sso, people):
    from slpdesk.desk.models import User

    sign_in_with_provider(page, live_server, "idp.newcomer")
    expect(page).to_have_url(f"{live_server.url}/portal/")
    user = User.objects.get(email="newcomer@northwind.test")
    assert (user.role, user.organisation_id) == ("customer", people["northwind"].pk)


@pytest.mark.parametrize("lang, text", [
    ("en-GB", "Your e-mail address is not verified at Test IdP. Verify it there, then "
              "sign in again."),
    ("sv-SE", "Din e-postadress är inte bekräftad hos Test IdP. Bekräfta den där och "
              "logga sedan in igen."),
])
def test_an_unverified_address_is_refused(page_in, live_server, sso, people, lang, text):
    page = page_in(lang)
    button = "Logga in med Test IdP" if lang == "sv-SE" else "Sign in with Test IdP"
    sign_in_with_provider(page, live_server, "idp.unverified", button)
    expect(page).to_have_url(f"{live_server.url}/login/")
    expect(page.locator(".messages")).to_have_text(text)


# ---------------------------------------------------- password log-in for staff
@pytest.mark.parametrize("lang, text", [
    ("en-GB", "Staff sign in with Test IdP: use the button below."),
    ("sv-SE", "Personalen loggar in med Test IdP: använd knappen nedan."),
])
def test_staff_password_log_in_can_be_switched_off(page_in, live_server, sso, people,
                                                   lang, text):
    sso(SLPDESK_OIDC_STAFF_PASSWORD_LOGIN="off")
    page = page_in(lang)
    log_in(page, live_server, "kim", "desk-pass-1")
    expect(page).to_have_url(f"{live_server.url}/login/")
    expect(page.get_by_role("alert")).to_have_text(text)
    # a customer still logs in with a password
    log_in(page, live_server, "ellen", "desk-pass-1")
    expect(page).to_have_url(f"{live_server.url}/portal/")


def test_with_password_log_in_off_a_wrong_staff_password_gets_the_usual_answer(
        page, live_server, sso, people):
    sso(SLPDESK_OIDC_STAFF_PASSWORD_LOGIN="off")
    log_in(page, live_server, "kim", "not-the-password")
    expect(page.get_by_role("alert")).to_contain_text("correct")
    expect(page.get_by_role("alert")).not_to_contain_text("Test IdP")
