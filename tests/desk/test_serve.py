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
