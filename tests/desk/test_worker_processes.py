"""Real ``slpdesk worker`` processes: several racing on the same rows, SIGTERM in the
middle of a step, and (PostgreSQL) the database dropping the connections.

Each process uses ``slpdesk.settings`` with its own data directory: on SQLite a
database file migrated for the test, on PostgreSQL the test database (so the
test's fixtures use ``transactional_db``: committed rows, flushed afterwards).
Rows are written and read by small Python programs run the same way, so the
tests read the very database the workers used. Mail goes to a real SMTP
server on a socket (``Smtpd``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from urllib.parse import quote

import pytest
from django.db import connection

from desk.test_mail_out_smtpd import running_smtpd

TIMEOUT = 120

SETUP = """
import json, os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "slpdesk.settings")
import django
django.setup()
from datetime import date, timedelta
from django.utils import timezone
from slpdesk.desk import services
from slpdesk.desk.models import (Agreement, Case, Organisation, Outbox, Site, SlaNotice, User,
                                 WorkerHeartbeat)
"""

SEED = SETUP + """
n, prefix = int(sys.argv[1]), sys.argv[2]
# Received a week ago: every P1 response is breached by now (the worker reports it).
received = timezone.now() - timedelta(days=7)
org, _ = Organisation.objects.get_or_create(name="Race Co")
site, made = Site.objects.get_or_create(organisation=org, name="HQ", country="SE",
                                        time_zone="Europe/Stockholm")
if made:
    Agreement.objects.create(site=site, starts=date(2020, 1, 1), ends=date(2099, 12, 31))
sam, _ = User.objects.get_or_create(username="sam", defaults=dict(email="sam@vendor.example",
                                                                  role="agent"))
User.objects.get_or_create(username="sue", defaults=dict(email="sue@vendor.example",
                                                          role="supervisor"))
for i in range(n):
    user = User.objects.create(username=f"{prefix}{i}", email=f"{prefix}{i}@example.com",
                               organisation=org)  # no password: no slow hashing
    case = services.receive_case(site, contact=user, channel="portal", proposed_priority="P1",
                                 title=f"Case {prefix}{i}", actor=user, now=received)
    services.assign(case, sam, actor=sam, now=received)
print(json.dumps({"outbox": Outbox.objects.count()}))
"""

REPORT = SETUP + """
print(json.dumps({
    "outbox": [[m.message_id, m.state, m.claimed_by, m.attempts, m.kind]
               for m in Outbox.objects.order_by("pk")],
    "notices": list(SlaNotice.objects.values_list("case_id", "kind", "clock")),
    "heartbeats": list(WorkerHeartbeat.objects.values_list("name", flat=True)),
}))
"""


@pytest.fixture
def worker_env(transactional_db, tmp_path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.pop("SLPDESK_DATABASE_URL", None)
    env.pop("SLPDESK_EMAIL_URL", None)
    env["SLPDESK_DATA_DIR"] = str(tmp_path / "data")
    env["PYTHONUNBUFFERED"] = "1"
    if connection.vendor == "postgresql":
        db = connection.settings_dict
        auth = quote(db["USER"] or "", safe="")
        if db["PASSWORD"]:
            auth += ":" + quote(db["PASSWORD"], safe="")
        env["SLPDESK_DATABASE_URL"] = (f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:"
                                       f"{db['PORT'] or 5432}/{db['NAME']}")
    else:
        done = subprocess.run([sys.executable, "-m", "slpdesk.cli", "manage", "migrate",
                               "-v0"], env=env, capture_output=True, text=True,
                              timeout=TIMEOUT)
        assert done.returncode == 0, done.stderr
    return env


def python(env, code: str, *args: str) -> dict:
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True,
                          text=True, timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def worker(env, *args: str, log) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "slpdesk.cli", "worker", *args], env=env,
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


@pytest.fixture
def smtpd():
    yield from running_smtpd()


def wait_for(condition, what: str, timeout: float = 60, logs=()) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            output = "\n".join(path.read_text() for path in logs)
            raise AssertionError(f"timed out waiting for {what}:\n{output}")
        time.sleep(0.05)


def all_sent(env, n: int) -> bool:
    """The outbox (read as the workers see it) holds ``n`` rows, every one sent."""
    rows = python(env, REPORT)["outbox"]
    return len(rows) == n and all(state == "done" for _, state, *_ in rows)


def test_racing_workers_send_every_mail_exactly_once(worker_env, smtpd, tmp_path):
    """Three workers are up before the work arrives; cases (and so mails and SLA
    breaches) are then written while they run, and all three go for every row."""
    env = {**worker_env, "SLPDESK_EMAIL_URL": smtpd.url}
    smtpd.delay = 0.02  # a little time per mail, so the workers overlap
    paths = [tmp_path / f"w{i}.log" for i in range(3)]
    logs = [open(path, "w") for path in paths]  # noqa: SIM115
    procs = [worker(env, "--poll", "0.05", "--name", f"racer-{i}", log=logs[i])
             for i in range(3)]
    try:
        wait_for(lambda: all("started" in p.read_text() for p in paths), "the workers",
                 logs=paths)
        python(worker_env, SEED, "15", "c")  # the workers take the rows as they come
        # 15 'case received' + a breach for each case to its assignee and the supervisor.
        # Done when every outbox row is sent (45, none pending or claimed); then the
        # workers stop (each finishes its step first), so nothing can be sent after
        # the count below: a duplicate would already be in it.
        wait_for(lambda: len(smtpd.messages) >= 45, "45 mails", logs=paths)
        wait_for(lambda: all_sent(worker_env, 45), "all 45 rows marked sent",
                 timeout=TIMEOUT, logs=paths)
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        codes = [proc.wait(timeout=60) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for log in logs:
            log.close()
    output = "\n".join(path.read_text() for path in paths)
    assert codes == [0, 0, 0], output
    report = python(worker_env, REPORT)
    assert len(report["outbox"]) == 45
    assert {state for _, state, _, _, _ in report["outbox"]} == {"done"}, report
    ids = smtpd.message_ids()
    assert len(ids) == 45 and set(ids.values()) == {1}, ids  # every mail exactly once
    assert set(ids) == {mid for mid, *_ in report["outbox"]}
    notices = Counter(map(tuple, report["notices"]))
    assert len(notices) == 15 and set(notices.values()) == {1}
    assert {kind for _, kind, _ in notices} == {"breached"}
    # They really raced: more than one worker sent mail.
    assert len({by for _, _, by, _, _ in report["outbox"]}) >= 2, report
    assert report["heartbeats"] == []


def test_sigterm_finishes_the_mail_in_progress_and_exits_0(worker_env, smtpd, tmp_path):
    python(worker_env, SEED, "3", "t")
    env = {**worker_env, "SLPDESK_EMAIL_URL": smtpd.url}
    smtpd.delay = 2.0  # the server takes its time over the DATA
    with open(tmp_path / "w.log", "w") as log:
        proc = worker(env, "--poll", "0.1", "--name", "w-term", log=log)
        try:
            assert smtpd.receiving.wait(timeout=60), (tmp_path / "w.log").read_text()
            proc.send_signal(signal.SIGTERM)  # in the middle of the SMTP conversation
            code = proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    output = (tmp_path / "w.log").read_text()
    assert code == 0, output
    assert "w-term stopped" in output
    assert len(smtpd.messages) == 1  # the step in progress was finished ...
    report = python(worker_env, REPORT)
    states = Counter(state for _, state, _, _, _ in report["outbox"])
    assert states == {"done": 1, "pending": 2}, report  # ... and nothing else begun
    assert [by for _, state, by, _, _ in report["outbox"] if state == "pending"] == ["", ""]
    assert report["notices"] == [] and report["heartbeats"] == []


def test_a_worker_killed_mid_send_is_replaced_once_the_lease_ends(worker_env, smtpd,
                                                                  tmp_path):
    """SIGKILL while the server holds the DATA: the mail stays claimed (nobody sends it
    twice meanwhile); when the lease has run out, another worker sends it."""
    python(worker_env, SEED, "1", "k")
    env = {**worker_env, "SLPDESK_EMAIL_URL": smtpd.url}
    smtpd.delay = 30.0
    with open(tmp_path / "w.log", "w") as log:
        proc = worker(env, "--poll", "0.1", "--name", "w-dies", log=log)
        try:
            assert smtpd.receiving.wait(timeout=60), (tmp_path / "w.log").read_text()
            proc.kill()
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
    report = python(worker_env, REPORT)
    [(mid, state, by, attempts, kind)] = report["outbox"]
    assert (state, by) == ("pending", "w-dies")
    smtpd.delay = 0
    # Another worker now: the row is leased to the dead one, so it is left alone ...
    done = subprocess.run([sys.executable, "-m", "slpdesk.cli", "worker", "--once",
                           "--name", "w-next"], env=env, capture_output=True, text=True,
                          timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr
    assert python(worker_env, REPORT)["outbox"][0][1] == "pending"
    # ... until the lease has run out (here: moved into the past, as time would).
    python(worker_env, SETUP + """
from slpdesk.desk.models import Outbox
Outbox.objects.update(claimed_until=timezone.now() - timedelta(seconds=1))
print("{}")
""")
    done = subprocess.run([sys.executable, "-m", "slpdesk.cli", "worker", "--once",
                           "--name", "w-next"], env=env, capture_output=True, text=True,
                          timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr
    report = python(worker_env, REPORT)
    assert [(m[1], m[2]) for m in report["outbox"] if m[4] == "case_received"] == [
        ("done", "w-next")]
    assert smtpd.message_ids()[mid] == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs a database server")
def test_a_worker_survives_the_database_dropping_its_connections(worker_env, smtpd, tmp_path):
    python(worker_env, SEED, "1", "r")
    env = {**worker_env, "SLPDESK_EMAIL_URL": smtpd.url}
    with open(tmp_path / "w.log", "w") as log:
        proc = worker(env, "--poll", "0.2", "--name", "w-restart", log=log)
        try:
            deadline = time.monotonic() + 60
            while len(smtpd.messages) < 3 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert len(smtpd.messages) == 3, (tmp_path / "w.log").read_text()
            # What a restart looks like from the worker: its connections are gone.
            with connection.cursor() as cur:
                cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = current_database() AND pid <> pg_backend_pid()")
            time.sleep(0.5)
            python(worker_env, SEED, "1", "after")  # new work after the "restart"
            deadline = time.monotonic() + 60
            while len(smtpd.messages) < 6 and time.monotonic() < deadline:
                assert proc.poll() is None, (tmp_path / "w.log").read_text()
                time.sleep(0.1)
            assert len(smtpd.messages) == 6, (tmp_path / "w.log").read_text()
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_mail_drains_within_about_a_minute_of_sigkills_with_no_loss(worker_env, smtpd,
                                                                      tmp_path):
    """Workers killed (SIGKILL) in the middle of SMTP conversations, one after another,
    each replaced at once: every mail is still sent, at most once more per kill, and the
    rows the dead held are taken over when their (renewed, one-minute) lease ends, not
    after minutes. Prints the drain time measured from the first kill."""
    python(worker_env, SEED, "8", "d")  # 8 'case received' + 16 breach mails
    env = {**worker_env, "SLPDESK_EMAIL_URL": smtpd.url}
    smtpd.delay = 0.5
    logs, procs, kills = [], [], 3

    def start(i: int) -> subprocess.Popen:
        path = tmp_path / f"w{i}.log"
        logs.append(path)
        return worker(env, "--poll", "0.2", "--name", f"w{i}", log=open(path, "w"))  # noqa: SIM115

    try:
        procs = [start(0), start(1)]
        first_kill = None
        for n in range(kills):
            smtpd.receiving.clear()
            assert smtpd.receiving.wait(timeout=60), "\n".join(p.read_text() for p in logs)
            victim = procs.pop(0)
            victim.kill()  # SIGKILL: no step finished, no claim let go
            victim.wait(timeout=30)
            first_kill = first_kill or time.monotonic()
            procs.append(start(2 + n))

        def drained() -> bool:
            return all(state == "done" for _, state, *_ in python(worker_env, REPORT)["outbox"])

        wait_for(drained, "every mail sent", timeout=240, logs=logs)
        drain = time.monotonic() - first_kill
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        assert [proc.wait(timeout=60) for proc in procs] == [0, 0]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    report = python(worker_env, REPORT)
    ids = smtpd.message_ids()
    assert len(report["outbox"]) == 24
    assert set(ids) == {mid for mid, *_ in report["outbox"]}  # nothing lost
    duplicates = sum(count - 1 for count in ids.values())
    assert duplicates <= kills, ids  # at most one mail sent twice per crash
    print(f"\ndrain after {kills} SIGKILLs: {drain:.1f} s from the first kill; "
          f"{duplicates} mail(s) sent twice")
