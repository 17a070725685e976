"""Single sign-on without the browser: the SLPDESK_OIDC_* parser and start-up, who the
provider's claims let in (:func:`slpdesk.web.sso.match_user`), the ID token's issuer
and audience, discovery over a real socket, the organisation's auto-join domains, the
password switch for staff. The whole flow runs in tests/browser/test_sso.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.exceptions import SuspiciousOperation, ValidationError

from slpdesk.config import STAFF_ROLES, parse_oidc
from slpdesk.desk.models import Organisation, User
from slpdesk.web import sso

BASE = {"SLPDESK_OIDC_ISSUER": "https://login.example.com/realms/support",
        "SLPDESK_OIDC_CLIENT_ID": "desk", "SLPDESK_OIDC_CLIENT_SECRET": "s3cret"}


def config(**extra):
    return parse_oidc({**BASE, **extra})


# ---------------------------------------------------------------------- parsing
def test_it_reads_the_variables_with_their_defaults():
    c = config()
    assert (c.discovery_url, c.issuer, c.client_id, c.client_secret, c.name, c.email_claim,
            c.groups_claim, c.role_map, c.staff_password_login, c.scopes, c.sign_algo) == (
        "https://login.example.com/realms/support/.well-known/openid-configuration",
        "https://login.example.com/realms/support", "desk", "s3cret", "login.example.com",
        "email", "groups", (), True, "openid email profile", "RS256")
    assert "s3cret" not in repr(c)


def test_it_reads_every_variable():
    c = parse_oidc({
        "SLPDESK_OIDC_DISCOVERY_URL": "https://idp.example.com/custom/discovery.json",
        "SLPDESK_OIDC_CLIENT_ID": "desk", "SLPDESK_OIDC_CLIENT_SECRET": "s3cret",
        "SLPDESK_OIDC_EMAIL_CLAIM": "upn", "SLPDESK_OIDC_GROUPS_CLAIM": "roles",
        "SLPDESK_OIDC_ROLE_MAP": " support-agents = agent , Support Leads=SUPERVISOR ",
        "SLPDESK_OIDC_STAFF_PASSWORD_LOGIN": "off", "SLPDESK_OIDC_NAME": "Acme ID",
        "SLPDESK_OIDC_SCOPES": "openid  email groups", "SLPDESK_OIDC_SIGN_ALGO": "ES256"})
    assert (c.discovery_url, c.issuer, c.email_claim, c.groups_claim, c.role_map,
            c.staff_password_login, c.name, c.scopes, c.sign_algo) == (
        "https://idp.example.com/custom/discovery.json", "", "upn", "roles",
        (("support-agents", "agent"), ("Support Leads", "supervisor")), False, "Acme ID",
        "openid email groups", "ES256")


def test_nothing_set_is_no_single_sign_on():
    assert parse_oidc({}) is None


@pytest.mark.parametrize("env, message", [
    ({"SLPDESK_OIDC_CLIENT_ID": "desk"}, "SLPDESK_OIDC_CLIENT_ID is set but single sign-on "
     "is not: set SLPDESK_OIDC_ISSUER (or SLPDESK_OIDC_DISCOVERY_URL) too"),
    ({"SLPDESK_OIDC_STAFF_PASSWORD_LOGIN": "off"}, "SLPDESK_OIDC_STAFF_PASSWORD_LOGIN is set"),
    ({**BASE, "SLPDESK_OIDC_ISSUER": "http://login.example.com"},
     "SLPDESK_OIDC_ISSUER='http://login.example.com' is not an https:// address"),
    ({**BASE, "SLPDESK_OIDC_ISSUER": "login.example.com"}, "is not an https:// address"),
    ({**BASE, "SLPDESK_OIDC_DISCOVERY_URL": "https://x.example/?a=1"},
     "SLPDESK_OIDC_DISCOVERY_URL='https://x.example/?a=1' is not an https:// address"),
    ({**BASE, "SLPDESK_OIDC_CLIENT_SECRET": ""}, "SLPDESK_OIDC_CLIENT_SECRET is missing"),
    ({**BASE, "SLPDESK_OIDC_CLIENT_ID": " "}, "SLPDESK_OIDC_CLIENT_ID is missing"),
    ({**BASE, "SLPDESK_OIDC_EMAIL_CLAIM": "e mail"}, "SLPDESK_OIDC_EMAIL_CLAIM='e mail' is "
     "not a claim name"),
    ({**BASE, "SLPDESK_OIDC_ROLE_MAP": "leads=boss"}, "SLPDESK_OIDC_ROLE_MAP: 'boss' is not "
     "a staff role (use one of executive, agent, supervisor, manager, admin)"),
    ({**BASE, "SLPDESK_OIDC_ROLE_MAP": "leads=customer"}, "'customer' is not a staff role"),
    ({**BASE, "SLPDESK_OIDC_ROLE_MAP": "agents"}, "SLPDESK_OIDC_ROLE_MAP: 'agents' is not "
     "group=role"),
    ({**BASE, "SLPDESK_OIDC_ROLE_MAP": "a=agent,a=admin"}, "the group 'a' is given twice"),
    ({**BASE, "SLPDESK_OIDC_STAFF_PASSWORD_LOGIN": "sometimes"},
     "SLPDESK_OIDC_STAFF_PASSWORD_LOGIN='sometimes' is not on or off"),
    ({**BASE, "SLPDESK_OIDC_SCOPES": "email profile"}, "with openid among them"),
    ({**BASE, "SLPDESK_OIDC_SIGN_ALGO": "HS256"}, "SLPDESK_OIDC_SIGN_ALGO='HS256' is not one"),
    ({**BASE, "SLPDESK_OIDC_NAME": "x" * 61}, "SLPDESK_OIDC_NAME is longer than 60"),
])
def test_it_refuses_a_bad_value_naming_the_variable(env, message):
    with pytest.raises(ValueError) as info:
        parse_oidc(env)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_http_is_allowed_only_on_this_host():
    assert config(SLPDESK_OIDC_ISSUER="http://127.0.0.1:8080/o").issuer == (
        "http://127.0.0.1:8080/o")
    assert config(SLPDESK_OIDC_ISSUER="http://localhost:9000").name == "localhost"


def test_the_roles_a_group_may_map_to_are_the_staff_roles():
    assert set(STAFF_ROLES) == {r.value for r in User.Role} - {User.Role.CUSTOMER}


def test_several_mapped_groups_give_the_role_with_the_most_rights():
    c = config(SLPDESK_OIDC_ROLE_MAP="ex=executive,ag=agent,ma=manager")
    assert c.roles_for({"ag", "ex", "other"}) == ["executive", "agent"]
    assert c.roles_for(["ma", "ag"]) == ["agent", "manager"]
    assert c.roles_for([]) == []


def test_a_bad_value_stops_the_start_with_one_line(tmp_path):
    env = {**os.environ, "SLPDESK_DATA_DIR": str(tmp_path), "SLPDESK_DATABASE_URL": "",
           **BASE, "SLPDESK_OIDC_ROLE_MAP": "support=wizard"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    proc = subprocess.run([sys.executable, "-m", "slpdesk.cli", "worker", "--once"], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr == ("slpdesk: error: SLPDESK_OIDC_ROLE_MAP: 'wizard' is not a staff "
                           "role (use one of executive, agent, supervisor, manager, admin)\n")


# ------------------------------------------------------------ who gets in
@pytest.fixture
def org(db):
    return Organisation.objects.create(name="Northwind", sso_domains="northwind.test")


def test_a_customer_keeps_their_organisation(org):
    other = Organisation.objects.create(name="Other", sso_domains="other.test")
    ellen = User.objects.create_user("ellen", "ellen@other.test", "x", organisation=other)
    got = sso.match_user(config(), {"email": "ELLEN@other.test", "email_verified": True})
    assert (got.pk, got.organisation_id) == (ellen.pk, other.pk)


@pytest.mark.parametrize("verified", [False, "false", None, 0])
def test_an_address_the_provider_has_not_verified_is_refused(org, verified):
    User.objects.create_user("ellen", "ellen@northwind.test", "x", organisation=org)
    with pytest.raises(sso.Refused, match="not verified at login.example.com"):
        sso.match_user(config(), {"email": "ellen@northwind.test", "email_verified": verified})


def test_a_provider_that_does_not_say_is_believed_and_a_text_true_counts(org):
    User.objects.create_user("ellen", "ellen@northwind.test", "x", organisation=org)
    assert sso.match_user(config(), {"email": "ellen@northwind.test"}).username == "ellen"
    assert sso.match_user(config(), {"email": "ellen@northwind.test",
                                     "email_verified": "true"}).username == "ellen"


def test_the_address_comes_from_the_configured_claim(org):
    User.objects.create_user("ellen", "ellen@northwind.test", "x", organisation=org)
    c = config(SLPDESK_OIDC_EMAIL_CLAIM="upn")
    assert sso.match_user(c, {"upn": "ellen@northwind.test",
                              "email": "x@elsewhere.test"}).username == "ellen"
    with pytest.raises(sso.Refused, match="did not give the desk your e-mail address"):
        sso.match_user(c, {"email": "ellen@northwind.test"})


def test_two_accounts_with_one_address_are_refused(org):
    User.objects.create_user("a", "same@northwind.test", "x", organisation=org)
    User.objects.create_user("b", "Same@northwind.test", "x", organisation=org)
    with pytest.raises(sso.Refused, match="More than one account"):
        sso.match_user(config(), {"email": "same@northwind.test"})


def test_an_account_switched_off_is_refused(org):
    User.objects.create_user("a", "a@northwind.test", "x", organisation=org, is_active=False)
    with pytest.raises(sso.Refused, match="switched off"):
        sso.match_user(config(), {"email": "a@northwind.test"})


def test_a_customer_account_is_never_made_staff_by_a_group(org):
    ellen = User.objects.create_user("ellen", "ellen@northwind.test", "x", organisation=org)
    with pytest.raises(sso.Refused, match="is a customer account here"):
        sso.match_user(config(SLPDESK_OIDC_ROLE_MAP="admins=admin"),
                       {"email": "ellen@northwind.test", "groups": ["admins"]})
    ellen.refresh_from_db()
    assert ellen.role == "customer"


def test_without_a_role_map_staff_keep_their_role(db):
    kim = User.objects.create_user("kim", "kim@vendor.test", "x", role="manager")
    assert sso.match_user(config(), {"email": "kim@vendor.test", "groups": []}).pk == kim.pk
    kim.refresh_from_db()
    assert kim.role == "manager"


def test_the_groups_claim_may_be_one_text_and_is_read_from_its_name(db):
    kim = User.objects.create_user("kim", "kim@vendor.test", "x", role="agent")
    c = config(SLPDESK_OIDC_ROLE_MAP="leads=supervisor", SLPDESK_OIDC_GROUPS_CLAIM="roles")
    sso.match_user(c, {"email": "kim@vendor.test", "roles": "leads", "groups": ["x"]})
    kim.refresh_from_db()
    assert kim.role == "supervisor"


def test_with_a_role_map_staff_go_down_as_well_as_up(db):
    kim = User.objects.create_user("kim", "kim@vendor.test", "x", role="admin")
    sso.match_user(config(SLPDESK_OIDC_ROLE_MAP="agents=agent"),
                   {"email": "kim@vendor.test", "groups": ["agents"]})
    kim.refresh_from_db()
    assert kim.role == "agent"


def test_a_newcomer_without_an_allowed_domain_or_group_gets_no_account(org):
    with pytest.raises(sso.Refused, match="There is no account for x@sub.northwind.test"):
        sso.match_user(config(), {"email": "x@sub.northwind.test"})  # sub-domain: not listed
    assert not User.objects.filter(email="x@sub.northwind.test").exists()


def test_a_newcomer_takes_the_name_and_a_free_user_name(org):
    User.objects.create_user("new@northwind.test", "other@vendor.test", "x", role="agent")
    user = sso.match_user(config(), {"email": "new@northwind.test", "given_name": "Nia",
                                     "family_name": "Ek"})
    assert (user.username, user.first_name, user.last_name, user.role,
            user.organisation_id) == ("new@northwind.test-2", "Nia", "Ek", "customer", org.pk)


# ----------------------------------------------------------- the organisation
def test_auto_join_domains_are_cleaned_and_checked(org):
    other = Organisation(name="Other", sso_domains=" Other.TEST; @mail.other.test other.test")
    other.full_clean()
    assert other.sso_domains == "other.test, mail.other.test"
    with pytest.raises(ValidationError) as info:
        Organisation(name="Dup", sso_domains="x.test, NORTHWIND.test").full_clean()
    assert info.value.message_dict["sso_domains"] == [
        "northwind.test already belongs to Northwind."]
    with pytest.raises(ValidationError) as info:
        Organisation(name="Bad", sso_domains="localhost").full_clean()
    assert info.value.message_dict["sso_domains"] == [
        "localhost is not an e-mail domain (e.g. example.com)."]


def test_the_admin_edits_the_auto_join_domains(admin_client, org):
    page = admin_client.get(f"/admin/desk/organisation/{org.pk}/change/")
    assert b'name="sso_domains"' in page.content


# ------------------------------------------------------------- the ID token
@pytest.fixture
def key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def backend_for(c, issuer):
    backend = sso.OidcBackend()
    backend.config, backend.document = c, {"issuer": issuer}
    backend.OIDC_RP_SIGN_ALGO = "RS256"
    return backend


def token(key, **claims):
    now = datetime.now(UTC)
    body = {"iss": "https://login.example.com/realms/support", "aud": "desk", "sub": "1",
            "iat": now, "exp": now + timedelta(minutes=5), **claims}
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": "k"})


@pytest.mark.parametrize("claims, accepted", [
    ({}, True),
    ({"aud": ["desk", "other"], "azp": "desk"}, True),
    ({"aud": "other"}, False),
    ({"aud": ["desk", "other"]}, False),  # several audiences, not authorised for us
    ({"iss": "https://evil.example.com"}, False),
])
def test_the_id_token_must_be_ours_from_our_issuer(key, claims, accepted):
    backend = backend_for(config(), "https://login.example.com/realms/support")
    if accepted:
        assert backend.get_payload_data(token(key, **claims), key.public_key())["sub"] == "1"
    else:
        with pytest.raises(SuspiciousOperation):
            backend.get_payload_data(token(key, **claims), key.public_key())


def test_a_token_signed_by_another_key_is_refused(key):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    backend = backend_for(config(), "https://login.example.com/realms/support")
    with pytest.raises(SuspiciousOperation):
        backend.get_payload_data(token(other), key.public_key())


# -------------------------------------------------------------- discovery
@pytest.fixture
def served():
    """A discovery document served on 127.0.0.1; counts the requests."""
    state = {"document": {}, "hits": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            state["hits"] += 1
            body = json.dumps(state["document"]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state["issuer"] = f"http://127.0.0.1:{server.server_port}/realm"
    yield state
    server.shutdown()
    sso._discovered.clear()


def _document(issuer):
    return {"issuer": issuer, "authorization_endpoint": issuer + "/auth",
            "token_endpoint": issuer + "/token", "jwks_uri": issuer + "/jwks"}


def test_discovery_is_read_once_and_kept(served, settings):
    served["document"] = _document(served["issuer"])
    c = config(SLPDESK_OIDC_ISSUER=served["issuer"])
    assert sso.discovery(c)["token_endpoint"] == served["issuer"] + "/token"
    assert sso.discovery(c)["jwks_uri"] == served["issuer"] + "/jwks"
    assert served["hits"] == 1


def test_a_document_from_another_issuer_is_refused(served):
    served["document"] = _document("https://elsewhere.example.com")
    with pytest.raises(sso.Unavailable, match="is not SLPDESK_OIDC_ISSUER"):
        sso.discovery(config(SLPDESK_OIDC_ISSUER=served["issuer"]))


def test_a_document_without_an_endpoint_is_refused(served):
    served["document"] = {**_document(served["issuer"]), "jwks_uri": None}
    with pytest.raises(sso.Unavailable, match="no jwks_uri in the document"):
        sso.discovery(config(SLPDESK_OIDC_ISSUER=served["issuer"]))


# ------------------------------------------------------------ password log-in
@pytest.fixture
def accounts(org):
    User.objects.create_user("kim", "kim@vendor.test", "pw-kim-123", role="agent")
    User.objects.create_user("root", "root@vendor.test", "pw-root-123", role="admin",
                             is_staff=True, is_superuser=True)
    User.objects.create_user("ellen", "ellen@northwind.test", "pw-ellen-123",
                             organisation=org)


def test_staff_password_log_in_off_refuses_staff_everywhere(client, settings, accounts):
    settings.SLPDESK_OIDC = config(SLPDESK_OIDC_STAFF_PASSWORD_LOGIN="off")
    page = client.post("/login/", {"username": "kim", "password": "pw-kim-123"})
    assert page.status_code == 200
    assert "Staff sign in with login.example.com: use the button below." in (
        page.content.decode())
    page = client.post("/admin/login/", {"username": "root", "password": "pw-root-123"})
    assert "_auth_user_id" not in client.session
    assert client.post("/login/", {"username": "ellen", "password": "pw-ellen-123"}).url == "/"
    assert client.session["_auth_user_id"]


def test_staff_password_log_in_is_on_by_default(client, settings, accounts):
    settings.SLPDESK_OIDC = config()
    assert client.post("/login/", {"username": "kim", "password": "pw-kim-123"}).url == "/"


def test_an_open_staff_password_session_ends_when_the_switch_goes_off(client, settings,
                                                                     accounts):
    settings.SLPDESK_OIDC = config()
    client.post("/login/", {"username": "kim", "password": "pw-kim-123"})
    assert client.get("/console/").status_code == 200
    settings.SLPDESK_OIDC = config(SLPDESK_OIDC_STAFF_PASSWORD_LOGIN="off")
    assert client.get("/console/").url.startswith("/login/")


def test_without_single_sign_on_its_pages_do_not_exist(client, settings, db):
    settings.SLPDESK_OIDC = None
    assert client.get("/login/sso/").status_code == 404
    assert client.get("/login/sso/callback/?code=a&state=b").status_code == 404


def test_the_provider_unreachable_is_said_on_the_log_in_page(client, settings, db):
    settings.SLPDESK_OIDC = config(SLPDESK_OIDC_ISSUER="http://127.0.0.1:9/o",
                                   SLPDESK_OIDC_NAME="Acme ID")
    page = client.get("/login/sso/", follow=True)
    assert page.redirect_chain == [("/login/", 302)]
    assert "Acme ID cannot be reached. Try again in a moment." in page.content.decode()
