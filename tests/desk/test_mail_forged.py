"""A corpus of forged (and genuine) mails through the real commands (issue 11, X3):
``slpdesk mail receive`` as an MTA pipe would run it, one process per message, and
``slpdesk mail serve`` on a real socket followed by ``slpdesk worker --once``.

The desk trusts the authserv-id ``mx.vendor.example``. Alice and Bob are contacts
of Acme (``example.com``), Olga of Other Co; each mail that names a case names its
own open P3 case of Acme's, so an escalation by e-mail goes to level 1 and the
per-case limits never mix the entries. The expected outcome of each mail is
stated by hand in :data:`CORPUS`: ``(state, outcome, case escalated,
confirmation mailed to Alice)``.
"""

import email
import email.policy
import json
import smtplib
import sqlite3
from email.message import EmailMessage
from pathlib import Path

import pytest
from django.db import connection

from desk.test_mail_in_cli import listener, mail_env, run  # noqa: F401 - fixtures

MX = "mx.vendor.example"
PASS = f"{MX}; dkim=pass header.d=example.com; dmarc=pass header.from=example.com"

#: Make the cast in the commands' own database; print case numbers and reply tokens.
SEED = """
import json
from datetime import date, timedelta
from django.utils import timezone
from slpdesk.desk import services
from slpdesk.desk.models import Agreement, Organisation, Site, User
from slpdesk.mail.tokens import make_token
now = timezone.now() - timedelta(hours=1)
acme = Organisation.objects.create(name="Acme Tooling")
other = Organisation.objects.create(name="Other Co")
sites = {}
for org, name in ((acme, "Hartford"), (other, "Goteborg")):
    sites[org.pk] = Site.objects.create(organisation=org, name=name, country="US",
                                        time_zone="America/New_York")
    Agreement.objects.create(site=sites[org.pk], starts=date(2000, 1, 1),
                             ends=date(2199, 12, 31))
people = {n: User.objects.create_user(n, n + "@example.com", "pw", organisation=o,
                                      role=User.Role.CUSTOMER)
          for n, o in (("alice", acme), ("bob", acme), ("olga", other))}
def case(who):
    user = people[who]
    return services.receive_case(sites[user.organisation_id], contact=user, channel="portal",
                                 proposed_priority="P3", title="Posts wrong", actor=user,
                                 now=now)
cases = [case("alice") for _ in range(20)]
olgas = case("olga")
print(json.dumps({
    "numbers": [c.number for c in cases],
    "alice_tokens": [make_token(c.pk, people["alice"].pk) for c in cases],
    "olga_own_token": make_token(olgas.pk, people["olga"].pk),
}))
"""

# name: (headers top first, From, To (a token key or an address), subject, body, case)
#   -> (state, outcome, the named case escalated, confirmation mailed)
CORPUS = {
    "no-header": ([], "alice", "support", "Escalation Request {n}", "Escalate!", 0),
    "dmarc-none": ([f"{MX}; dkim=none; dmarc=none header.from=example.com"], "alice",
                   "support", "Escalation Request {n}", "Escalate!", 1),
    "dmarc-fail": ([f"{MX}; spf=fail; dmarc=fail header.from=example.com"], "alice",
                   "support", "Escalation Request {n}", "Escalate!", 2),
    "dmarc-temperror": ([f"{MX}; dmarc=temperror header.from=example.com"], "alice",
                        "support", "Escalation Request {n}", "Escalate!", 3),
    "dmarc-permerror": ([f"{MX}; dmarc=permerror header.from=example.com"], "alice",
                        "support", "Escalation Request {n}", "Escalate!", 4),
    "pass-untrusted-id": (["relay.attacker.example; dkim=pass header.d=example.com; "
                           "dmarc=pass header.from=example.com"], "alice", "support",
                          "Escalation Request {n}", "Escalate!", 5),
    "pass-below-ours": ([f"{MX}; dkim=none; dmarc=none header.from=example.com", PASS],
                        "alice", "support", "Escalation Request {n}", "Escalate!", 6),
    "ours-below-untrusted": (["relay.attacker.example; dmarc=none", PASS], "alice", "support",
                             "Escalation Request {n}", "Escalate!", 7),
    "other-org-replies-with-token": ([], "olga", "alice-token", "Re: posts", "Mine now.", 8),
    "other-org-escalates-with-own-token": ([PASS],
                                           "olga", "olga-token", "Escalation Request {n}",
                                           "Escalate!", 9),
    "number-in-body": ([], "alice", "support", "Escalation Request",
                       "Please escalate {n} today.", 10),
    "number-in-body-verified": ([PASS], "alice", "support", "Escalation Request",
                                "Please escalate {n} today.", 11),
    "no-case-number": ([PASS], "alice", "support", "Escalation Request",
                       "Please escalate my case.", None),
    "verified-pass": ([PASS], "alice", "support", "Escalation Request {n}", "Escalate!", 13),
    "aligned-dkim-pass": ([f"{MX}; dkim=pass header.d=mail.example.com header.s=s1; "
                           "spf=none"], "alice", "support", "Escalation Request {n}",
                          "Escalate!", 14),
    "misaligned-dkim-pass": ([f"{MX}; dkim=pass header.d=attacker.example"], "alice",
                             "support", "Escalation Request {n}", "Escalate!", 15),
    "token-of-the-case": ([], "bob", "alice-token", "RE: Escalation Request",
                          "Still broken.", 16),
    "new-case-unverified": ([], "alice", "support", "Licence server down", "Help.", None),
    "new-case-verified": ([PASS], "alice", "support", "Licence server is slow", "Help.",
                          None),
}
EXPECTED = {
    "no-header": ("held", "unconfirmed", False, True),
    "dmarc-none": ("held", "unconfirmed", False, True),
    "dmarc-fail": ("held", "unknown_sender", False, False),
    "dmarc-temperror": ("held", "unconfirmed", False, True),
    "dmarc-permerror": ("held", "unconfirmed", False, True),
    "pass-untrusted-id": ("held", "unconfirmed", False, True),
    "pass-below-ours": ("held", "unconfirmed", False, True),
    "ours-below-untrusted": ("held", "unconfirmed", False, True),
    "other-org-replies-with-token": ("held", "bad_token", False, False),
    "other-org-escalates-with-own-token": ("held", "refused", False, False),
    "number-in-body": ("held", "unconfirmed", False, True),
    "number-in-body-verified": ("done", "escalation", True, False),
    "no-case-number": ("held", "refused", False, False),
    "verified-pass": ("done", "escalation", True, False),
    "aligned-dkim-pass": ("done", "escalation", True, False),
    "misaligned-dkim-pass": ("held", "unconfirmed", False, True),
    "token-of-the-case": ("done", "escalation", True, False),
    "new-case-unverified": ("done", "new_case", False, False),
    "new-case-verified": ("done", "new_case", False, False),
}


@pytest.fixture
def desk_env(mail_env):  # noqa: F811 - the fixture imported above
    env = {**mail_env, "SLPDESK_MAIL_TRUSTED_AUTHSERV_IDS": MX,
           "SLPDESK_SITE_URL": "https://support.vendor.example"}
    done = run(env, "manage", "shell", "-c", SEED)
    assert done.returncode == 0, done.stderr
    return env, json.loads(done.stdout.decode().strip().splitlines()[-1])


def build(name: str, seed: dict) -> bytes:
    headers, frm, to, subject, body, index = CORPUS[name]
    number = seed["numbers"][index] if index is not None else ""
    msg = EmailMessage()
    for value in headers:  # in order: the first is the top one
        msg["Authentication-Results"] = value
    msg["From"] = f"{frm}@example.com"
    if to == "alice-token":
        to = f"support+{seed['alice_tokens'][index]}"
    elif to == "olga-token":
        to = f"support+{seed['olga_own_token']}"
    msg["To"] = f"{to}@vendor.example"
    msg["Subject"] = subject.format(n=number)
    msg["Message-ID"] = f"<{name}@forged.example>"
    msg.set_content(body.format(n=number))
    return msg.as_bytes()


def query(env, sql: str) -> list[tuple]:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchall()
    with sqlite3.connect(Path(env["SLPDESK_DATA_DIR"]) / "slpdesk.sqlite3") as db:
        return db.execute(sql).fetchall()


def outcomes(env, seed) -> dict:
    """name -> (state, outcome, named case escalated, confirmation mailed to Alice)."""
    escalated = {n for (n,) in query(env, "SELECT c.number FROM desk_escalation e JOIN "
                                          "desk_case c ON c.id = e.case_id")}
    asked = {n for (n,) in query(env, "SELECT c.number FROM desk_outbox o JOIN desk_case c "
                                      "ON c.id = o.case_id JOIN desk_user u ON "
                                      "u.id = o.recipient_id WHERE o.kind = "
                                      "'escalation_request' AND u.username = 'alice'")}
    rows = {mid: (state, outcome) for mid, state, outcome in query(
        env, "SELECT message_id, state, outcome FROM desk_inboundmessage")}
    found = {}
    for name, entry in CORPUS.items():
        number = seed["numbers"][entry[5]] if entry[5] is not None else None
        found[name] = (*rows[f"<{name}@forged.example>"], number in escalated,
                       number in asked)
    return found


def check_the_rest(env, seed) -> None:
    # Nothing of Olga's was appended to Alice's case; no case is called "Escalation …".
    assert query(env, "SELECT count(*) FROM desk_message") == [(0,)]
    titles = sorted(t for (t,) in query(env, "SELECT title FROM desk_case WHERE channel = "
                                             "'email'"))
    assert titles == ["Licence server down", "Licence server is slow"]
    marks = dict(query(env, "SELECT title, sender_verified FROM desk_case WHERE channel = "
                            "'email'"))
    assert {t: bool(v) for t, v in marks.items()} == {"Licence server down": False,
                                                      "Licence server is slow": True}
    levels = {level for (level,) in query(env, "SELECT level FROM desk_escalation")}
    assert levels == {1}


def test_the_forged_corpus_through_mail_receive(desk_env):
    env, seed = desk_env
    for name in CORPUS:
        done = run(env, "mail", "receive", stdin=build(name, seed))
        assert done.returncode == 0, (name, done.stderr)
    assert outcomes(env, seed) == EXPECTED
    check_the_rest(env, seed)


def test_the_forged_corpus_through_mail_serve(desk_env, listener):  # noqa: F811
    env, seed = desk_env
    proc, port, _log = listener()
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
        for name in CORPUS:
            assert smtp.sendmail("bounce@elsewhere.example", ["support@vendor.example"],
                                 build(name, seed)) == {}
    worker = run(env, "worker", "--once")
    assert worker.returncode == 0, worker.stderr
    assert outcomes(env, seed) == EXPECTED
    check_the_rest(env, seed)
    # The worker mailed the confirmations: Alice's inbox (the data directory) has the
    # link for each held escalation request, and none for what was refused.
    sent = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
            .get_body(("plain",)).get_content()
            for p in Path(env["SLPDESK_DATA_DIR"], "mail").glob(
                "slpdesk.escalation_request.*.eml")]
    assert len(sent) == sum(1 for e in EXPECTED.values() if e[3])
    assert all("https://support.vendor.example/portal/cases/SLP-" in text and
               "/escalate/confirm/" in text for text in sent)
    proc.terminate()
    assert proc.wait(30) == 0
