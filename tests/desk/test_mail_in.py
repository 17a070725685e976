"""E-mail in: storing (once per message), processing each outcome through the services,
malicious and broken mail, the worker step's claim and backoff, and the console's
page for held mail."""

import threading
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import pytest
from django.db import close_old_connections, connection
from django.urls import reverse

from desk.conftest import ny
from slpdesk.desk import services
from slpdesk.desk.models import (
    Attachment,
    Case,
    CaseEvent,
    Escalation,
    InboundMessage,
    Message,
    User,
)
from slpdesk.mail import inbound
from slpdesk.mail.tokens import make_token, reply_address

State = InboundMessage.State
Outcome = InboundMessage.Outcome
#: Wednesday 8 July 2026, 10:00 in New York: support is open.
NOW = ny(2026, 7, 8, 10, 0)
MON_9 = ny(2026, 7, 6, 9, 0)
#: The desk's own MTA (trusted below) found the sender's domain authenticated.
VERIFIED = {"Authentication-Results":
            "mx.vendor.example; dkim=pass header.d=example.com; dmarc=pass header.from=example.com"}


@pytest.fixture(autouse=True)
def trusted_mta(settings):
    settings.SLPDESK_MAIL_TRUSTED_AUTHSERV_IDS = ("mx.vendor.example",)


def mail(*, frm="alice@example.com", to="support@example.com", subject="Posts wrong",
         body="The post-processor writes G2 instead of G3.", msgid=None, headers=None,
         html=None, files=()) -> bytes:
    msg = EmailMessage()
    msg["From"] = frm
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(NOW)
    if msgid is not False:
        msg["Message-ID"] = msgid or make_msgid(domain="customer.example")
    for name, value in (headers or {}).items():
        msg[name] = value
    if body is not None:
        msg.set_content(body)
    if html is not None:
        if body is None:
            msg.set_content(html, subtype="html")
        else:
            msg.add_alternative(html, subtype="html")
    for name, content in files:
        msg.add_attachment(content, maintype="application", subtype="octet-stream",
                           filename=name)
    return msg.as_bytes()


def deliver(raw: bytes, now=NOW, **kw) -> InboundMessage:
    """Store and process one message; the stored row, as it is afterwards."""
    row, created = inbound.store(raw, now=now, **kw)
    assert created
    assert inbound.handle_one_inbound(now) is True
    row.refresh_from_db()
    return row


def receive(cast, *, priority="P3", contact=None, at=MON_9, **kw) -> Case:
    contact = contact or cast.alice
    return services.receive_case(cast.hartford, contact=contact, channel=Case.Channel.PORTAL,
                                 proposed_priority=priority, title="Posts wrong",
                                 release=cast.r2026, actor=contact, now=at, **kw)


def token_to(case, user) -> str:
    return reply_address("support@vendor.example", case.pk, user.pk)


# ------------------------------------------------------------------ new cases
def test_a_known_contact_without_a_token_opens_a_case_received_when_stored(cast):
    stored_at = NOW - timedelta(minutes=3)
    row, _ = inbound.store(mail(subject="Posts wrong on the Haas"), now=stored_at)
    assert inbound.handle_one_inbound(NOW)
    row.refresh_from_db()
    assert (row.state, row.outcome) == (State.DONE, Outcome.NEW_CASE)
    case = row.case
    assert case.channel == Case.Channel.EMAIL
    assert case.contact == cast.alice and case.site == cast.hartford
    assert case.title == "Posts wrong on the Haas"
    assert case.description == "The post-processor writes G2 instead of G3."
    assert case.proposed_priority == "P4"  # the policy's lowest unless the subject says
    assert case.received_at == stored_at
    assert case.events.get(type="received").actor == cast.alice


@pytest.mark.parametrize("subject, expected", [
    ("[P2] Licence server down", "P2"), ("p1: nothing starts", "P1"),
    ("Question about P3P-files", "P4"), ("SLP2 question", "P4"),
])
def test_the_subject_may_propose_a_priority(cast, subject, expected):
    row = deliver(mail(subject=subject))
    assert row.case.proposed_priority == expected


def test_the_site_is_the_organisations_first_with_an_active_agreement(cast):
    from slpdesk.desk.models import Agreement, Site

    # An older site of Acme's without an agreement sorts first by name; it is skipped.
    Site.objects.create(organisation=cast.acme, name="Albany", country="US",
                        time_zone="America/New_York")
    assert deliver(mail()).case.site == cast.hartford
    later = Site.objects.create(organisation=cast.acme, name="Austin", country="US",
                                time_zone="America/Chicago")
    Agreement.objects.create(site=later, starts=NOW.date(), ends=NOW.date())
    assert deliver(mail()).case.site == later


def test_a_contact_without_an_agreement_still_gets_a_recorded_case(cast):
    row = deliver(mail(frm="nora@example.com"))
    assert row.outcome == Outcome.NEW_CASE
    assert row.case.entitlement == Case.Entitlement.NOT_ENTITLED


def test_an_unknown_sender_is_held_for_an_agent_never_dropped(cast):
    row = deliver(mail(frm="stranger@elsewhere.example"))
    assert (row.state, row.outcome) == (State.HELD, Outcome.UNKNOWN_SENDER)
    assert Case.objects.count() == 0
    assert bytes(row.raw).startswith(b"From: stranger@elsewhere.example")


def test_staff_and_inactive_users_are_not_contacts(cast):
    cast.bob.is_active = False
    cast.bob.save()
    assert deliver(mail(frm="bob@example.com")).outcome == Outcome.UNKNOWN_SENDER
    assert deliver(mail(frm="sam@example.com")).outcome == Outcome.UNKNOWN_SENDER


def test_an_address_shared_by_two_contacts_is_held(cast):
    cast.bob.email = "alice@example.com"
    cast.bob.save()
    row = deliver(mail())
    assert (row.state, row.outcome) == (State.HELD, Outcome.UNKNOWN_SENDER)
    assert "ambiguous_sender" in row.flags


def test_files_come_with_the_case_and_a_part_over_the_limit_is_flagged(cast, settings):
    settings.SLPDESK_MAX_ATTACHMENT_BYTES = 1000
    row = deliver(mail(files=[("log.txt", b"x" * 900), ("../../core.dmp", b"y" * 5000)]))
    case = row.case
    assert [a.name for a in case.attachments.all()] == ["log.txt"]
    assert "file_too_large:../../core.dmp" in row.flags
    assert Attachment.objects.get(case=case).size == 900


# -------------------------------------------------------------- duplicates
def test_the_same_message_delivered_twice_is_stored_and_processed_once(cast):
    raw = mail(msgid="<same@customer.example>")
    first, created = inbound.store(raw, now=NOW)
    second, again = inbound.store(raw, now=NOW + timedelta(minutes=1))
    assert (created, again) == (True, False)
    assert first.pk == second.pk and InboundMessage.objects.count() == 1
    assert inbound.handle_one_inbound(NOW) is True
    assert inbound.handle_one_inbound(NOW + timedelta(hours=1)) is False
    assert Case.objects.count() == 1


def test_a_message_without_message_id_is_known_by_a_hash_of_its_content(cast):
    raw = mail(msgid=False)
    assert b"Message-ID" not in raw
    row, _ = inbound.store(raw, now=NOW)
    assert row.message_id.startswith("<sha256-")
    # Delivered again through another relay: new trace headers, the same message.
    again, created = inbound.store(b"Received: from relay2.example\r\n" + raw, now=NOW)
    assert not created and again.pk == row.pk
    other, created = inbound.store(mail(msgid=False, body="Something else."), now=NOW)
    assert created and other.pk != row.pk


# ------------------------------------------------------------------ replies
def test_a_reply_with_its_token_is_the_customers_answer_and_resumes_the_clock(cast):
    case = receive(cast)
    services.assign_priority(case, "P3", information_complete=True, actor=cast.sam,
                             now=MON_9 + timedelta(minutes=5))
    services.request_information(case, "Which machine?", actor=cast.sam,
                                 now=MON_9 + timedelta(minutes=10))
    body = ("It is the Haas VF-2.\n\nOn Mon, 6 Jul 2026 at 09:10, Sam <support@vendor.example>"
            " wrote:\n> Which machine?\n")
    row = deliver(mail(to=token_to(case, cast.alice), subject=f"Re: [{case.number}] Posts",
                       body=body, files=[("setup.png", b"png")]))
    assert (row.state, row.outcome, row.case) == (State.DONE, Outcome.REPLY, case)
    case.refresh_from_db()
    assert case.status == Case.Status.OPEN
    reply = case.messages.latest("id")
    assert (reply.author, reply.body) == (cast.alice, "It is the Haas VF-2.")
    assert case.events.filter(type="customer_replied").count() == 1
    assert [a.name for a in reply.attachments.all()] == ["setup.png"]


def test_a_colleague_of_the_same_organisation_may_answer_with_the_token(cast):
    case = receive(cast)
    row = deliver(mail(frm="Bob <BOB@example.com>", to=token_to(case, cast.alice),
                       subject="Re: posts"))
    assert row.outcome == Outcome.REPLY
    assert case.messages.get().author == cast.bob


def test_the_token_is_found_in_the_envelope_recipient_as_well(cast):
    case = receive(cast)
    row = deliver(mail(to="support@vendor.example", subject="Re: posts"),
                  envelope_to=[token_to(case, cast.alice)])
    assert row.outcome == Outcome.REPLY
    assert bytes(row.raw).startswith(b"Delivered-To: support+")


def test_a_forged_token_is_held_and_nothing_is_appended(cast):
    case = receive(cast)
    good = make_token(case.pk, cast.alice.pk)
    forged = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    row = deliver(mail(to=f"support+{forged}@vendor.example", subject="Re: posts"))
    assert (row.state, row.outcome) == (State.HELD, Outcome.BAD_TOKEN)
    assert "forged_token" in row.flags
    assert case.messages.count() == 0
    # A token for another case number, re-signed by nobody: the same.
    row = deliver(mail(to=f"support+{case.pk + 1}.{cast.alice.pk}.{good.rsplit('.', 1)[1]}"
                          "@vendor.example"))
    assert row.outcome == Outcome.BAD_TOKEN


def test_a_valid_token_from_someone_outside_the_case_is_held(cast):
    case = receive(cast)
    for frm in ("olga@example.com", "stranger@elsewhere.example"):
        row = deliver(mail(frm=frm, to=token_to(case, cast.alice), subject="Re: posts"))
        assert (row.state, row.outcome) == (State.HELD, Outcome.BAD_TOKEN)
        assert "sender_not_participant" in row.flags
    # Reply-To or Sender naming the participant change nothing: identity is From.
    row = deliver(mail(frm="olga@example.com", to=token_to(case, cast.alice),
                       headers={"Reply-To": "alice@example.com", "Sender": "alice@example.com"}))
    assert row.outcome == Outcome.BAD_TOKEN
    assert case.messages.count() == 0 and case.events.filter(
        type="customer_replied").count() == 0


def test_a_plus_address_of_the_customer_is_not_taken_for_a_token(cast):
    row = deliver(mail(to="support@vendor.example", headers={"Cc": "alice+work@example.com"}))
    assert row.outcome == Outcome.NEW_CASE


def test_a_reply_to_a_closed_case_is_held_with_the_desks_reason(cast):
    case = receive(cast)
    services.exclude(case, "services", actor=cast.sam, now=MON_9 + timedelta(hours=1))
    row = deliver(mail(to=token_to(case, cast.alice), subject="Re: posts"))
    assert (row.state, row.outcome, row.case) == (State.HELD, Outcome.REFUSED, case)
    assert "closed" in row.last_error
    assert case.messages.count() == 0


def test_automatic_replies_are_held_not_taken_for_the_customers_answer(cast):
    case = receive(cast)
    services.request_information(case, "Which machine?", actor=cast.sam,
                                 now=MON_9 + timedelta(minutes=10))
    for headers in ({"Auto-Submitted": "auto-replied"}, {"Precedence": "bulk"},
                    {"X-Autoreply": "yes"}):
        row = deliver(mail(to=token_to(case, cast.alice), subject="Out of office",
                           headers=headers))
        assert (row.state, row.outcome) == (State.HELD, Outcome.AUTO_REPLY)
    case.refresh_from_db()
    assert case.status == Case.Status.WAITING


def test_a_sender_our_mail_server_found_forged_is_held(cast):
    row = deliver(mail(headers={"Authentication-Results":
                                "mx.vendor.example; spf=fail; dmarc=fail header.from=example.com"}))
    assert (row.state, row.outcome) == (State.HELD, Outcome.UNKNOWN_SENDER)
    assert "dmarc_fail" in row.flags


# -------------------------------------------------------------- escalation (X3)
@pytest.mark.parametrize("priority, level", [("P3", 1), ("P1", 3)])
def test_escalation_request_by_email_escalates_the_named_case(cast, priority, level):
    case = receive(cast, priority=priority)
    row = deliver(mail(subject=f"Escalation Request {case.number}",
                       body="Nobody has answered for two days.", headers=VERIFIED))
    assert (row.state, row.outcome, row.case) == (State.DONE, Outcome.ESCALATION, case)
    escalation = Escalation.objects.get(case=case)
    assert (escalation.level, escalation.channel) == (level, Escalation.Channel.EMAIL)
    assert escalation.raised_by == cast.alice
    assert escalation.reason == "Nobody has answered for two days."


def test_escalation_request_by_reply_uses_the_tokens_case(cast):
    case = receive(cast)
    row = deliver(mail(to=token_to(case, cast.bob), frm="bob@example.com",
                       subject="RE: escalation request", body="Please look at it."))
    assert row.outcome == Outcome.ESCALATION
    assert Escalation.objects.get(case=case).raised_by == cast.bob


def test_escalation_from_outside_the_organisation_is_held(cast):
    case = receive(cast)
    row = deliver(mail(frm="olga@example.com", subject=f"Escalation Request {case.number}",
                       headers=VERIFIED))
    assert (row.state, row.outcome) == (State.HELD, Outcome.REFUSED)
    assert "sender_not_of_organisation" in row.flags
    row = deliver(mail(frm="x@elsewhere.example", subject=f"Escalation Request {case.number}"))
    assert (row.state, row.outcome) == (State.HELD, Outcome.UNKNOWN_SENDER)
    row = deliver(mail(subject="Escalation Request SLP-999999"))
    assert (row.state, row.outcome) == (State.HELD, Outcome.REFUSED)
    assert Escalation.objects.count() == 0


def test_escalation_at_the_top_level_is_held_with_the_reason(cast):
    case = receive(cast, priority="P1")
    deliver(mail(subject=f"Escalation Request {case.number}", headers=VERIFIED))
    row = deliver(mail(subject=f"Escalation Request {case.number}", headers=VERIFIED),
                  now=NOW + timedelta(hours=2))
    assert (row.state, row.outcome, row.case) == (State.HELD, Outcome.REFUSED, case)
    assert Escalation.objects.filter(case=case).count() == 1


# ------------------------------------------------------------- broken mail
def test_broken_mime_bad_charsets_and_garbage_are_stored_flagged_and_never_crash(cast):
    broken = (b"From: alice@example.com\r\nSubject: broken\r\nMessage-ID: <b1@x>\r\n"
              b"Content-Type: multipart/mixed; boundary=\"zzz\"\r\n\r\n"
              b"--zzz\r\nContent-Type: text/plain; charset=x-no-such-charset\r\n"
              b"Content-Transfer-Encoding: base64\r\n\r\nSGVsbG8gd29ybGQ=!!!\r\n")
    unknown = (b"From: alice@example.com\r\nSubject: charset\r\nMessage-ID: <b2@x>\r\n"
               b"Content-Type: text/plain; charset=\"x-unknown\"\r\n\r\nHej p\xe5 dig\r\n")
    latin = (b"From: alice@example.com\r\nSubject: latin\r\nMessage-ID: <b3@x>\r\n"
             b"Content-Type: text/plain; charset=utf-8\r\n\r\nF\xf6rs\xf6k igen\r\n")
    garbage = b"\x00\xff\xfe not a mail at all \r\n\r\n\x00"
    deep = b"From: alice@example.com\r\nSubject: deep\r\nMessage-ID: <b4@x>\r\n" + (
        b"Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n" * 60) + b"end\r\n"
    many = (b"From: alice@example.com\r\nSubject: many\r\nMessage-ID: <b5@x>\r\n"
            b"Content-Type: multipart/mixed; boundary=\"p\"\r\n\r\n" + b"".join(
                b"--p\r\nContent-Type: text/plain\r\n\r\npart %d\r\n" % k for k in range(2000))
            + b"--p--\r\n")
    rows = {name: deliver(raw) for name, raw in [
        ("broken", broken), ("unknown", unknown), ("latin", latin), ("garbage", garbage),
        ("deep", deep), ("many", many)]}
    assert any(f.startswith("mime:") for f in rows["broken"].flags)
    assert "bad_charset" in rows["broken"].flags
    assert "bad_charset" in rows["unknown"].flags
    assert rows["unknown"].case.description.startswith("Hej p")
    assert rows["latin"].case.description == "Försök igen"
    assert rows["garbage"].state == State.HELD
    assert rows["deep"].state == State.DONE  # a known contact's mail: a case, however deep
    assert "too_many_parts" in rows["many"].flags
    assert InboundMessage.objects.filter(state=State.PENDING).count() == 0


def test_html_only_mail_becomes_plain_text_without_scripts(cast):
    html = ('<html><head><style>p{color:red}</style><script>alert("x")</script></head>'
            '<body><p>Posts <b>wrong</b> &amp; slow</p><img src=x onerror="alert(1)">'
            '<p>Line two<br>three</p><a href="javascript:alert(2)">link</a></body></html>')
    row = deliver(mail(body=None, html=html))
    text = row.case.description
    assert "html_only" in row.flags
    assert text == "Posts wrong & slow\n\nLine two\nthree\nlink"
    assert "<" not in text and "alert" not in text


def test_a_script_in_a_plain_text_mail_stays_text_and_is_escaped_in_the_console(cast, client):
    row = deliver(mail(frm="x@elsewhere.example", subject="<script>alert(1)</script>",
                       body="<img src=x onerror=alert(2)>"))
    client.force_login(cast.sam)
    page = client.get(reverse("console:inbound_detail", args=[row.pk])).content.decode()
    assert "<script>alert(1)" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


@pytest.mark.parametrize("text, expected", [
    ("Yes.\n\nOn Mon, 6 Jul 2026 at 09:10, Sam <s@v.example> wrote:\n> Which?\n", "Yes."),
    ("Yes.\nOn Mon, 6 Jul 2026 at 09:10, Sam Support\n<s@v.example> wrote:\n> Which?", "Yes."),
    ("Ja.\n\nDen 6 juli 2026 09:10 skrev Sam <s@v.example>:\n> Vilken?", "Ja."),
    ("Fixed.\n-----Original Message-----\nFrom: Sam\nSent: Monday", "Fixed."),
    ("Fixed.\n\nFrom: Sam <s@v.example>\nSent: Monday, July 6\nTo: Alice", "Fixed."),
    ("> Which machine?\nThe Haas.\n> And the release?\n2026.", "The Haas.\n2026."),
    ("> only quoted\n> nothing new", "> only quoted\n> nothing new"),
    ("From: the manual, chapter 3:\nit says so.", "From: the manual, chapter 3:\nit says so."),
])
def test_quoted_text_is_left_out_of_a_reply(text, expected):
    assert inbound.strip_quoted(text) == expected


# ------------------------------------------------------ claiming and backoff
def test_a_claimed_message_is_not_taken_again_until_its_lease_runs_out(cast):
    row, _ = inbound.store(mail(frm="x@elsewhere.example"), now=NOW)
    claimed = inbound._claim(NOW, "w1")
    assert claimed is not None and claimed[0].pk == row.pk
    assert inbound._claim(NOW, "w2") is None
    assert inbound.handle_one_inbound(NOW + timedelta(minutes=1)) is False
    # The first worker died; after the lease another takes it and settles it once.
    assert inbound.handle_one_inbound(NOW + inbound.LEASE + timedelta(seconds=1)) is True
    row.refresh_from_db()
    assert (row.state, row.attempts) == (State.HELD, 2)
    # The late first worker cannot finish what is no longer its own.
    with pytest.raises(inbound._LostClaim):
        inbound._finish(claimed[0], claimed[1], NOW, State.DONE, Outcome.NEW_CASE)


def test_a_step_that_raises_pushes_its_row_ahead_and_fails_it_in_the_end(cast, monkeypatch):
    bad, _ = inbound.store(mail(subject="poison"), now=NOW)
    good, _ = inbound.store(mail(subject="fine"), now=NOW + timedelta(seconds=1))
    real = inbound._decide

    def decide(row, parsed, now):
        if parsed.subject == "poison":
            raise RuntimeError("boom")
        return real(row, parsed, now)

    monkeypatch.setattr(inbound, "_decide", decide)
    at = NOW + timedelta(seconds=2)
    assert inbound.handle_one_inbound(at)
    bad.refresh_from_db()
    assert (bad.state, bad.attempts, bad.last_error) == (State.PENDING, 1, "RuntimeError: boom")
    assert bad.next_attempt_at == at + timedelta(minutes=1)
    assert bad.claimed_until is None
    assert Case.objects.count() == 0  # nothing of the failed attempt stays
    assert inbound.handle_one_inbound(at)  # the loop goes on with the next message
    good.refresh_from_db()
    assert good.outcome == Outcome.NEW_CASE
    for _ in range(inbound.MAX_ATTEMPTS - 1):
        bad.refresh_from_db()
        at = bad.next_attempt_at
        assert inbound.handle_one_inbound(at)
    bad.refresh_from_db()
    assert (bad.state, bad.attempts) == (State.FAILED, inbound.MAX_ATTEMPTS)
    assert inbound.handle_one_inbound(at + timedelta(days=1)) is False


@pytest.mark.django_db(transaction=True)
def test_workers_racing_on_the_same_messages_process_each_once(cast):
    if connection.vendor != "postgresql":
        pytest.skip("threads share one database only on PostgreSQL here")
    for k in range(12):
        inbound.store(mail(subject=f"case {k}"), now=NOW)
    results = []

    def work(name):
        try:
            while inbound.handle_one_inbound(NOW, worker=name):
                results.append(name)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=work, args=(f"w{k}",)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 12
    assert Case.objects.count() == 12
    assert set(InboundMessage.objects.values_list("attempts", flat=True)) == {1}


# ---------------------------------------------------------------- the console
@pytest.fixture
def held(cast):
    return deliver(mail(frm="alice.private@home.example", subject="Posts wrong again",
                        body="New problem.\n\nOn Mon, Sam wrote:\n> old", files=[
                            ("a.txt", b"abc")]))


def test_held_mail_is_listed_for_staff_and_hidden_from_everyone_else(cast, client, held):
    client.force_login(cast.sam)
    page = client.get(reverse("console:inbound")).content.decode()
    assert "Posts wrong again" in page and "alice.private@home.example" in page
    detail = client.get(reverse("console:inbound_detail", args=[held.pk]))
    assert detail.status_code == 200 and "New problem." in detail.content.decode()
    client.force_login(cast.alice)
    for name, args in (("console:inbound", []), ("console:inbound_detail", [held.pk])):
        assert client.get(reverse(name, args=args)).status_code == 404
    assert client.post(reverse("console:inbound_act", args=[held.pk, "dismiss"])
                       ).status_code == 404
    held.refresh_from_db()
    assert held.state == State.HELD


def test_an_agent_adds_held_mail_to_a_case_as_the_customers_reply(cast, client, held):
    case = receive(cast, at=NOW)
    client.force_login(cast.sam)
    url = reverse("console:inbound_act", args=[held.pk, "reply"])
    response = client.post(url, {"case": case.number, "contact_email": "olga@example.com"})
    assert response.status_code == 302
    held.refresh_from_db()
    assert held.state == State.HELD  # Olga is not Acme's: refused, nothing changed
    client.post(url, {"case": case.number.lower(), "contact_email": "alice@example.com"})
    held.refresh_from_db()
    assert (held.state, held.outcome, held.case, held.handled_by) == (
        State.DONE, Outcome.REPLY, case, cast.sam)
    reply = Message.objects.get(case=case)
    assert (reply.author, reply.body) == (cast.alice, "New problem.")
    assert [a.name for a in reply.attachments.all()] == ["a.txt"]
    # Settled once: a second attempt is refused.
    client.post(url, {"case": case.number, "contact_email": "alice@example.com"})
    assert Message.objects.filter(case=case).count() == 1


def test_an_agent_opens_a_case_from_held_mail_or_dismisses_it(cast, client, held):
    client.force_login(cast.sam)
    response = client.post(reverse("console:inbound_act", args=[held.pk, "new_case"]), {
        "contact_email": "bob@example.com", "site": cast.hartford.pk, "priority": "P2"})
    assert response.status_code == 302
    held.refresh_from_db()
    case = held.case
    assert (held.outcome, case.contact, case.proposed_priority, case.channel) == (
        Outcome.NEW_CASE, cast.bob, "P2", Case.Channel.EMAIL)
    assert case.events.get(type="received").actor == cast.sam
    other = deliver(mail(frm="spam@elsewhere.example", subject="Cheap pills"))
    client.post(reverse("console:inbound_act", args=[other.pk, "dismiss"]))
    other.refresh_from_db()
    assert (other.state, other.outcome) == (State.DONE, Outcome.DISMISSED)


def test_held_mail_is_processed_again_after_the_sender_became_a_contact(cast, client, held):
    cast.alice.email = "alice.private@home.example"
    cast.alice.save()
    client.force_login(cast.sam)
    client.post(reverse("console:inbound_act", args=[held.pk, "retry"]))
    held.refresh_from_db()
    assert held.state == State.PENDING
    assert inbound.handle_one_inbound(held.next_attempt_at)
    held.refresh_from_db()
    assert held.outcome == Outcome.NEW_CASE and held.case.contact == cast.alice


def test_executives_read_held_mail_but_do_not_settle_it(cast, client, held):
    eve = User.objects.create_user("eve", "eve@vendor.example", "pw", role=User.Role.EXECUTIVE)
    client.force_login(eve)
    assert client.get(reverse("console:inbound_detail", args=[held.pk])).status_code == 200
    assert client.post(reverse("console:inbound_act", args=[held.pk, "dismiss"])
                       ).status_code == 403
    held.refresh_from_db()
    assert held.state == State.HELD
    assert CaseEvent.objects.count() == 0


def test_a_message_id_taken_by_another_sender_does_not_swallow_the_real_message(cast):
    squatter, _ = inbound.store(mail(frm="x@elsewhere.example", msgid="<real@example.com>"),
                                now=NOW)
    real, created = inbound.store(mail(msgid="<real@example.com>"), now=NOW)
    assert created and real.pk != squatter.pk
    assert real.message_id.startswith("<sha256-") and "message_id_reused" in real.flags
    again, created = inbound.store(mail(msgid="<real@example.com>"), now=NOW)
    assert not created and again.pk == real.pk
