"""A desk with one person whose data is exported and erased: Alicia Quenneville of
Acme Tooling. Built through the services (portal cases, a reply by e-mail through the
intake, an escalation, files, API token, two-factor device, log-in records, a
session, mail sent to files and one still waiting) in the test's database, or in
an ``slpdesk`` data directory by a subprocess (``python -m privacy_world``, which
prints the names as JSON).

Her colleague Bob names her (full name and address) in his own case, which she is
not the contact of; Sam is the agent, Ada the administrator.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

NY = ZoneInfo("America/New_York")
#: Monday 6 July 2026, 09:00 in New York: support is open.
T0 = datetime(2026, 7, 6, 9, 0, tzinfo=NY)
FIRST, LAST = "Alicia", "Quenneville"
USERNAME = "aquenneville"
EMAIL = "alicia.quenneville@acme-tooling.test"
PHONE = "+1 860 555 0199"
#: What must not be found anywhere after her erasure (compared in lower case).
NEEDLES = ("alicia", "quennev", "acme-tooling.test", "555 0199")
FILE_CONTENT = b"stack trace sent by Alicia Quenneville, +1 860 555 0199\n"
INBOUND_BODY = "The machine is a Haas VF-2. Call me on +1 860 555 0199, Alicia Quenneville"


def build() -> dict:
    from axes.models import AccessAttempt, AccessLog
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.utils import timezone
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from slpdesk.api.models import ApiToken
    from slpdesk.desk import services
    from slpdesk.desk.models import Agreement, Case, Organisation, Site, User
    from slpdesk.mail import inbound
    from slpdesk.mail.tokens import reply_address
    from slpdesk.worker.steps import handle_one_outbox

    acme = Organisation.objects.create(name="Acme Tooling")
    site = Site.objects.create(organisation=acme, name="Hartford", country="US",
                               time_zone="America/New_York")
    Agreement.objects.create(site=site, starts=date(2026, 1, 1), ends=date(2026, 12, 31))
    alicia = User.objects.create_user(USERNAME, EMAIL, "pw", first_name=FIRST, last_name=LAST,
                                      phone=PHONE, organisation=acme, language="sv",
                                      time_zone="Europe/Stockholm")
    bob = User.objects.create_user("bob", "bob@example.com", "pw", first_name="Bob",
                                   last_name="Baker", organisation=acme)
    sam = User.objects.create_user("sam", "sam@vendor.example", "pw", first_name="Sam",
                                   last_name="Agent", role=User.Role.AGENT)
    User.objects.create_user("ada", "ada@vendor.example", "pw", role=User.Role.ADMIN)
    acme.technical_contact = alicia
    acme.save()
    m = timedelta(minutes=1)

    c1 = services.receive_case(
        site, contact=alicia, channel=Case.Channel.PORTAL, proposed_priority="P2",
        title="Alicia's post-processor crashes",
        description=f"{FIRST} {LAST} here: it crashes at start. Phone {PHONE}.",
        files=[SimpleUploadedFile("quenneville-trace.log", FILE_CONTENT)],
        actor=alicia, now=T0)
    services.assign_priority(c1, "P2", information_complete=True, actor=sam, now=T0 + 5 * m)
    services.request_information(c1, "Hello Alicia, which machine is it?", actor=sam,
                                 now=T0 + 10 * m)
    raw = (f"From: {FIRST} {LAST} <{EMAIL}>\r\n"
           f"To: {reply_address('support@vendor.example', c1.pk, alicia.pk)}\r\n"
           f"Subject: Re: [{c1.number}] Alicia's post-processor crashes\r\n"
           "Message-ID: <reply-1@acme-tooling.test>\r\n"
           "Date: Mon, 06 Jul 2026 10:00:00 -0400\r\n"
           "Content-Type: text/plain; charset=utf-8\r\n\r\n"
           f"{INBOUND_BODY}\r\n").encode()
    inbound.store(raw, now=T0 + 60 * m)
    assert inbound.handle_one_inbound(T0 + 60 * m)
    services.reply(c1, f"Thanks {FIRST} {LAST}, a fix is on its way.", actor=sam,
                   now=T0 + 120 * m)
    services.add_note(c1, f"She prefers mail at {EMAIL}.", actor=sam, now=T0 + 121 * m)
    services.resolve(c1, "fixed", "Patched for Alicia.", actor=sam, now=T0 + 180 * m)

    c2 = services.receive_case(
        site, contact=alicia, channel=Case.Channel.PORTAL, proposed_priority="P1",
        title="Licence server down", description="Down since 08:00.", actor=alicia,
        now=T0 + 240 * m)
    services.escalate(c2, f"{FIRST} {LAST} needs it today", channel="portal", actor=alicia,
                      now=T0 + 245 * m)

    c3 = services.receive_case(
        site, contact=bob, channel=Case.Channel.PORTAL, proposed_priority="P3",
        title="Licence question",
        description=f"Please copy {FIRST} {LAST} ({EMAIL}) on replies.", actor=bob,
        now=T0 + 300 * m)
    services.reply(c3, f"We will write to {FIRST} {LAST} too.", actor=sam, now=T0 + 310 * m)

    token, secret = ApiToken.issue(alicia, "CRM sync", now=T0)
    ApiToken.authenticate(secret, now=T0 + 20 * m)
    TOTPDevice.objects.create(user=alicia, name="Alicia's phone", confirmed=True)
    AccessLog.objects.create(username=USERNAME, ip_address="192.0.2.7", user_agent="Firefox",
                             http_accept="*/*", path_info="/login/")
    AccessAttempt.objects.create(username=EMAIL, ip_address="192.0.2.8", user_agent="curl",
                                 http_accept="*/*", path_info="/login/", get_data="",
                                 post_data=f"username={EMAIL}", failures_since_start=1)
    session = SessionStore()
    session["_auth_user_id"] = str(alicia.pk)
    session.create()

    now = timezone.now()
    while handle_one_outbox(now):  # sent: to DATA_DIR/mail/*.eml
        pass
    services.reply(c2, "Alicia, we are on it.", actor=sam, now=T0 + 250 * m)  # mail waits
    return {"alicia": alicia.pk, "cases": [c1.number, c2.number, c3.number],
            "token": token.name, "session": session.session_key}


if __name__ == "__main__":
    import json
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "slpdesk.settings")
    django.setup()
    print(json.dumps(build()))
