"""The Django side of the ``slpdesk`` command: ``manage``, ``serve`` and ``demo``.

Each command runs as a real subprocess with its own data directory. On
PostgreSQL it is pointed at the test database (emptied after the test).
"""

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

from django.db import connection

from slpdesk import cli

TIMEOUT = 120  # seconds for one command (migrating a new SQLite database included)


def slpdesk(*args: str) -> list[str]:
    return [sys.executable, "-m", "slpdesk.cli", *args]


def run(env, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(slpdesk(*args), env=env, capture_output=True, text=True,
                          timeout=TIMEOUT, stdin=subprocess.DEVNULL)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status


# ------------------------------------------------------------------- manage
def test_manage_check_exits_0(command_env):
    result = run(command_env, "manage", "check")
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_manage_passes_every_option_to_django(command_env):
    result = run(command_env, "manage", "check", "--tag", "models", "--fail-level", "ERROR")
    assert result.returncode == 0, result.stderr
    result = run(command_env, "manage", "--help")
    assert result.returncode == 0
    assert "migrate" in result.stdout


def test_manage_fails_on_an_unknown_command(command_env):
    result = run(command_env, "manage", "no_such_command")
    assert result.returncode != 0
    assert "Unknown command" in result.stderr


# -------------------------------------------------------------------- serve
def test_serve_migrates_and_answers_http(command_env, tmp_path):
    port = free_port()
    log = tmp_path / "serve.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(slpdesk("serve", "--port", str(port)), env=command_env,
                                stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + TIMEOUT
        status = None
        while time.monotonic() < deadline:
            assert proc.poll() is None, f"serve exited early:\n{log.read_text()}"
            try:
                status = get(f"http://127.0.0.1:{port}/admin/login/")
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)
        assert status == 200, log.read_text()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    assert f"serving on http://127.0.0.1:{port}/" in log.read_text()


def test_serve_reports_a_port_in_use(command_env):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        result = run(command_env, "serve", "--port", str(busy.getsockname()[1]))
    assert result.returncode == 2
    assert result.stderr.startswith("slpdesk: error: cannot listen on 127.0.0.1:")
    assert len(result.stderr.strip().splitlines()) == 1


def test_serve_refuses_a_bad_port(capsys):
    assert cli.main(["serve", "--port", "99999"]) == 2
    assert "not a port number" in capsys.readouterr().err


# --------------------------------------------------------------------- demo
def test_two_processes_starting_at_once_migrate_and_load_the_demo_once(command_env):
    procs = [subprocess.Popen(slpdesk("demo", "--no-serve"), env=command_env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              stdin=subprocess.DEVNULL) for _ in range(2)]
    outputs = [p.communicate(timeout=TIMEOUT) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    said = [out for out, _ in outputs]
    assert sum("demo data loaded" in out for out in said) == 1, said
    assert sum("already loaded" in out for out in said) == 1, said


def test_demo_loads_once_and_prints_the_log_ins(command_env):
    first = run(command_env, "demo", "--no-serve")
    assert first.returncode == 0, first.stderr
    assert "demo data loaded" in first.stdout
    assert "password for all: slpdesk-demo" in first.stdout
    assert "anna.lind" in first.stdout and "admin" in first.stdout
    if connection.vendor == "postgresql":  # it loaded into the test database
        from slpdesk.desk.models import Case

        assert Case.objects.count() >= 40
    second = run(command_env, "demo", "--no-serve")
    assert second.returncode == 0, second.stderr
    assert "already loaded" in second.stdout
    assert "password for all: slpdesk-demo" in second.stdout


# ---------------------------------------------------------------------- sla
def test_sla_does_not_load_django():
    code = ("import sys; from slpdesk import cli; "
            "rc = cli.main(['sla', 'due', '--priority', 'P1', '--received', "
            "'2026-07-03T16:30', '--tz', 'America/New_York']); "
            "sys.exit(10 + rc if any(m.startswith('django') for m in sys.modules) else rc)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr
    assert '"response_due": "2026-07-06T10:00:00-04:00"' in result.stdout
