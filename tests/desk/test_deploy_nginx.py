"""The deployment of docs/deploy.md, tested: ``slpdesk serve`` behind a real nginx running
``deploy/nginx/slpdesk.conf`` with TLS (a self-signed certificate) and
``SLPDESK_HTTPS=1`` (issue 12, item 9).

nginx runs as a child of the test (``daemon off``) with its own prefix, configuration
and free ports in a temporary directory; no system service is touched.
"""

import hashlib
import os
import re
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
import requests
import requests.adapters

from desk.test_commands import TIMEOUT, free_port, run
from desk.test_serve import site_env, start_serve, wait_for

ROOT = Path(__file__).resolve().parents[2]
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx")
                                  else None)
OUTSIDER = "127.0.0.2"
LIMIT = 20 * 1024 * 1024  # SLPDESK_MAX_ATTACHMENT_BYTES's default

if NGINX is None and os.environ.get("CI") == "true":
    pytest.fail("nginx is required in CI (.ci/run installs it)", pytrace=False)
pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed")


def certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-addext",
                    "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=TIMEOUT)
    return cert, key


def nginx_config(folder: Path, *, upstream: int, https: int, http: int, cert, key) -> Path:
    """deploy/nginx/slpdesk.conf with this test's ports, names and certificate, inside
    the minimal main configuration a private nginx needs."""
    site = (ROOT / "deploy" / "nginx" / "slpdesk.conf").read_text()
    replacements = {
        "server 127.0.0.1:8000;": f"server 127.0.0.1:{upstream};",
        "listen 443 ssl http2;": f"listen 127.0.0.1:{https} ssl http2;",
        "listen [::]:443 ssl http2;": "",
        "listen 80;": f"listen 127.0.0.1:{http};",
        "listen [::]:80;": "",
        "server_name support.example.com;": "server_name localhost;",
        "/etc/letsencrypt/live/support.example.com/fullchain.pem": str(cert),
        "/etc/letsencrypt/live/support.example.com/privkey.pem": str(key),
    }
    for old, new in replacements.items():
        assert old in site, f"deploy/nginx/slpdesk.conf no longer has {old!r}"
        site = site.replace(old, new)
    temp = "\n".join(f"    {kind}_temp_path {folder / kind};"
                     for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    conf = folder / "nginx.conf"
    conf.write_text(f"""
user root;
daemon off;
worker_processes 1;
pid {folder / 'nginx.pid'};
error_log {folder / 'error.log'} info;
events {{ worker_connections 128; }}
http {{
    access_log {folder / 'access.log'};
{temp}
{site}
}}
""")
    return conf


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.fixture
def deployment(command_env, tmp_path):
    """The demo data, ``slpdesk serve`` with SLPDESK_HTTPS=1, nginx in front."""
    loaded = run(command_env, "demo", "--no-serve")
    assert loaded.returncode == 0, loaded.stderr
    (tmp_path / "slow").mkdir()
    env = site_env(command_env, tmp_path / "slow")
    env.update(SLPDESK_HTTPS="1", SLPDESK_ALLOWED_HOSTS="localhost,127.0.0.1",
               SLPDESK_HSTS_SECONDS="3600")
    env.pop("SLPDESK_CSRF_TRUSTED_ORIGINS", None)
    env.pop("SLPDESK_TRUSTED_PROXIES", None)  # the default: 127.0.0.1
    serve, upstream = start_serve(env, tmp_path / "serve.log", "--no-migrate")
    folder = tmp_path / "nginx"
    folder.mkdir()
    cert, key = certificate(folder)
    https, http = free_port(), free_port()
    conf = nginx_config(folder, upstream=upstream, https=https, http=http, cert=cert, key=key)
    nginx = subprocess.Popen([NGINX, "-p", str(folder), "-c", str(conf), "-e",
                              str(folder / "error.log")], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: listening(https) or nginx.poll() is not None, "nginx")
        assert nginx.poll() is None, nginx.stderr.read().decode()
        yield {"proxy": f"https://localhost:{https}", "direct": f"http://127.0.0.1:{upstream}",
               "cert": str(cert), "http": http}
    finally:
        for proc in (nginx, serve):
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def plain() -> requests.Session:
    """A client that ignores the environment's proxies and CA bundle (REQUESTS_CA_BUNDLE
    would override ``verify``)."""
    session = requests.Session()
    session.trust_env = False
    return session


class _FromOutsider(requests.adapters.HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (OUTSIDER, 0)
        super().init_poolmanager(*args, **kwargs)


def outsider() -> requests.Session:
    """A client straight to serve from an address that is not the trusted proxy's
    (127.0.0.2: every 127/8 address is this machine)."""
    session = plain()
    session.mount("http://", _FromOutsider())
    return session


def browser(deployment) -> requests.Session:
    """A client that trusts the test's certificate."""
    session = plain()
    session.verify = deployment["cert"]
    return session


def log_in(session, base: str, username: str, *, origin: str | None = None,
           password: str = "slpdesk-demo") -> requests.Response:
    """The log-in form as a browser posts it (Referer, and Origin when given)."""
    page = session.get(f"{base}/login/", timeout=30)
    assert page.status_code == 200
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    headers = {"Referer": f"{base}/login/"}
    if origin:
        headers["Origin"] = origin
    return session.post(f"{base}/login/", data={"csrfmiddlewaretoken": token,
                                                 "username": username, "password": password},
                        headers=headers, allow_redirects=False, timeout=30)


def test_the_app_sees_https_only_through_the_trusted_proxy(deployment):
    session = browser(deployment)
    # A client's own X-Forwarded-* are overwritten by nginx.
    seen = session.get(f"{deployment['proxy']}/test/request/", timeout=30,
                       headers={"X-Forwarded-For": "203.0.113.9",
                                "X-Forwarded-Proto": "http"}).json()
    assert seen == {"is_secure": True, "remote_addr": "127.0.0.1",
                    "host": deployment["proxy"].removeprefix("https://")}
    # Straight to serve from elsewhere, a spoofed header counts for nothing: the request
    # is plain http to the application, which sends it to https (SECURE_SSL_REDIRECT).
    direct = outsider().get(f"{deployment['direct']}/test/request/", timeout=30,
                            allow_redirects=False,
                            headers={"X-Forwarded-Proto": "https",
                                     "X-Forwarded-For": "203.0.113.9"})
    assert direct.status_code == 301
    assert direct.headers["Location"].startswith("https://127.0.0.1:")
    # Plain http on the proxy is sent to https (the standard port: $host has no port).
    redirect = plain().get(f"http://localhost:{deployment['http']}/portal/?x=1",
                            allow_redirects=False, timeout=30)
    assert redirect.status_code == 301
    assert redirect.headers["Location"] == "https://localhost/portal/?x=1"


def test_log_in_through_the_proxy_with_secure_cookies_and_its_origin(deployment):
    base = deployment["proxy"]  # on a port other than 443, without CSRF_TRUSTED_ORIGINS
    session = browser(deployment)
    response = log_in(session, base, "ellen.brooks", origin=base)
    assert response.status_code == 302, response.text[:500]
    cookies = {c.name: c for c in session.cookies}
    assert cookies["sessionid"].secure and cookies["csrftoken"].secure
    assert cookies["sessionid"].has_nonstandard_attr("HttpOnly")
    assert session.get(f"{base}/portal/", timeout=30).status_code == 200
    # The Referer alone (no Origin header) is checked against the proxy's https origin.
    assert log_in(browser(deployment), base, "james.carter").status_code == 302
    # Another origin is refused.
    assert log_in(browser(deployment), base, "james.carter",
                  origin="https://evil.example").status_code == 403


def test_a_spoofed_https_straight_to_serve_is_not_believed(deployment):
    direct = deployment["direct"]
    session = outsider()
    # Were the header believed, the log-in form would be served; it is redirected.
    page = session.get(f"{direct}/login/", headers={"X-Forwarded-Proto": "https"},
                       allow_redirects=False, timeout=30)
    assert page.status_code == 301 and page.headers["Location"].startswith("https://")


def test_an_upload_near_the_limit_and_its_download_through_the_proxy(deployment, tmp_path):
    base = deployment["proxy"]
    session = browser(deployment)
    assert log_in(session, base, "ellen.brooks", origin=base).status_code == 302
    listing = session.get(f"{base}/portal/cases/", timeout=30).text
    number = re.search(r"/portal/cases/(SLP-\d+)/", listing).group(1)
    page = session.get(f"{base}/portal/cases/{number}/", timeout=30).text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    content = os.urandom(LIMIT - 4096)
    response = session.post(f"{base}/portal/cases/{number}/files/",
                            data={"csrfmiddlewaretoken": token},
                            files={"files": ("big-trace.bin", content)},
                            headers={"Referer": f"{base}/portal/cases/{number}/",
                                     "Origin": base},
                            allow_redirects=False, timeout=120)
    assert response.status_code == 302, response.text[:500]
    page = session.get(f"{base}/portal/cases/{number}/", timeout=30).text
    link = re.search(r'href="(/attachments/\d+/)"[^>]*>\s*big-trace\.bin', page)
    assert link, "the file is not listed on the case"
    download = session.get(base + link.group(1), timeout=120)
    assert download.status_code == 200
    assert hashlib.sha256(download.content).hexdigest() == hashlib.sha256(content).hexdigest()
    assert download.headers["Content-Disposition"].startswith("attachment")
    # One byte over the desk's limit: the desk's own message, not nginx's bare 413.
    over = session.post(f"{base}/portal/cases/{number}/files/",
                        data={"csrfmiddlewaretoken": token},
                        files={"files": ("too-big.bin", os.urandom(LIMIT + 1))},
                        headers={"Referer": f"{base}/portal/cases/{number}/",
                                 "Origin": base},
                        allow_redirects=False, timeout=120)
    assert over.status_code == 200
    assert "is too large" in over.text and "nginx" not in over.text


@pytest.mark.skipif("SLPDESK_HSTS_SECONDS" not in (ROOT / "src/slpdesk/settings.py").read_text(),
                    reason="SLPDESK_HSTS_SECONDS is not there yet (issue 11)")
def test_hsts_through_the_proxy(deployment):
    response = browser(deployment).get(f"{deployment['proxy']}/login/", timeout=30)
    assert response.headers["Strict-Transport-Security"].startswith("max-age=3600")
    direct = plain().get(f"{deployment['direct']}/login/", timeout=30, allow_redirects=False)
    assert "Strict-Transport-Security" not in direct.headers  # plain http: never
