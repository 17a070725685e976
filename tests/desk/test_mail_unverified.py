"""What an unverified e-mail may do (issue 11, X3): a reply with its case's token is
the customer's, a new case is recorded but marked *sender not verified* (console,
API, event log), an escalation waits for the contact to confirm it through a
signed, expiring link in the portal, and e-mail escalations are limited per case.

The MTA ``mx.vendor.example`` is trusted; a mail without its verdict is unverified.
The flood of forged mails of the issue, through the real commands, is in
``test_mail_forged.py``.
"""

import email
import email.header
import email.utils
import re
import time
from datetime import timedelta

import pytest
from django.core import signing
from django.urls import reverse
from django.utils import timezone

from desk.test_mail_in import MON_9, NOW, VERIFIED, deliver, mail, receive, token_to
from slpdesk.api.models import ApiToken
from slpdesk.desk import services
from slpdesk.desk.models import Case, Escalation, InboundMessage, Outbox, User
from slpdesk.mail import inbound, outbound
from slpdesk.mail.tokens import make_confirm_token

State = InboundMessage.State
Outcome = InboundMessage.Outcome
SITE = "https://support.vendor.example"


@pytest.fixture(autouse=True)
def desk(settings):
    settings.SLPDESK_MAIL_TRUSTED_AUTHSERV_IDS = ("mx.vendor.example",)
    settings.SLPDESK_SITE_URL = SITE
    settings.SLPDESK_API_RATE = "off"


def escalation_mail(case, **kw) -> bytes:
    return mail(subject=f"Escalation Request {case.number}",
                body=kw.pop("body", "Nobody answers. Please escalate."), **kw)


def confirmations(case) -> list[Outbox]:
    return list(Outbox.objects.filter(case=case, kind=Outbox.Kind.ESCALATION_REQUEST)
                .order_by("pk"))


def confirm_path(mail_row: Outbox) -> str:
    """The link in the confirmation mail, as the contact would click it."""
    [link] = re.findall(re.escape(SITE) + r"(/portal/\S+/escalate/confirm/\S+/)",
                        mail_row.body_text)
    return link


# ----------------------------------------------------------------- new cases
def test_a_new_case_from_unverified_mail_is_recorded_and_marked(cast, client):
    row = deliver(mail(subject="Licence server down"))
    assert (row.state, row.outcome) == (State.DONE, Outcome.NEW_CASE)
    assert "sender_not_verified" in row.flags
    case = row.case
    assert case.sender_verified is False
    assert case.events.get(type="received").data == {"channel": "email",
                                                     "sender_verified": False}
    # The acknowledgement goes to the contact's registered address, so she notices.
    [ack] = Outbox.objects.filter(case=case, kind=Outbox.Kind.CASE_RECEIVED)
    assert ack.to_address == "alice@example.com"

    client.force_login(cast.sam)
    page = client.get(reverse("console:case", args=[case.number])).content.decode()
    assert 'data-mark="sender-not-verified"' in page
    assert "Sender not verified" in page  # in the banner and in the event log
    queue = client.get(reverse("console:queue") + "?view=all").content.decode()
    assert 'data-mark="sender-not-verified"' in queue

    _token, secret = ApiToken.issue(cast.sam, "t", now=timezone.now())
    got = client.get(f"/api/v1/cases/{case.number}", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert got.status_code == 200 and got.json()["sender_verified"] is False
    listed = client.get("/api/v1/cases", HTTP_AUTHORIZATION=f"Bearer {secret}").json()
    assert [c["sender_verified"] for c in listed["items"]] == [False]


def test_a_new_case_from_verified_mail_carries_no_mark(cast, client):
    case = deliver(mail(headers=VERIFIED)).case
    assert case.sender_verified is True
    assert "sender_verified" not in case.events.get(type="received").data
    client.force_login(cast.sam)
    page = client.get(reverse("console:case", args=[case.number])).content.decode()
    assert 'data-mark="sender-not-verified"' not in page


def test_a_case_opened_in_the_portal_is_not_marked(cast):
    assert receive(cast).sender_verified is True


# ---------------------------------------------------------------- replies
def test_an_unverified_reply_with_its_cases_token_is_the_customers_reply(cast):
    case = receive(cast)
    row = deliver(mail(frm="bob@example.com", to=token_to(case, cast.alice),
                       subject="Re: posts", body="More detail."))
    assert (row.state, row.outcome) == (State.DONE, Outcome.REPLY)
    assert case.messages.get().author == cast.bob


# -------------------------------------------------------------- escalations
def test_an_unverified_escalation_is_held_and_the_contact_asked_to_confirm(cast, client):
    case = receive(cast)
    row = deliver(escalation_mail(case))
    assert (row.state, row.outcome, row.case) == (State.HELD, Outcome.UNCONFIRMED, case)
    assert Escalation.objects.count() == 0
    [ask] = confirmations(case)
    assert (ask.recipient, ask.to_address) == (cast.alice, "alice@example.com")
    assert "Nobody answers. Please escalate." in ask.body_text
    assert confirm_path(ask).startswith(f"/portal/cases/{case.number}/escalate/confirm/")
    # A second forged mail at once pages nobody and mails the contact no second time.
    again = deliver(escalation_mail(case, body="Again!"), now=NOW + timedelta(minutes=1))
    assert (again.state, again.outcome) == (State.HELD, Outcome.UNCONFIRMED)
    assert "confirmation_already_sent" in again.flags
    assert len(confirmations(case)) == 1
    # Agents see the held request on the case and in the incoming mail.
    client.force_login(cast.sam)
    page = client.get(reverse("console:case", args=[case.number])).content.decode()
    assert page.count('data-mark="escalation-unconfirmed"') == 2
    detail = client.get(reverse("console:inbound_detail", args=[row.pk])).content.decode()
    assert 'data-verified="no"' in detail
    assert "Escalation awaiting the contact&#x27;s confirmation" in detail


def test_one_click_after_log_in_escalates_with_the_mails_reason(cast, client):
    case = receive(cast)
    deliver(escalation_mail(case))
    row = InboundMessage.objects.get()
    path = confirm_path(confirmations(case)[0])
    anonymous = client.get(path)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login")
    client.force_login(cast.alice)
    page = client.get(path)
    assert page.status_code == 200 and "Nobody answers. Please escalate." in \
        page.content.decode()
    assert Escalation.objects.count() == 0  # looking changes nothing
    done = client.post(path)
    assert done.status_code == 302 and done["Location"] == f"/portal/cases/{case.number}/"
    escalation = Escalation.objects.get()
    assert (escalation.case, escalation.level, escalation.channel, escalation.raised_by,
            escalation.reason) == (case, 1, Escalation.Channel.EMAIL, cast.alice,
                                   "Nobody answers. Please escalate.")
    row.refresh_from_db()
    assert (row.state, row.outcome, row.handled_by) == (State.DONE, Outcome.ESCALATION,
                                                         cast.alice)
    client.post(path)  # a second click: the request is dealt with
    assert Escalation.objects.count() == 1


def test_a_confirmation_link_works_only_for_its_person_and_its_time(cast, client,
                                                                    monkeypatch):
    case = receive(cast)
    deliver(escalation_mail(case))
    row = InboundMessage.objects.get()
    path = confirm_path(confirmations(case)[0])
    client.force_login(cast.bob)  # a colleague who can see the case, with Alice's link
    assert client.post(path).status_code == 302
    client.force_login(cast.olga)  # another organisation: the case does not exist for her
    assert client.get(path).status_code == 404
    client.force_login(cast.alice)
    token = path.rstrip("/").rsplit("/", 1)[1]
    assert client.post(path.replace(token, token[:-2] + "xx")).status_code == 302
    # A link made more than three days ago.
    real = time.time
    monkeypatch.setattr(signing.time, "time", lambda: real() - 3 * 86400 - 5)
    old = make_confirm_token(row.pk, case.pk, cast.alice.pk)
    monkeypatch.setattr(signing.time, "time", real)
    expired = client.post(f"/portal/cases/{case.number}/escalate/confirm/{old}/", follow=True)
    assert "not valid, has expired" in expired.content.decode()
    assert Escalation.objects.count() == 0
    row.refresh_from_db()
    assert row.state == State.HELD


def test_a_dismissed_request_cannot_be_confirmed_any_more(cast, client):
    case = receive(cast)
    row = deliver(escalation_mail(case))
    inbound.dismiss(row, actor=cast.sam, now=NOW + timedelta(minutes=5))
    client.force_login(cast.alice)
    client.post(confirm_path(confirmations(case)[0]))
    assert Escalation.objects.count() == 0


@pytest.mark.parametrize("frm, to", [
    ("alice@example.com", "alice"),   # the token's own person
    ("bob@example.com", "alice"),     # a colleague of the case's organisation
])
def test_an_unverified_escalation_with_that_cases_token_escalates(cast, frm, to):
    case = receive(cast)
    row = deliver(mail(frm=frm, to=token_to(case, getattr(cast, to)),
                       subject="RE: Escalation Request", body="Still broken."))
    assert (row.state, row.outcome) == (State.DONE, Outcome.ESCALATION)
    assert Escalation.objects.get(case=case).reason == "Still broken."


def test_a_token_for_another_case_does_not_vouch_for_this_one(cast):
    case = receive(cast)
    other = receive(cast, at=MON_9 + timedelta(minutes=1))
    row = deliver(escalation_mail(case, to=token_to(other, cast.alice)))
    assert (row.outcome, row.case) == (Outcome.UNCONFIRMED, case)
    assert Escalation.objects.count() == 0


def test_the_case_number_may_be_in_the_body(cast):
    case = receive(cast)
    other = receive(cast, at=MON_9 + timedelta(minutes=1))
    row = deliver(mail(subject="Escalation Request", headers=VERIFIED,
                       body=f"Please escalate {case.number}; see also {other.number}."))
    assert (row.outcome, row.case) == (Outcome.ESCALATION, case)
    assert list(Escalation.objects.values_list("case", flat=True)) == [case.pk]
    row = deliver(mail(subject="escalation request", body=f"Case {other.number.lower()}!"))
    assert (row.outcome, row.case) == (Outcome.UNCONFIRMED, other)


def test_an_escalation_request_naming_no_case_is_held_never_a_new_case(cast):
    receive(cast)
    for headers in (None, VERIFIED):
        row = deliver(mail(subject="Escalation Request", body="Please escalate my case!",
                           headers=headers))
        assert (row.state, row.outcome, row.case) == (State.HELD, Outcome.REFUSED, None)
        assert "no_case_number" in row.flags
    assert Case.objects.count() == 1
    assert not Case.objects.filter(title__icontains="Escalation").exists()


def test_email_escalations_are_limited_per_case(cast):
    case = receive(cast)  # P3: by e-mail level 1, then 2, then 3 (X3)
    assert deliver(escalation_mail(case, headers=VERIFIED)).outcome == Outcome.ESCALATION
    soon = deliver(escalation_mail(case, headers=VERIFIED), now=NOW + timedelta(minutes=29))
    assert (soon.state, soon.outcome, soon.case) == (State.HELD, Outcome.REFUSED, case)
    assert "less than 30 minutes" in soon.last_error
    # Nor does an unverified one ask the contact meanwhile.
    held = deliver(escalation_mail(case), now=NOW + timedelta(minutes=29))
    assert held.outcome == Outcome.REFUSED and confirmations(case) == []
    later = NOW + timedelta(minutes=31)
    assert deliver(escalation_mail(case, headers=VERIFIED), now=later).outcome == \
        Outcome.ESCALATION
    assert deliver(escalation_mail(case, headers=VERIFIED), now=later + timedelta(hours=1)
                   ).outcome == Outcome.ESCALATION
    top = deliver(escalation_mail(case, headers=VERIFIED), now=later + timedelta(hours=2))
    assert top.outcome == Outcome.REFUSED
    assert list(Escalation.objects.filter(case=case).values_list("level", flat=True)) == [
        1, 2, 3]


def test_at_most_one_email_escalation_per_level(cast):
    case = receive(cast)
    Escalation.objects.create(case=case, level=1, reason="earlier", raised_by=cast.alice,
                              channel=Escalation.Channel.EMAIL, raised_at=MON_9)
    # The case's level says 0 (e.g. restored from an old backup): level 1 by e-mail again
    # is refused all the same.
    with pytest.raises(services.DeskError) as refused:
        services.escalate(case, "again", channel=Escalation.Channel.EMAIL, actor=cast.alice,
                          now=NOW)
    assert refused.value.code == "email_limit"
    services.escalate(case, "from the portal", channel=Escalation.Channel.PORTAL,
                      actor=cast.alice, now=NOW)


def test_dmarc_fail_from_our_mta_holds_even_an_escalation(cast):
    case = receive(cast)
    row = deliver(escalation_mail(case, headers={
        "Authentication-Results": "mx.vendor.example; dmarc=fail header.from=example.com"}))
    assert (row.state, row.outcome) == (State.HELD, Outcome.UNKNOWN_SENDER)
    assert confirmations(case) == []


# ------------------------------------------------------------- display names
def test_display_names_are_encoded_and_quoted_in_to_and_from(cast, settings):
    settings.SLPDESK_EMAIL_FROM = "Vendor Support <support@vendor.example>"
    cast.alice.first_name, cast.alice.last_name = 'Brooks, Ellen "EB"', "Åström <x@evil>"
    cast.alice.save()
    receive(cast)
    row = Outbox.objects.get(kind=Outbox.Kind.CASE_RECEIVED)
    raw = outbound.build_message(row).as_bytes()
    head = raw.split(b"\n\n", 1)[0].decode("ascii")  # 7-bit: non-ASCII is encoded
    # Read back with the standard library's older parser (compat32), not the one that
    # wrote it: one recipient, the whole name, the right address.
    parsed = email.message_from_bytes(raw)
    to = email.utils.getaddresses(parsed.get_all("To"))
    assert len(to) == 1
    name = str(email.header.make_header(email.header.decode_header(to[0][0])))
    assert (name, to[0][1]) == ('Brooks, Ellen "EB" Åström <x@evil>', "alice@example.com")
    assert email.utils.getaddresses(parsed.get_all("From")) == [
        ("Vendor Support", "support@vendor.example")]
    assert "Åström" not in head and "x@evil" not in head  # encoded, not raw


@pytest.mark.parametrize("name", ['Brooks, Ellen', 'O"Neil, Pat', "Ström, Åsa (Sales)"])
def test_a_name_with_a_comma_or_quote_stays_one_address(cast, name):
    user = User.objects.create_user("x", "x.y@example.com", "pw", first_name=name,
                                    organisation=cast.acme)
    row = Outbox(message_id="<t@x>", kind=Outbox.Kind.CASE_RECEIVED, recipient=user,
                 to_address=user.email, reply_to="support@vendor.example", language="en",
                 subject="s", body_text="b", created_at=NOW, next_attempt_at=NOW)
    parsed = email.message_from_bytes(outbound.build_message(row).as_bytes())
    [(shown, address)] = email.utils.getaddresses(parsed.get_all("To"))
    assert address == "x.y@example.com"
    assert str(email.header.make_header(email.header.decode_header(shown))) == name
