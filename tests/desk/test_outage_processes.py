"""Database outages met by a real ``slpdesk serve`` (issue 12, item 2): 503 with
``Retry-After`` (the page in the layout and the user's language, the API's JSON
error), never a 500; a short outage is waited out; serving resumes by itself.

PostgreSQL: the server reaches the test database through a TCP proxy started here,
which the test cuts and restores (the shared PostgreSQL server is never touched).
SQLite: the database file is moved away, then replaced by something unreadable.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from email.message import Message
from pathlib import Path

import pytest
from django.db import connection

from desk.test_commands import TIMEOUT, free_port, slpdesk


class Proxy:
    """A TCP forwarder to ``target`` that can be cut: ``cut()`` closes the listening
    socket and every connection (clients are refused, as by a stopped server);
    ``cut(accept=True)`` keeps accepting but drops each connection at once and
    counts them in ``dropped``. ``restore()`` forwards again on the same port."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.port = free_port()
        self.up = True
        self.dropped = 0
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listen()

    def _listen(self) -> None:
        self._server = socket.socket()
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", self.port))
        self._server.listen(64)
        threading.Thread(target=self._accept, args=(self._server,), daemon=True).start()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            if not self.up:
                with self._lock:
                    self.dropped += 1
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._socks += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self, *, accept: bool = False) -> None:
        self.up = False
        if not accept:
            self._server.close()
        with self._lock:
            for s in self._socks:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            self._socks.clear()

    def restore(self) -> None:
        if self._server.fileno() == -1:
            self._listen()
        self.up = True

    def close(self) -> None:
        self.cut()


def fetch(url: str, headers: dict | None = None) -> tuple[int, Message, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read().decode()


def wait_for(condition, what: str, timeout: float = TIMEOUT, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n"
                                 f"{log.read_text() if log else ''}")
        time.sleep(0.05)


class Server:
    def __init__(self, env: dict, log: Path):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        with open(log, "w") as out:
            self.proc = subprocess.Popen(slpdesk("serve", "--port", str(self.port)), env=env,
                                         stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)

        def up():
            assert self.proc.poll() is None, log.read_text()
            try:
                return fetch(self.base + "/health/")[0] == 200
            except (urllib.error.URLError, ConnectionError):
                return False

        wait_for(up, "the server", log=log)

    def get(self, path: str, **headers) -> tuple[int, Message, str]:
        return fetch(self.base + path, headers)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


PAGES = ["/login/", "/portal/", "/console/", "/api/v1/cases", "/api/v1/releases",
         "/health/ready", "/admin/login/"]


def assert_unavailable(server: Server) -> None:
    """Every page answers 503 with Retry-After while the database is away (in the
    language the browser's cookie asks for), and never 500; /health/ stays 200."""
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda p: (p, *server.get(p)), PAGES * 3))
    statuses = {(path, status) for path, status, _h, _b in answers}
    assert statuses == {(path, 503) for path in PAGES}, server.log.read_text()
    for path, _status, headers, body in answers:
        assert headers["Retry-After"] == "10"
        if path.startswith("/api/"):
            assert json.loads(body)["code"] == "unavailable"
        elif path == "/health/ready":
            assert json.loads(body)["status"] == "unavailable"
        else:
            assert "The service is unavailable for a moment" in body
            assert '<header class="topbar">' in body and headers["X-Request-ID"] in body
    status, _h, body = server.get("/login/", Cookie="django_language=sv")
    assert status == 503 and "Tjänsten är inte tillgänglig för tillfället" in body
    assert server.get("/health/")[0] == 200


def assert_serving(server: Server) -> None:
    assert server.get("/login/")[0] == 200
    status, _h, body = server.get("/health/ready")
    assert status == 200 and json.loads(body)["status"] == "ready", body


def assert_clean_log(server: Server) -> None:
    text = server.log.read_text()
    # A request line is "GET /path STATUS DURATION ms": a 500 is the status, not a
    # request that happened to take 500 ms ("GET /login/ 200 500 ms").
    assert "Traceback" not in text and not re.search(r" 500 \d+ ms", text), text
    assert "WARNING slpdesk.request" in text and "database unavailable" in text


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs a database server")
def test_postgresql_going_away_is_503_then_waited_out_then_served(command_env, tmp_path):
    db = connection.settings_dict
    proxy = Proxy((db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432)))
    env = {**command_env, "SLPDESK_DB_WAIT": "1", "SLPDESK_DATABASE_URL":
           command_env["SLPDESK_DATABASE_URL"].replace(f":{db['PORT'] or 5432}/",
                                                       f":{proxy.port}/")}
    assert str(proxy.port) in env["SLPDESK_DATABASE_URL"]
    server = Server(env, tmp_path / "serve.log")
    try:
        assert_serving(server)
        proxy.cut()  # refused, as by a stopped server
        assert_unavailable(server)
        proxy.restore()
        assert_serving(server)  # by itself

        proxy.cut(accept=True)  # connections dropped at once
        assert_unavailable(server)
        # A request that meets a short outage waits (SLPDESK_DB_WAIT) and is answered.
        dropped = proxy.dropped
        with ThreadPoolExecutor(1) as pool:
            waiting = pool.submit(server.get, "/login/")
            wait_for(lambda: proxy.dropped > dropped, "the request to try the database")
            proxy.restore()
            assert waiting.result()[0] == 200
        assert_serving(server)
    finally:
        server.stop()
        proxy.close()
    assert_clean_log(server)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the SQLite file")
def test_a_missing_or_unreadable_sqlite_file_is_503_then_served(command_env, tmp_path):
    env = {**command_env, "SLPDESK_DB_WAIT": "1"}
    server = Server(env, tmp_path / "serve.log")
    db = Path(env["SLPDESK_DATA_DIR"]) / "slpdesk.sqlite3"
    away = tmp_path / "away"
    away.mkdir()
    try:
        assert_serving(server)
        for path in db.parent.glob("slpdesk.sqlite3*"):  # with its -wal and -shm
            shutil.move(path, away / path.name)
        assert_unavailable(server)
        assert not db.exists()  # no empty database made in its place
        db.mkdir()  # something there that SQLite cannot open
        assert_unavailable(server)
        db.rmdir()
        for path in away.iterdir():
            shutil.move(path, db.parent / path.name)
        assert_serving(server)
    finally:
        server.stop()
    assert_clean_log(server)
