"""``slpdesk serve`` as a real process under gunicorn: graceful stops (issue 12, item 4),
``--no-migrate`` and ``slpdesk migrate`` (item 7)."""

import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from desk.test_commands import TIMEOUT, free_port, slpdesk

TESTS = Path(__file__).resolve().parent.parent


def start_serve(env, log: Path, *args: str) -> tuple[subprocess.Popen, int]:
    """``slpdesk serve`` on a free port with ``args``; returns once it answers."""
    port = free_port()
    with open(log, "w") as out:
        proc = subprocess.Popen(slpdesk("serve", "--port", str(port), *args), env=env,
                                stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + TIMEOUT
    while True:
        assert proc.poll() is None, f"serve exited early:\n{log.read_text()}"
        assert time.monotonic() < deadline, log.read_text()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/", timeout=5):
                return proc, port
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)


def wait_for(condition, what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def site_env(env, slow_dir: Path) -> dict:
    env = dict(env, DJANGO_SETTINGS_MODULE="desk.serve_site",
               SLPDESK_TEST_SLOW_DIR=str(slow_dir), SLPDESK_SHUTDOWN_GRACE="120")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), env.get("PYTHONPATH")]))
    return env


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_lets_20_requests_in_flight_finish_then_exits_0(command_env, tmp_path,
                                                                    stop):
    slow_dir = tmp_path / "slow"
    slow_dir.mkdir()
    proc, port = start_serve(site_env(command_env, slow_dir), tmp_path / "serve.log",
                             "--workers", "2", "--threads", "20")
    answers: dict[int, object] = {}

    def fetch(n):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/test/slow/?n={n}",
                                        timeout=TIMEOUT) as response:
                answers[n] = (response.status, response.read().decode())
        except Exception as exc:  # noqa: BLE001 - recorded, asserted below
            answers[n] = exc

    clients = [threading.Thread(target=fetch, args=(n,)) for n in range(20)]
    try:
        for client in clients:
            client.start()
        wait_for(lambda: len(list(slow_dir.glob("started-*"))) == 20, "20 requests in flight")
        proc.send_signal(stop)
        # The server stops: it no longer takes a new connection, while all 20 wait.
        wait_for(lambda: "Handling signal" in (tmp_path / "serve.log").read_text()
                 or "Shutting down" in (tmp_path / "serve.log").read_text(), "the stop")
        assert answers == {}, "a request ended before it was released"
        (slow_dir / "release").touch()
        for client in clients:
            client.join(TIMEOUT)
        status = proc.wait(TIMEOUT)
    finally:
        (slow_dir / "release").touch()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert answers == {n: (200, f"done {n}") for n in range(20)}
    assert status == 0, (tmp_path / "serve.log").read_text()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/health/", timeout=5)


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def test_the_demo_serves_with_a_worker_that_mails_and_stops_with_it(command_env, tmp_path):
    port = free_port()
    log = tmp_path / "demo.log"
    mail = Path(command_env["SLPDESK_DATA_DIR"]) / "mail"
    with open(log, "w") as out:
        proc = subprocess.Popen(slpdesk("demo", "--port", str(port)), env=command_env,
                                stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    try:
        wait_for(lambda: f"serving on http://127.0.0.1:{port}/" in log.read_text()
                 or proc.poll() is not None, "the demo")
        assert proc.poll() is None, log.read_text()
        # The worker gives the SLA warnings of the demo's cases (to files: no SMTP set).
        wait_for(lambda: mail.is_dir() and any(mail.glob("slpdesk.at_risk.*.eml")),
                 "an SLA warning mailed")
        workers = [pid for pid in children(proc.pid)
                   if b"worker" in Path(f"/proc/{pid}/cmdline").read_bytes()]
        assert len(workers) == 1
        # The made-up history's mails (case received, replies...) are settled, not sent.
        assert not list(mail.glob("slpdesk.case_received.*.eml"))
        proc.send_signal(signal.SIGINT)
        assert proc.wait(TIMEOUT) == 0
        wait_for(lambda: not Path(f"/proc/{workers[0]}").exists()
                 or (Path(f"/proc/{workers[0]}/stat").read_bytes()
                             .rsplit(b")", 1)[1].split()[0]) == b"Z", "the worker to stop")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
