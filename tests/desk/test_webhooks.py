"""Signed webhooks (issue 15): deliveries written with the change, sent by the worker
to a real HTTP server on a socket, signatures checked with the ``hmac`` module from
the raw bytes received, retries and give-up driven with an explicit ``now``,
ordering per case, the SSRF guards, the API and the console pages.

Cast: Ada and Sven are administrators (Sven reads Swedish), Sam an agent, Alice
Acme's customer contact, Paula a partner's contact.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import ssl
import subprocess
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from desk.conftest import ny
from slpdesk.api.models import ApiToken
from slpdesk.desk import publishing, services
from slpdesk.desk.models import Case, Claimable, Escalation, Organisation, Outbox, User
from slpdesk.webhooks import events, manage, transport
from slpdesk.webhooks.delivery import handle_one_webhook
from slpdesk.webhooks.models import Delivery, Webhook
from slpdesk.worker import steps
from slpdesk.worker.steps import Context

MON_9 = ny(2026, 3, 2, 9, 0)  # a Monday, inside Hartford's agreement
DONE, FAILED, PENDING = (Claimable.State.DONE, Claimable.State.FAILED,
                         Claimable.State.PENDING)
ALL_EVENTS = ["case.created", "case.updated", "case.message", "case.resolved",
              "case.reopened", "sla.at_risk", "sla.breached", "escalation.raised",
              "escalation.acknowledged", "policy.published", "update.published"]


# ------------------------------------------------------------ the receiver
class Receiver:
    """An HTTP server on 127.0.0.1 that records every request (raw body bytes and
    headers) and answers with the next status of ``answers`` (then 200)."""

    def __init__(self, tls=None):
        self.requests: list[dict] = []
        self.answers: list[int] = []
        self.server_names: list[str | None] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"path": self.path, "headers": dict(self.headers),
                                          "raw": raw})
                status = receiver.answers.pop(0) if receiver.answers else 200
                answer = f"answer {len(receiver.requests)}: {status}".encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:  # (certificate, key): HTTPS, recording the TLS server names
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            context.sni_callback = lambda sock, name, ctx: self.server_names.append(name)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, host="127.0.0.1", path="/hooks/slpdesk?x=1"):
        return f"http://{host}:{self.port}{path}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def open_net(settings):
    """http:// and loopback allowed (the receiver is a plain-HTTP server on 127.0.0.1)."""
    settings.SLPDESK_WEBHOOKS_ALLOW_HTTP = True
    settings.SLPDESK_WEBHOOKS_ALLOW_PRIVATE = True
    return settings


@pytest.fixture
def admins(cast):
    ada = User.objects.create_user("ada", "ada@example.com", "pw", role=User.Role.ADMIN,
                                   language="en")
    sven = User.objects.create_user("sven", "sven@example.com", "pw", role=User.Role.ADMIN,
                                    language="sv")
    return ada, sven


def subscribe(admin, url, events=("case.created",), now=MON_9):
    return manage.create(url=url, events=list(events), description="CRM", actor=admin, now=now)


def open_case(cast, *, now=MON_9, title="Posts wrong", priority="P3"):
    return services.receive_case(cast.hartford, contact=cast.alice, channel="portal",
                                 proposed_priority=priority, title=title, actor=cast.alice,
                                 now=now)


def work(now: datetime) -> bool:
    return handle_one_webhook(now, Context(name="test-worker"))


def verify(secret: str, request: dict) -> tuple[int, dict]:
    """The receiver's check, written from the contract: returns (t, body)."""
    header = request["headers"]["Slpdesk-Signature"]
    fields = dict(part.split("=", 1) for part in header.split(","))
    expected = hmac.new(secret.encode(), fields["t"].encode() + b"." + request["raw"],
                        hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, fields["v1"])
    return int(fields["t"]), json.loads(request["raw"])


# ------------------------------------------------------------ signing
def test_it_posts_a_signed_delivery_the_receiver_can_verify(cast, admins, receiver, open_net):
    hook, secret = subscribe(admins[0], receiver.url())
    case = open_case(cast)
    row = Delivery.objects.get()
    send_at = MON_9 + timedelta(seconds=7)
    assert work(send_at) is True
    [request] = receiver.requests
    t, body = verify(secret, request)
    assert t == int(datetime(2026, 3, 2, 14, 0, 7, tzinfo=UTC).timestamp())  # 09:00:07 EST
    assert request["path"] == "/hooks/slpdesk?x=1"
    assert request["headers"]["Slpdesk-Event"] == "case.created"
    assert request["headers"]["Slpdesk-Delivery"] == str(row.uuid)
    assert request["headers"]["Content-Type"] == "application/json"
    assert set(body) == {"id", "event", "occurred_at", "data"}
    assert body["id"] == str(row.uuid)
    assert body["event"] == "case.created"
    assert body["occurred_at"] == "2026-03-02T14:00:00Z"
    assert body["data"]["case"]["number"] == case.number
    assert body["data"]["case"]["title"] == "Posts wrong"
    assert body["data"]["case"]["status"] == "new"
    assert body["data"]["case"]["organisation"] == {"id": cast.acme.pk, "name": "Acme Tooling"}
    assert body["data"]["case"]["contact"] == {"name": "alice", "username": "alice"}
    row.refresh_from_db()
    assert (row.state, row.attempts, row.response_status) == (DONE, 1, 200)
    assert row.response_excerpt == "answer 1: 200"
    assert row.duration_ms is not None
    assert work(send_at) is False


def test_the_readme_receiver_example_verifies_a_delivery(cast, admins, receiver, open_net):
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    code = readme.split("**Verifying a delivery**", 1)[1].split("```python\n", 1)[1]
    namespace: dict = {}
    exec(code.split("```", 1)[0], namespace)  # noqa: S102 - our own README's example
    _hook, secret = subscribe(admins[0], receiver.url())
    case = open_case(cast)
    work(MON_9)
    request = receiver.requests[0]
    event = namespace["verify"](secret, request["headers"], request["raw"], tolerance=10**9)
    assert event["data"]["case"]["number"] == case.number
    with pytest.raises(ValueError, match="bad signature"):
        namespace["verify"](secret, request["headers"], request["raw"] + b" ", tolerance=10**9)
    with pytest.raises(ValueError, match="too old"):
        namespace["verify"](secret, request["headers"], request["raw"])  # sent in March


def test_a_wrong_secret_does_not_verify(cast, admins, receiver, open_net):
    subscribe(admins[0], receiver.url())
    open_case(cast)
    work(MON_9)
    with pytest.raises(AssertionError):
        verify("whsec_not-the-secret", receiver.requests[0])


# ------------------------------------------------------------ writing
def test_nothing_is_written_and_one_query_is_made_when_nobody_listens(
        cast, admins, django_assert_num_queries):
    subscribe(admins[0], "https://hooks.example.com/", events=["case.resolved"])
    with django_assert_num_queries(1):
        assert events.emit("case.created", lambda: pytest.fail("built"), now=MON_9) == 0
    open_case(cast)
    assert not Delivery.objects.exists()


def _queries(call) -> list[str]:
    events.forget_listeners()  # as at the start of a transaction of its own
    with CaptureQueriesContext(connection) as ctx:
        call()
    return [q["sql"] for q in ctx.captured_queries
            if not q["sql"].upper().startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]


def test_opening_a_case_costs_one_select_more_and_one_insert_for_all_listeners(
        cast, admins):
    open_case(cast, title="warm")  # the shipped policy version is stored by the first
    subscribe(admins[0], "https://a.example.com/", events=["case.resolved"])
    nobody = _queries(lambda: open_case(cast, title="y"))
    assert sum('FROM "webhooks_webhook"' in q for q in nobody) == 1
    assert not any("webhooks_delivery" in q for q in nobody)
    subscribe(admins[0], "https://b.example.com/")
    subscribe(admins[1], "https://c.example.com/")
    two = _queries(lambda: open_case(cast, title="z"))
    assert sum(q.startswith('INSERT INTO "webhooks_delivery"') for q in two) == 1
    assert Delivery.objects.count() == 2


def test_the_subscriptions_are_read_once_per_transaction(cast, admins,
                                                         django_assert_num_queries):
    with transaction.atomic():
        events.emit("case.created", {}, now=MON_9)
        with django_assert_num_queries(0):
            assert events.emit("case.resolved", {}, now=MON_9) == 0
        # A subscription made in the same transaction is seen at once.
        subscribe(admins[0], "https://hooks.example.com/", events=["policy.published"])
        assert events.listeners("policy.published") == [Webhook.objects.get().pk]
    # A savepoint rolled back takes its reading with it.
    with transaction.atomic():
        with transaction.atomic():
            Webhook.objects.update(enabled=False)
            events.forget_listeners()  # as manage.update does
            assert events.listeners("policy.published") == []
            transaction.set_rollback(True)
        assert events.listeners("policy.published") == [Webhook.objects.get().pk]


def test_a_disabled_subscription_gets_nothing(cast, admins):
    hook, _secret = subscribe(admins[0], "https://hooks.example.com/")
    manage.update(hook, actor=admins[0], now=MON_9, enabled=False)
    open_case(cast)
    assert not Delivery.objects.exists()


def test_a_change_that_rolls_back_leaves_no_delivery(cast, admins):
    subscribe(admins[0], "https://hooks.example.com/")
    with pytest.raises(RuntimeError), transaction.atomic():
        open_case(cast)
        assert Delivery.objects.count() == 1
        raise RuntimeError("the change fails after the case was written")
    assert not Delivery.objects.exists()


def test_each_subscriber_gets_its_own_delivery_id(cast, admins):
    subscribe(admins[0], "https://a.example.com/")
    subscribe(admins[1], "https://b.example.com/")
    open_case(cast)
    rows = list(Delivery.objects.order_by("pk"))
    assert len(rows) == 2
    ids = [json.loads(r.body)["id"] for r in rows]
    assert ids == [str(r.uuid) for r in rows] and ids[0] != ids[1]


def payloads(hook) -> list[tuple[str, dict]]:
    return [(d.event, json.loads(d.body)["data"])
            for d in Delivery.objects.filter(webhook=hook).order_by("pk")]


def test_every_case_event_once_in_the_order_of_the_changes(cast, admins):
    ada = admins[0]
    hook, _secret = subscribe(ada, "https://hooks.example.com/", events=ALL_EVENTS)
    t = MON_9
    case = open_case(cast, priority="P1")
    services.assign_priority(case, "P2", actor=cast.sam, now=t + timedelta(minutes=1))
    services.assign(case, cast.sam, actor=cast.sam, now=t + timedelta(minutes=2))
    services.add_note(case, "internal only", actor=cast.sam, now=t + timedelta(minutes=3))
    services.reply(case, "We are on it", actor=cast.sam, now=t + timedelta(minutes=4))
    escalation = services.escalate(case, "Too slow", channel=Escalation.Channel.PORTAL,
                                   actor=cast.alice, now=t + timedelta(minutes=5))
    services.acknowledge_escalation(escalation, actor=ada, now=t + timedelta(minutes=6))
    services.resolve(case, Case.Resolution.FIXED, "Patched", actor=cast.sam,
                     now=t + timedelta(minutes=7))
    services.reopen(case, "Still broken", actor=cast.alice, now=t + timedelta(minutes=8))
    got = payloads(hook)
    assert [e for e, _d in got] == [
        "case.created", "case.updated", "case.updated", "case.message", "escalation.raised",
        "escalation.acknowledged", "case.resolved", "case.reopened"]
    assert got[1][1]["changes"] == {"priority": {"from": None, "to": "P2"},
                                    "status": {"from": "new", "to": "open"}}
    assert got[2][1]["changes"] == {"assignee": {"from": None, "to": {
        "name": "sam", "username": "sam"}}}
    assert got[2][1]["case"]["assignee"] == {"name": "sam", "username": "sam"}
    assert got[3][1]["message"]["body"] == "We are on it"
    assert got[3][1]["message"]["kind"] == "public"
    assert "internal only" not in "".join(d.body for d in Delivery.objects.all())
    assert got[4][1]["escalation"]["reason"] == "Too slow"
    assert got[4][1]["escalation"]["acknowledged_at"] is None
    assert got[5][1]["escalation"]["acknowledged_at"] == "2026-03-02T14:06:00Z"
    assert got[6][1]["case"]["status"] == "resolved"
    assert got[6][1]["case"]["resolution"] == "fixed"
    assert got[7][1]["reason"] == "Still broken"
    assert got[7][1]["case"]["status"] == "open"
    assert Delivery.objects.filter(case=case).count() == 8


def test_a_customer_message_and_the_end_of_a_wait(cast, admins):
    hook, _secret = subscribe(admins[0], "https://hooks.example.com/",
                              events=["case.message", "case.updated"])
    case = open_case(cast)
    services.assign_priority(case, "P3", actor=cast.sam, now=MON_9)
    services.request_information(case, "Which version?", actor=cast.sam,
                                 now=MON_9 + timedelta(minutes=1))
    services.record_customer_reply(case, "2026.1", actor=cast.alice,
                                   now=MON_9 + timedelta(minutes=2))
    got = payloads(hook)
    assert [(e, d.get("message", {}).get("body"), d.get("changes", {}).get("status"))
            for e, d in got] == [
        ("case.updated", None, {"from": "new", "to": "open"}),
        ("case.message", "Which version?", None),
        ("case.updated", None, {"from": "open", "to": "waiting"}),
        ("case.message", "2026.1", None),
        ("case.updated", None, {"from": "waiting", "to": "open"}),
    ]


def test_sla_at_risk_and_breached_once_each(cast, admins):
    hook, _secret = subscribe(admins[0], "https://hooks.example.com/",
                              events=["sla.at_risk", "sla.breached"])
    case = open_case(cast, priority="P1")
    services.assign_priority(case, "P1", actor=cast.sam, now=MON_9)
    case.refresh_from_db()
    due = case.response_due
    warn_at = case.next_sla_event_at
    assert warn_at < due
    for at in (warn_at, warn_at, due + timedelta(seconds=1), due + timedelta(minutes=5)):
        steps.process_case(case.pk, at)
    got = payloads(hook)
    assert [(e, d["clock"], d["notice"]) for e, d in got] == [
        ("sla.at_risk", "response", "at_risk"), ("sla.breached", "response", "breached")]
    assert got[0][1]["due"] == due.astimezone(UTC).isoformat().replace("+00:00", "Z")
    assert got[1][1]["case"]["sla"]["response"]["state"] == "breached"


def test_publishing_a_policy_and_an_update(cast, admins):
    hook, _secret = subscribe(admins[0], "https://hooks.example.com/",
                              events=["policy.published", "update.published"])
    update = publishing.create_update(
        name="2026.0.1", released=MON_9.date(), kind="planned", security=False, notes="Fixes",
        releases=[cast.r2025], actor=admins[0], now=MON_9)
    publishing.publish_update(update, actor=admins[0], now=MON_9)
    got = payloads(hook)
    assert got == [("update.published", {"update": {
        "name": "2026.0.1", "released": "2026-03-02", "kind": "planned", "security": False,
        "notes": "Fixes", "applies_to": ["2025"], "published_at": "2026-03-02T14:00:00Z"}})]
    assert Delivery.objects.get().case is None


# ------------------------------------------------------------ retries
def test_a_5xx_is_retried_with_backoff_and_the_same_id(cast, admins, receiver, open_net):
    _hook, secret = subscribe(admins[0], receiver.url())
    open_case(cast)
    receiver.answers = [503, 500]
    t0 = MON_9
    assert work(t0) is True
    row = Delivery.objects.get()
    assert (row.state, row.attempts, row.next_attempt_at) == (PENDING, 1,
                                                              t0 + timedelta(minutes=1))
    assert row.last_error == "HTTP 503"
    assert work(t0 + timedelta(seconds=59)) is False
    assert work(t0 + timedelta(minutes=1)) is True
    row.refresh_from_db()
    assert (row.state, row.attempts, row.next_attempt_at) == (
        PENDING, 2, t0 + timedelta(minutes=6))  # then 5 minutes
    assert work(t0 + timedelta(minutes=6)) is True
    row.refresh_from_db()
    assert (row.state, row.attempts, row.response_status) == (DONE, 3, 200)
    sent = [verify(secret, r) for r in receiver.requests]
    assert [t for t, _b in sent] == [int((t0 + timedelta(minutes=m)).timestamp())
                                     for m in (0, 1, 6)]
    assert {r["raw"] for r in receiver.requests} == {row.body.encode()}
    assert {r["headers"]["Slpdesk-Delivery"] for r in receiver.requests} == {str(row.uuid)}
    assert Webhook.objects.get().failing_since is None


@pytest.mark.parametrize("status", [400, 401, 404, 422])
def test_a_4xx_is_not_retried(cast, admins, receiver, open_net, status):
    subscribe(admins[0], receiver.url())
    open_case(cast)
    receiver.answers = [status]
    assert work(MON_9) is True
    row = Delivery.objects.get()
    assert (row.state, row.attempts, row.response_status) == (FAILED, 1, status)
    assert work(MON_9 + timedelta(days=1)) is False
    assert len(receiver.requests) == 1
    assert Webhook.objects.get().enabled is True  # one failure does not disable


@pytest.mark.parametrize("status", [408, 429])
def test_408_and_429_are_retried(cast, admins, receiver, open_net, status):
    subscribe(admins[0], receiver.url())
    open_case(cast)
    receiver.answers = [status]
    work(MON_9)
    row = Delivery.objects.get()
    assert (row.state, row.attempts) == (PENDING, 1)
    assert work(MON_9 + timedelta(minutes=1)) is True
    row.refresh_from_db()
    assert row.state == DONE


def test_a_network_error_is_retried(cast, admins, open_net):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    subscribe(admins[0], f"http://127.0.0.1:{port}/")
    open_case(cast)
    assert work(MON_9) is True
    row = Delivery.objects.get()
    assert (row.state, row.attempts, row.response_status) == (PENDING, 1, None)
    # A network error (retried), not the address guard's "refused: ..." (never retried).
    assert row.last_error.startswith("NewConnectionError: "), row.last_error
    assert "Connection refused" in row.last_error, row.last_error


def test_after_two_days_it_gives_up_disables_and_mails_the_administrators(
        cast, admins, receiver, open_net):
    hook, _secret = subscribe(admins[0], receiver.url())
    open_case(cast)
    receiver.answers = [500] * 100
    t0 = MON_9
    # 0, +1 m, +5 m, +15 m, +30 m, +1 h, +2 h, +4 h, then every 6 h: 13 h 51 m … 43 h 51 m,
    # and the last at exactly 48 h (the next would be after the two days).
    minutes = [0, 1, 6, 21, 51, 111, 231, 471, 831, 1191, 1551, 1911, 2271, 2631, 2880]
    for m in minutes:
        assert work(t0 + timedelta(minutes=m)) is True, m
    assert len(receiver.requests) == 15
    row = Delivery.objects.get()
    assert row.state == FAILED and row.attempts == 15
    assert row.last_error == "gave up after 15 attempts: HTTP 500"
    hook.refresh_from_db()
    assert hook.enabled is False
    assert hook.disabled_at == t0 + timedelta(days=2)
    mails = {m.to_address: m for m in Outbox.objects.filter(kind="webhook_disabled")}
    assert set(mails) == {"ada@example.com", "sven@example.com"}
    assert mails["ada@example.com"].subject == f"Webhook disabled: {receiver.url()}"
    assert mails["sven@example.com"].subject == f"Webhook avstängd: {receiver.url()}"
    assert mails["sven@example.com"].language == "sv"
    # Switched off: a new event writes nothing for it, and nothing more is sent.
    open_case(cast, now=t0 + timedelta(days=3), title="Another")
    assert Delivery.objects.count() == 1
    assert work(t0 + timedelta(days=3)) is False


def test_a_worker_that_was_down_gives_up_late_events_but_disables_nothing(
        cast, admins, receiver, open_net):
    hook, _secret = subscribe(admins[0], receiver.url())
    open_case(cast)
    receiver.answers = [503]
    work(MON_9 + timedelta(days=3))  # the first attempt, three days after the event
    row = Delivery.objects.get()
    assert (row.state, row.last_error) == (FAILED, "gave up after 1 attempt: HTTP 503")
    hook.refresh_from_db()
    assert hook.enabled is True and hook.failing_since == MON_9 + timedelta(days=3)


def test_410_gone_disables_at_once(cast, admins, receiver, open_net):
    hook, _secret = subscribe(admins[0], receiver.url())
    open_case(cast)
    receiver.answers = [410]
    work(MON_9)
    hook.refresh_from_db()
    assert hook.enabled is False and "410" in hook.disabled_reason
    assert Outbox.objects.filter(kind="webhook_disabled").count() == 2


def test_failures_for_two_days_without_a_success_disable(cast, admins, receiver, open_net):
    hook, _secret = subscribe(admins[0], receiver.url())
    receiver.answers = [400, 400]
    open_case(cast, title="first")
    work(MON_9)
    hook.refresh_from_db()
    assert hook.failing_since == MON_9 and hook.enabled
    later = MON_9 + timedelta(days=2)
    open_case(cast, now=later, title="second")
    work(later)
    hook.refresh_from_db()
    assert hook.enabled is False


# ------------------------------------------------------------ ordering
def test_a_later_delivery_of_a_case_waits_for_the_earlier(cast, admins, receiver, open_net):
    subscribe(admins[0], receiver.url(), events=["case.created", "case.updated"])
    t0 = MON_9
    first = open_case(cast, title="first")
    services.assign_priority(first, "P3", actor=cast.sam, now=t0)
    second = open_case(cast, title="second")
    receiver.answers = [503]
    assert work(t0) is True  # first's case.created: 503
    assert work(t0) is True  # not first's case.updated (it waits): second's case.created
    assert work(t0) is False  # first's case.updated still waits
    assert work(t0 + timedelta(minutes=1)) is True  # first's case.created: 200
    assert work(t0 + timedelta(minutes=1)) is True  # now its case.updated
    sent = [(json.loads(r["raw"])["event"], json.loads(r["raw"])["data"]["case"]["number"])
            for r in receiver.requests]
    assert sent == [("case.created", first.number), ("case.created", second.number),
                    ("case.created", first.number), ("case.updated", first.number)]


def test_a_given_up_delivery_no_longer_holds_up_the_case(cast, admins, receiver, open_net):
    subscribe(admins[0], receiver.url(), events=["case.created", "case.updated"])
    case = open_case(cast)
    services.assign_priority(case, "P3", actor=cast.sam, now=MON_9)
    receiver.answers = [400]
    assert work(MON_9) is True
    assert work(MON_9) is True
    assert [json.loads(r["raw"])["event"] for r in receiver.requests] == [
        "case.created", "case.updated"]


# ------------------------------------------------------------ SSRF guards
@pytest.mark.parametrize("address,public", [
    ("127.0.0.1", False), ("10.1.2.3", False), ("172.16.0.1", False), ("192.168.1.1", False),
    ("169.254.169.254", False), ("100.64.0.1", False), ("0.0.0.0", False), ("::1", False),
    ("fe80::1", False), ("fc00::1", False), ("::ffff:127.0.0.1", False),
    ("::ffff:10.0.0.1", False), ("224.0.0.1", False), ("240.0.0.1", False),
    ("93.184.215.14", True), ("2606:4700::6810:84e5", True)])
def test_only_public_addresses_are_allowed(address, public):
    import ipaddress

    assert transport.allowed_address(ipaddress.ip_address(address),
                                     allow_private=False) is public


def test_loopback_and_http_urls_are_refused_by_default(admins, settings):
    settings.SLPDESK_WEBHOOKS_ALLOW_HTTP = False
    settings.SLPDESK_WEBHOOKS_ALLOW_PRIVATE = False
    for url, code in [("http://hooks.example.com/", "url"), ("https://127.0.0.1/", "url"),
                      ("https://[::1]:8443/", "url"), ("https://10.0.0.8/x", "url"),
                      ("https://user:pw@hooks.example.com/", "url"), ("ftp://x.example/", "url"),
                      ("https://hooks.example.com/", None)]:
        try:
            subscribe(admins[0], url)
        except services.DeskError as err:
            assert err.code == code, url
        else:
            assert code is None, url


def test_a_name_that_resolves_to_loopback_is_refused_when_sending(
        cast, admins, receiver, settings):
    settings.SLPDESK_WEBHOOKS_ALLOW_HTTP = True
    settings.SLPDESK_WEBHOOKS_ALLOW_PRIVATE = False
    subscribe(admins[0], receiver.url(host="localhost"))
    open_case(cast)
    assert work(MON_9) is True
    row = Delivery.objects.get()
    assert row.state == FAILED  # refused: not retried
    assert "is not a public address" in row.last_error
    assert receiver.requests == []


def test_a_stored_http_url_is_refused_once_http_is_switched_off(cast, admins, receiver,
                                                                settings):
    settings.SLPDESK_WEBHOOKS_ALLOW_HTTP = True
    settings.SLPDESK_WEBHOOKS_ALLOW_PRIVATE = True
    subscribe(admins[0], receiver.url())
    open_case(cast)
    settings.SLPDESK_WEBHOOKS_ALLOW_HTTP = False
    work(MON_9)
    assert Delivery.objects.get().last_error == "refused: only https:// URLs are allowed"
    assert receiver.requests == []


def test_with_private_allowed_it_connects_to_the_checked_address_under_the_name(
        cast, admins, receiver, open_net, monkeypatch):
    """One lookup only (a second would be refused here): the connection goes to the
    address that was checked, with the name in the Host header (DNS rebinding)."""
    real = socket.getaddrinfo
    lookups = []

    def once(host, *args, **kwargs):
        if host.rstrip(".") == "rebind.example.com":
            lookups.append(host)
            if len(lookups) > 1:
                raise socket.gaierror("a second lookup")
            return real("127.0.0.1", *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", once)
    subscribe(admins[0], receiver.url(host="rebind.example.com"))
    open_case(cast)
    work(MON_9)
    assert Delivery.objects.get().state == DONE
    assert lookups == ["rebind.example.com"]
    assert receiver.requests[0]["headers"]["Host"] == f"rebind.example.com:{receiver.port}"


def resolve_to_loopback(monkeypatch, *names):
    real = socket.getaddrinfo

    def fake(host, *args, **kwargs):
        return real("127.0.0.1" if host in names else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)


@pytest.fixture
def tls_receiver(tmp_path, monkeypatch):
    """An HTTPS receiver whose self-signed certificate names hooks.test only, trusted
    as a certificate authority for the test (SSL_CERT_FILE)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=hooks.test", "-addext", "subjectAltName=DNS:hooks.test",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True,
                   timeout=60)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    resolve_to_loopback(monkeypatch, "hooks.test", "other.test")
    r = Receiver(tls=(cert, key))
    yield r
    r.close()


def test_https_goes_to_the_checked_address_with_the_name_for_tls(cast, admins, tls_receiver,
                                                                 settings):
    settings.SLPDESK_WEBHOOKS_ALLOW_HTTP = False
    settings.SLPDESK_WEBHOOKS_ALLOW_PRIVATE = True
    _hook, secret = subscribe(admins[0], f"https://hooks.test:{tls_receiver.port}/in")
    open_case(cast)
    work(MON_9)
    assert Delivery.objects.get().state == DONE
    assert tls_receiver.server_names == ["hooks.test"]
    assert tls_receiver.requests[0]["headers"]["Host"] == f"hooks.test:{tls_receiver.port}"
    verify(secret, tls_receiver.requests[0])


def test_https_refuses_a_certificate_for_another_name(cast, admins, tls_receiver, settings):
    settings.SLPDESK_WEBHOOKS_ALLOW_PRIVATE = True
    subscribe(admins[0], f"https://other.test:{tls_receiver.port}/in")
    open_case(cast)
    work(MON_9)
    row = Delivery.objects.get()
    assert (row.state, row.response_status) == (PENDING, None)
    assert row.last_error == "SSLError: hostname 'other.test' doesn't match 'hooks.test'"
    assert tls_receiver.requests == []


def test_localhost_is_delivered_with_both_flags(cast, admins, receiver, open_net):
    subscribe(admins[0], receiver.url(host="localhost"))
    open_case(cast)
    work(MON_9)
    assert Delivery.objects.get().state == DONE
    assert receiver.requests[0]["headers"]["Host"] == f"localhost:{receiver.port}"


# ------------------------------------------------------------ the API
@pytest.fixture
def tokens(cast, admins):
    partner = User.objects.create_user(
        "paula", "paula@example.com", "pw",
        organisation=Organisation.objects.get(name="Partnerco"))
    executive = User.objects.create_user("eve", "eve@example.com", "pw",
                                         role=User.Role.EXECUTIVE)
    manager = User.objects.create_user("max", "max@example.com", "pw", role=User.Role.MANAGER)
    people = {"admin": admins[0], "agent": cast.sam, "customer": cast.alice,
              "partner": partner, "executive": executive, "manager": manager}
    return {who: {"HTTP_AUTHORIZATION": "Bearer " + ApiToken.issue(u, who, now=MON_9)[1]}
            for who, u in people.items()}


def api(client, method, path, auth, data=None):
    kwargs = {"content_type": "application/json"} if data is not None else {}
    return getattr(client, method)(f"/api/v1/webhooks{path}",
                                   json.dumps(data) if data is not None else None,
                                   **kwargs, **auth)


def test_the_api_is_for_administrators_only(client, tokens, settings):
    settings.SLPDESK_API_RATE = "off"
    hook, _secret = subscribe(User.objects.get(username="ada"), "https://hooks.example.com/")
    body = {"url": "https://crm.example.com/in", "events": ["case.created"]}
    for who in ("agent", "customer", "partner", "executive", "manager"):
        for method, path, data in [("get", "", None), ("post", "", body),
                                   ("get", f"/{hook.pk}", None),
                                   ("patch", f"/{hook.pk}", {"enabled": False}),
                                   ("delete", f"/{hook.pk}", None),
                                   ("get", f"/{hook.pk}/deliveries", None)]:
            response = api(client, method, path, tokens[who], data)
            assert response.status_code == 403, (who, method, path)
            assert response.json()["code"] == "forbidden"
    assert Webhook.objects.count() == 1 and Webhook.objects.get().enabled
    assert client.get("/api/v1/webhooks").status_code == 401


def test_the_secret_is_shown_once(client, tokens, settings):
    settings.SLPDESK_API_RATE = "off"
    admin = tokens["admin"]
    response = api(client, "post", "", admin, {"url": "https://crm.example.com/in",
                                               "events": ["case.resolved", "case.created"],
                                               "description": "CRM"})
    assert response.status_code == 201
    made = response.json()
    assert set(made) == {"id", "url", "events", "secret"}
    assert made["events"] == ["case.created", "case.resolved"]
    assert made["secret"] == Webhook.objects.get(pk=made["id"]).secret
    assert made["secret"].startswith("whsec_") and len(made["secret"]) > 40
    for path in ("", f"/{made['id']}", f"/{made['id']}/deliveries"):
        assert made["secret"] not in api(client, "get", path, admin).content.decode()
    one = api(client, "get", f"/{made['id']}", admin).json()
    assert one["url"] == "https://crm.example.com/in" and one["description"] == "CRM"
    assert "secret" not in one


def test_the_api_changes_lists_and_removes(client, tokens, cast, settings):
    settings.SLPDESK_API_RATE = "off"
    admin = tokens["admin"]
    made = api(client, "post", "", admin, {"url": "https://crm.example.com/in",
                                           "events": ["case.created"]}).json()
    changed = api(client, "patch", f"/{made['id']}", admin,
                  {"events": ["case.message"], "enabled": False})
    assert changed.status_code == 200
    assert changed.json()["events"] == ["case.message"] and changed.json()["enabled"] is False
    bad = api(client, "patch", f"/{made['id']}", admin, {"url": "https://10.0.0.1/"})
    assert bad.status_code == 422 and bad.json()["code"] == "url"
    assert api(client, "post", "", admin, {"url": "https://x.example/",
                                           "events": ["case.nope"]}).status_code == 422
    assert api(client, "post", "", admin, {"url": "https://x.example/",
                                           "events": []}).status_code == 422
    api(client, "patch", f"/{made['id']}", admin, {"events": ["case.created"],
                                                   "enabled": True})
    open_case(cast)
    log = api(client, "get", f"/{made['id']}/deliveries", admin).json()
    assert [(d["event"], d["state"], d["case"]) for d in log] == [
        ("case.created", "pending", Case.objects.get().number)]
    assert api(client, "delete", f"/{made['id']}", admin).status_code == 204
    assert api(client, "get", f"/{made['id']}", admin).status_code == 404
    assert not Delivery.objects.exists()


def test_the_openapi_document_describes_every_payload(client, db):
    doc = client.get("/api/v1/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    assert sorted(doc["webhooks"]) == sorted(ALL_EVENTS)
    post = doc["webhooks"]["case.message"]["post"]
    assert [p["name"] for p in post["parameters"]] == [
        "Slpdesk-Event", "Slpdesk-Delivery", "Slpdesk-Signature"]
    ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    envelope = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert set(envelope["properties"]) == {"id", "event", "occurred_at", "data"}
    data = doc["components"]["schemas"][envelope["properties"]["data"]["$ref"].rsplit("/")[-1]]
    assert data["properties"]["case"]["$ref"].endswith("/CaseOut")
    assert data["properties"]["message"]["$ref"].endswith("/MessageOut")


# ------------------------------------------------------------ the console
@pytest.mark.parametrize("language,words", [
    ("en", ("Webhooks", "New webhook", "A case was opened")),
    ("sv", ("Webhooks", "Ny webhook", "Ett ärende öppnades"))])
def test_the_console_pages_in_both_languages(client, cast, admins, language, words):
    ada = admins[0]
    ada.language = language
    ada.save()
    client.force_login(ada)
    page = client.get(reverse("console:webhooks")).content.decode()
    for word in words:
        assert word in page
    response = client.post(reverse("console:webhooks"), {
        "url": "https://crm.example.com/in", "events": ["case.created", "sla.breached"],
        "description": "CRM"})
    hook = Webhook.objects.get()
    assert response.status_code == 200
    assert hook.secret in response.content.decode()
    detail = client.get(reverse("console:webhook", kwargs={"pk": hook.pk})).content.decode()
    assert hook.secret not in detail and f'<html lang="{language}">' in detail
    assert hook.events == ["case.created", "sla.breached"]


def test_the_console_refuses_bad_urls_with_a_message(client, admins, settings):
    settings.SLPDESK_WEBHOOKS_ALLOW_PRIVATE = False
    client.force_login(admins[0])
    response = client.post(reverse("console:webhooks"), {
        "url": "https://192.168.1.20/in", "events": ["case.created"]})
    assert response.status_code == 200
    assert "192.168.1.20 is not a public address" in response.content.decode()
    assert not Webhook.objects.exists()


def test_console_pages_are_for_administrators(client, cast, admins):
    hook, _secret = subscribe(admins[0], "https://hooks.example.com/")
    pages = [reverse("console:webhooks"), reverse("console:webhook", kwargs={"pk": hook.pk})]
    posts = [reverse(name, kwargs={"pk": hook.pk}) for name in (
        "console:webhook_enable", "console:webhook_rotate", "console:webhook_delete")]
    client.force_login(cast.sam)
    for address in pages + posts:
        call = client.get if address in pages else client.post
        assert call(address).status_code == 403, address
    client.force_login(cast.alice)
    for address in pages:
        assert client.get(address).status_code == 404, address
    hook.refresh_from_db()
    assert hook.enabled and Webhook.objects.count() == 1


def test_the_console_edits_switches_rotates_resends_and_removes(
        client, cast, admins, receiver, open_net):
    ada = admins[0]
    hook, old_secret = subscribe(ada, receiver.url())
    client.force_login(ada)
    address = reverse("console:webhook", kwargs={"pk": hook.pk})
    client.post(address, {"url": receiver.url(path="/v2"),
                          "events": ["case.created", "case.resolved"], "description": "v2"})
    hook.refresh_from_db()
    assert (hook.url, hook.events, hook.description) == (
        receiver.url(path="/v2"), ["case.created", "case.resolved"], "v2")
    rotated = client.post(reverse("console:webhook_rotate", kwargs={"pk": hook.pk}))
    hook.refresh_from_db()
    assert hook.secret != old_secret and hook.secret in rotated.content.decode()
    open_case(cast)
    receiver.answers = [400]
    work(MON_9)
    row = Delivery.objects.get()
    assert row.state == FAILED
    log = client.get(address).content.decode()
    assert "answer 1: 400" in log and f'data-delivery="{row.uuid}"' in log
    client.post(reverse("console:webhook_resend", kwargs={"pk": hook.pk, "delivery": row.pk}))
    row.refresh_from_db()
    assert (row.state, row.attempts) == (PENDING, 0)
    work(row.next_attempt_at)
    assert [r["headers"]["Slpdesk-Delivery"] for r in receiver.requests] == [str(row.uuid)] * 2
    verify(hook.secret, receiver.requests[1])
    client.post(reverse("console:webhook_enable", kwargs={"pk": hook.pk}), {"enabled": "0"})
    hook.refresh_from_db()
    assert hook.enabled is False
    client.post(reverse("console:webhook_delete", kwargs={"pk": hook.pk}))
    assert not Webhook.objects.exists() and not Delivery.objects.exists()
