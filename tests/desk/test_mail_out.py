"""E-mail out: what each change writes to the outbox (in the same transaction), to
whom, in which language, and how the worker delivers it to a real SMTP server
(aiosmtpd on a socket) or, by default, to files in the data directory.

The cast is ``desk.conftest``'s; the vendor's team adds Sue (a supervisor who
reads Swedish), Sid (another supervisor), Max (a manager) and Eve (executive).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.urls import reverse
from django.utils.html import escape

from desk.conftest import ny
from desk.test_mail_out_smtpd import running_smtpd
from slpdesk.desk import services
from slpdesk.desk.models import Case, Claimable, Outbox, User
from slpdesk.mail import notifications, outbound
from slpdesk.mail.tokens import read_token, token_from_address
from slpdesk.worker.steps import Context, handle_one_outbox

State = Claimable.State
FRI_1630 = ny(2026, 7, 3, 16, 30)  # the spec's worked example (a holiday in the US)
MON_9 = ny(2026, 7, 6, 9, 0)


@dataclass
class Team:
    sue: User
    sid: User
    max: User
    eve: User


def make_team() -> Team:
    def staff(name, role, **kw):
        return User.objects.create_user(name, f"{name}@vendor.example", "pw", role=role,
                                        first_name=name.title(), **kw)
    return Team(sue=staff("sue", User.Role.SUPERVISOR, language="sv",
                          time_zone="Europe/Stockholm"),
                sid=staff("sid", User.Role.SUPERVISOR),
                max=staff("max", User.Role.MANAGER),
                eve=staff("eve", User.Role.EXECUTIVE))


@pytest.fixture
def team(cast) -> Team:
    return make_team()


@pytest.fixture
def smtpd():
    yield from running_smtpd()


def receive(cast, *, priority="P1", now=FRI_1630, site=None, contact=None, **kw) -> Case:
    contact = contact or cast.alice
    return services.receive_case(site or cast.hartford, contact=contact, channel="portal",
                                 proposed_priority=priority, title="Post-processor broken",
                                 release=cast.r2026, actor=contact, now=now, **kw)


def mails(**filters) -> list[Outbox]:
    return list(Outbox.objects.filter(**filters).order_by("pk"))


def ctx(name="w1") -> Context:
    return Context(name=name)


def send_all(now, name="w1") -> int:
    n = 0
    while handle_one_outbox(now, ctx(name)):
        n += 1
    return n


# ------------------------------------------------------------------ case received
def test_a_received_case_tells_the_contact_when_we_respond(cast):
    case = receive(cast)
    [mail] = mails()
    assert (mail.kind, mail.recipient, mail.to_address, mail.case) == (
        "case_received", cast.alice, "alice@example.com", case)
    assert (mail.state, mail.language, mail.urgent) == (State.PENDING, "en", False)
    assert mail.next_attempt_at == FRI_1630 and mail.created_at == FRI_1630
    received = case.events.get(type="received")
    assert mail.message_id == (f"<slpdesk.case_received.{case.pk}.{received.pk}."
                               f"{cast.alice.pk}@localhost>")
    assert mail.subject == f"[{case.number}] We have received your case: Post-processor broken"
    # Response due 2026-07-06 10:00 in New York (07-03 is Independence Day observed).
    assert "We will respond by Mon 6 Jul 2026 10:00 EDT at the latest." in mail.body_text
    assert "Response: 2 h 00 min" in mail.body_text
    assert "Resolution: 8 h 00 min" in mail.body_text
    assert "<strong>We will respond by Mon 6 Jul 2026 10:00 EDT at the latest.</strong>" \
        in mail.body_html
    token = read_token(token_from_address(mail.reply_to))
    assert (token.case_id, token.user_id) == (case.pk, cast.alice.pk)
    assert mail.reply_to.endswith("@localhost") and mail.reply_to.startswith("support+")


def test_times_are_in_the_customers_own_zone_when_they_have_one(cast):
    cast.alice.time_zone = "Europe/Stockholm"
    cast.alice.save()
    receive(cast)
    assert "We will respond by Mon 6 Jul 2026 16:00 CEST" in mails()[0].body_text


@pytest.mark.parametrize("who, says", [
    ("edgar", "You receive support through Partnerco."),
    ("nora", "We found no active support agreement for your site."),
])
def test_a_case_we_do_not_cover_is_told_why(cast, who, says):
    site = {"edgar": cast.endco_site, "nora": cast.noagree_site}[who]
    case = receive(cast, site=site, contact=getattr(cast, who))
    assert case.status == Case.Status.CLOSED
    [mail] = mails()
    assert says in mail.body_text and "We will respond" not in mail.body_text


def test_out_of_scope_gets_the_policys_route(cast):
    receive(cast, request_type="sdk")
    assert "professional services" in mails()[0].body_text


def test_an_old_release_is_told_to_update(cast):
    services.receive_case(cast.hartford, contact=cast.alice, channel="portal",
                          proposed_priority="P3", title="Old", release=cast.r2024,
                          actor=cast.alice, now=MON_9)
    assert "Release 2024 is no longer supported." in mails()[0].body_text


# ------------------------------------------------------------------ conversation
def test_replies_calls_requests_and_resolution_mail_the_contact(cast, team):
    case = receive(cast, now=MON_9)
    services.assign_priority(case, "P1", information_complete=True, actor=cast.sam, now=MON_9)
    services.reply(case, "We are on it.\nSend logs?", actor=cast.sam,
                   now=MON_9 + timedelta(minutes=10))
    services.log_call(case, "Walked through the settings", actor=cast.sam,
                      now=MON_9 + timedelta(minutes=20))
    services.add_note(case, "SECRET internal note", actor=cast.sam,
                      now=MON_9 + timedelta(minutes=25))
    services.attach_file(case, SimpleUploadedFile("n.txt", b"x"), actor=cast.sam,
                         now=MON_9 + timedelta(minutes=26), internal=True)
    services.request_information(case, "Which machine?", actor=cast.sam,
                                 now=MON_9 + timedelta(minutes=30))
    services.record_customer_reply(case, "The Haas", actor=cast.alice,
                                   now=MON_9 + timedelta(minutes=40))
    services.resolve(case, "fixed", "A new post-processor fixes it.", actor=cast.sam,
                     now=MON_9 + timedelta(minutes=50))
    got = [(m.kind, m.recipient.username) for m in mails()]
    assert got == [("case_received", "alice"), ("reply", "alice"), ("status_update", "alice"),
                   ("info_request", "alice"), ("resolved", "alice")]
    reply, call, ask, done = mails()[1:]
    assert reply.subject.startswith(f"[{case.number}] Reply from support:")
    assert "We are on it.\nSend logs?" in reply.body_text
    assert "We are on it.<br>Send logs?" in reply.body_html
    assert "You will hear from us again by Mon 6 Jul 2026 11:10 EDT" in reply.body_text
    assert call.subject.startswith(f"[{case.number}] Notes from our phone call:")
    assert "Walked through the settings" in call.body_text
    assert "Which machine?" in ask.body_text and "waits for your answer" in ask.body_text
    assert "Fixed" in done.body_text and "A new post-processor fixes it." in done.body_text
    for m in Outbox.objects.all():  # internal notes never reach the customer
        assert "SECRET" not in m.body_text + m.body_html
        assert "n.txt" not in m.body_text


def test_escalations_mail_the_levels_owners_and_the_customer(cast, team):
    case = receive(cast, priority="P3", now=MON_9)
    escalation = services.escalate(case, "Nothing happens", channel="portal",
                                   actor=cast.alice, now=MON_9 + timedelta(hours=1))
    raised = mails(kind="escalation")
    # Level 1: supervisors and managers own it (X2); the executive does not.
    assert sorted(m.recipient.username for m in raised) == ["alice", "max", "sid", "sue"]
    to_sue = next(m for m in raised if m.recipient == team.sue)
    assert to_sue.language == "sv"
    assert "Nothing happens" in to_sue.body_text
    to_alice = next(m for m in raised if m.recipient == cast.alice)
    assert to_alice.subject == f"[{case.number}] Your escalation is received: " \
                               "Post-processor broken"
    # The owners' copy and the customer's are different mails of one event.
    assert len({m.message_id for m in raised}) == 4
    services.acknowledge_escalation(escalation, actor=team.sid,
                                    now=MON_9 + timedelta(hours=2))
    [ack] = mails(kind="escalation", created_at=MON_9 + timedelta(hours=2))
    assert ack.recipient == cast.alice
    assert "Sid took on the escalation of your case to level 1" in ack.body_text


def test_an_escalation_raised_by_a_colleague_confirms_to_both(cast, team):
    case = receive(cast, priority="P3", now=MON_9)
    services.escalate(case, "Slow", channel="portal", actor=cast.bob, now=MON_9)
    confirmations = [m.recipient.username for m in mails(kind="escalation")
                     if m.recipient.role == User.Role.CUSTOMER]
    assert confirmations == ["alice", "bob"]


def test_nobody_inactive_or_without_an_address_is_mailed(cast, team):
    cast.alice.email = ""
    cast.alice.save()
    team.sid.is_active = False
    team.sid.save()
    case = receive(cast, priority="P3", now=MON_9)
    services.escalate(case, "Slow", channel="portal", actor=cast.alice, now=MON_9)
    assert sorted(m.recipient.username for m in mails()) == ["max", "sue"]


def test_a_change_that_rolls_back_leaves_no_mail(cast):
    with pytest.raises(RuntimeError), transaction.atomic():
        receive(cast)
        assert Outbox.objects.count() == 1
        raise RuntimeError("the request failed after the service")
    assert Outbox.objects.count() == 0
    case = receive(cast, now=MON_9)
    with pytest.raises(services.DeskError):
        services.reply(case, "   ", actor=cast.sam, now=MON_9)  # refused: nothing written
    assert [m.kind for m in mails()] == ["case_received"]


def test_enqueue_writes_one_mail_per_key(cast):
    case = receive(cast)
    notifications.case_received(case, case.events.get(), now=FRI_1630)  # the same key again
    assert Outbox.objects.count() == 1
    with pytest.raises(ValueError):
        outbound.enqueue("no_such_kind", to=cast.alice, now=FRI_1630, key="1")


def test_a_subject_never_carries_a_line_break(cast):
    case = services.receive_case(cast.hartford, contact=cast.alice, channel="email",
                                 proposed_priority="P2", title="Broken\r\nBcc: evil@x.example",
                                 actor=cast.sam, now=MON_9)
    [mail] = mails()
    assert "\n" not in mail.subject and "\r" not in mail.subject
    assert mail.subject == f"[{case.number}] We have received your case: Broken " \
                           "Bcc: evil@x.example"
    assert "\nBcc:" not in outbound.build_message(mail).as_string().split("\n\n")[0]


# ------------------------------------------------------------------ languages
def test_a_swedish_customer_gets_swedish_dates_and_headers(cast, smtpd, settings):
    settings.SLPDESK_EMAIL = smtpd.server
    cast.alice.language = "sv"
    cast.alice.save()
    receive(cast)
    [mail] = mails()
    assert mail.language == "sv"
    assert "mån 6 jul 2026 10:00 EDT" in mail.body_text  # Django's Swedish day and month
    assert 'lang="sv"' in mail.body_html
    assert send_all(MON_9) == 1
    [msg] = smtpd.messages
    assert msg["Content-Language"] == "sv"


RICH = {  # a context with everything any template may use
    "entitled": True, "priority": "P1", "response_seconds": 7200,
    "resolution_seconds": 28800, "update_seconds": 7200, "first": True, "call": False,
    "summary": "Fixed it", "resolution_label": "Fixed", "clock": "response",
    "remaining": 1799, "level_name": None,
    "reason": "Slow <there>", "confirm_link": "https://support.example/confirm/x/",
}
TEMPLATES = ["case_received", "reply", "info_request", "resolved", "escalation_raised",
             "escalation_confirmation", "escalation_acknowledged", "at_risk", "breached",
             "update_owed", "update_overdue", "escalation_request"]


@pytest.mark.parametrize("language", ["en", "sv"])
@pytest.mark.parametrize("template", TEMPLATES)
def test_every_notification_renders_in_both_languages(cast, team, template, language):
    case = receive(cast, now=MON_9)
    services.assign(case, cast.sam, actor=cast.sam, now=MON_9)
    message = services.reply(case, "Hello <there>", actor=cast.sam, now=MON_9)
    escalation = services.escalate(case, "Slow", channel="portal", actor=cast.alice, now=MON_9)
    services.acknowledge_escalation(escalation, actor=team.sue, now=MON_9)
    context = {**outbound.base_context(team.sue, case, MON_9), **RICH, "message": message,
               "author": cast.sam, "escalation": escalation, "raised_by": cast.alice,
               "acknowledged_by": team.sue, "due": case.response_due,
               "priority_name": case.policy().priority("P1").name, "expires": MON_9,
               "priority_summary": case.policy().priority("P1").summary}
    rendered = outbound.render(template, context, language=language, zone="America/New_York")
    assert rendered.subject.startswith(f"[{case.number}] ")
    assert "\n" not in rendered.subject
    for text in (rendered.text, rendered.html):
        assert "{{" not in text and "{%" not in text and "None" not in text
    assert f'<html lang="{language}">' in rendered.html
    assert f"<title>{escape(rendered.subject)}</title>" in rendered.html
    assert "<there>" not in rendered.html  # escaped in HTML
    day = {"en": "Mon 6 Jul 2026", "sv": "mån 6 jul 2026"}[language]
    if template not in ("resolved", "escalation_confirmation", "info_request"):
        assert day in rendered.text, rendered.text


# ------------------------------------------------------------------ delivery
def test_the_worker_delivers_over_smtp_with_the_rows_headers(cast, smtpd, settings):
    settings.SLPDESK_EMAIL = smtpd.server
    settings.SLPDESK_EMAIL_FROM = "Acme Support <help@support.example>"
    settings.SLPDESK_REPLY_TO = "help@support.example"
    cast.alice.first_name, cast.alice.last_name = "Alice", "Andersson"
    cast.alice.save()
    case = receive(cast)
    mail = mails()[0]
    assert mail.message_id.endswith("@support.example>")
    assert handle_one_outbox(MON_9, ctx()) is True
    assert handle_one_outbox(MON_9, ctx()) is False
    mail.refresh_from_db()
    assert (mail.state, mail.attempts, mail.finished_at, mail.claimed_until) == (
        State.DONE, 0, MON_9, None)
    [msg] = smtpd.messages
    assert smtpd.envelopes == [("help@support.example", ["alice@example.com"])]
    assert str(msg["Message-ID"]) == mail.message_id
    assert msg["From"] == "Acme Support <help@support.example>"
    assert msg["To"] == "Alice Andersson <alice@example.com>"
    assert msg["Subject"] == mail.subject
    assert msg["Content-Language"] == "en"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["References"] == f"<slpdesk.case.{case.pk}@support.example>"
    reply_to = msg["Reply-To"].addresses[0].addr_spec
    assert reply_to == mail.reply_to and reply_to.startswith("help+")
    token = read_token(token_from_address(reply_to))
    assert (token.case_id, token.user_id) == (case.pk, cast.alice.pk)
    assert msg.get_content_type() == "multipart/alternative"
    parts = [p.get_content_type() for p in msg.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    assert "We will respond by Mon 6 Jul 2026 10:00 EDT" in msg.get_body(("plain",)).get_content()
    assert "<strong>We will respond" in msg.get_body(("html",)).get_content()


def test_a_temporary_refusal_waits_with_backoff_then_sends_once(cast, smtpd, settings):
    settings.SLPDESK_EMAIL = smtpd.server
    smtpd.rcpt_reply = "451 4.7.1 Greylisted, try again later"
    receive(cast, now=MON_9)
    mail = mails()[0]
    assert handle_one_outbox(MON_9, ctx()) is True
    mail.refresh_from_db()
    assert (mail.state, mail.attempts) == (State.PENDING, 1)
    assert mail.next_attempt_at == MON_9 + timedelta(minutes=1)
    assert "451" in mail.last_error and "Greylisted" in mail.last_error
    assert (mail.claimed_by, mail.claimed_until) == ("", None)
    # Not before its time; then 2 minutes, 4 minutes...
    assert handle_one_outbox(MON_9 + timedelta(seconds=59), ctx()) is False
    assert handle_one_outbox(MON_9 + timedelta(minutes=1), ctx()) is True
    mail.refresh_from_db()
    assert (mail.attempts, mail.next_attempt_at) == (2, MON_9 + timedelta(minutes=3))
    smtpd.rcpt_reply = None
    assert handle_one_outbox(MON_9 + timedelta(minutes=3), ctx()) is True
    mail.refresh_from_db()
    assert mail.state == State.DONE
    assert list(smtpd.message_ids().values()) == [1]


def test_a_mail_that_never_goes_through_is_given_up_after_two_days(cast, settings):
    from desk.test_mail_out_smtpd import free_port
    from slpdesk.config import SmtpServer

    settings.SLPDESK_EMAIL = SmtpServer("smtp", "127.0.0.1", free_port(), timeout=2)
    receive(cast, now=MON_9)
    assert handle_one_outbox(MON_9, ctx()) is True
    mail = mails()[0]
    assert (mail.state, mail.attempts) == (State.PENDING, 1)
    assert "ConnectionRefusedError" in mail.last_error
    assert handle_one_outbox(MON_9 + timedelta(days=2) - timedelta(seconds=1), ctx()) is True
    mail.refresh_from_db()
    assert (mail.state, mail.attempts) == (State.PENDING, 2)
    assert handle_one_outbox(MON_9 + timedelta(days=2, hours=1), ctx()) is True
    mail.refresh_from_db()
    assert mail.state == State.FAILED
    assert mail.last_error.startswith("gave up after 3 attempts")


def test_backoff_doubles_up_to_an_hour():
    assert [outbound.backoff(n).total_seconds() for n in (1, 2, 3, 6, 7, 8, 30)] == [
        60, 120, 240, 1920, 3600, 3600, 3600]


def test_a_permanent_refusal_fails_and_agents_see_it(cast, smtpd, settings, client):
    settings.SLPDESK_EMAIL = smtpd.server
    smtpd.rcpt_reply = "550 5.1.1 <alice@example.com>: Recipient address rejected"
    case = receive(cast)
    receive(cast, priority="P3", now=MON_9)  # a second mail, which the server takes
    assert handle_one_outbox(MON_9, ctx()) is True
    smtpd.rcpt_reply = None
    assert handle_one_outbox(MON_9, ctx()) is True
    failed, sent = mails()
    assert (failed.state, failed.attempts) == (State.FAILED, 0)
    assert "550" in failed.last_error and failed.finished_at == MON_9
    assert sent.state == State.DONE

    client.force_login(cast.sam)
    page = client.get(reverse("console:outbox")).content.decode()
    assert f'data-mail="{failed.pk}" data-state="failed"' in page
    assert "Recipient address rejected" in page
    assert f'data-mail="{sent.pk}"' not in page  # problems only, by default
    assert "No worker is running" in page
    page = client.get(reverse("console:outbox") + f"?case={case.number}&show=all").content.decode()
    assert f'data-mail="{failed.pk}"' in page and f'data-mail="{sent.pk}"' not in page
    assert "Outgoing e-mail" in client.get(reverse("console:queue")).content.decode()

    # An agent sends it again once the address is fixed.
    response = client.post(reverse("console:outbox_retry", args=[failed.pk]))
    assert response.status_code == 302
    failed.refresh_from_db()
    assert (failed.state, failed.attempts, failed.finished_at) == (State.PENDING, 0, None)


def test_the_mail_page_is_for_staff_only(cast, client):
    receive(cast)
    client.force_login(cast.alice)
    assert client.get(reverse("console:outbox")).status_code == 404
    mail = mails()[0]
    assert client.post(reverse("console:outbox_retry", args=[mail.pk])).status_code == 404


def test_a_recipient_deactivated_before_sending_is_not_mailed(cast, smtpd, settings):
    settings.SLPDESK_EMAIL = smtpd.server
    receive(cast)
    cast.alice.is_active = False
    cast.alice.save()
    assert handle_one_outbox(MON_9, ctx()) is True
    mail = mails()[0]
    assert mail.state == State.DONE
    assert mail.last_error == "not sent: the recipient is inactive or has no e-mail address"
    assert smtpd.messages == []


def test_a_recipient_moved_to_another_organisation_is_not_mailed(cast, smtpd, settings):
    settings.SLPDESK_EMAIL = smtpd.server
    receive(cast)
    cast.alice.organisation = cast.other
    cast.alice.save()
    handle_one_outbox(MON_9, ctx())
    assert mails()[0].last_error == "not sent: the recipient can no longer see the case"
    assert smtpd.messages == []


def test_urgent_mail_goes_first(cast):
    receive(cast)
    urgent = outbound.enqueue("program_update", to=cast.bob, now=MON_9, key="u1",
                              urgent=True, template="case_received",
                              context={"case": Case.objects.get(), "entitled": False})
    handle_one_outbox(MON_9, ctx())
    urgent.refresh_from_db()
    assert urgent.state == State.DONE
    assert mails(kind="case_received")[0].state == State.PENDING


def test_without_an_smtp_server_mail_is_kept_in_the_data_directory(cast, settings, tmp_path,
                                                                     capsys):
    settings.SLPDESK_EMAIL = None
    settings.SLPDESK_MAIL_DIR = tmp_path / "mail"
    receive(cast)
    mail = mails()[0]
    assert handle_one_outbox(MON_9, Context(name="w1")) is True
    files = list((tmp_path / "mail").iterdir())
    assert [f.name for f in files] == [mail.message_id.strip("<>") + ".eml"]
    from email import message_from_bytes
    from email import policy as email_policy

    msg: EmailMessage = message_from_bytes(files[0].read_bytes(), policy=email_policy.default)
    assert str(msg["Message-ID"]) == mail.message_id
    assert msg.get_content_type() == "multipart/alternative"
    out = capsys.readouterr().err  # the worker's log
    assert "to alice@example.com kept in" in out and "SLPDESK_EMAIL_URL is unset" in out
    assert str(files[0]) in out
    mail.refresh_from_db()
    assert mail.state == State.DONE
