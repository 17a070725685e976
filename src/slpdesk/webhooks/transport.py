"""One HTTP POST to a receiver, guarded against server-side request forgery.

The host name is resolved once, **every** address it resolves to is checked
(loopback, private, link-local, reserved, multicast... anything that is not a
public address is refused unless ``SLPDESK_WEBHOOKS_ALLOW_PRIVATE``; one bad
address refuses the whole answer), and the connection is made to that checked
address itself, with the name in the ``Host`` header and, for https, in the TLS
server name and the certificate check. So a name that resolves to a public
address when checked and to 127.0.0.1 a moment later (DNS rebinding) cannot
reach the inside: there is no second lookup. Redirects are never followed.
Sent with urllib3 (timeouts for connecting and for each read; the answer read
up to :data:`EXCERPT_BYTES`).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import urllib3

#: How much of the answer is kept for the delivery log.
EXCERPT_BYTES = 1024


class Refused(Exception):
    """The URL or its address is not allowed (a permanent failure: not retried)."""


class NetworkError(Exception):
    """No answer: the name did not resolve, the connection failed or timed out."""


@dataclass(frozen=True)
class Answer:
    status: int
    excerpt: str
    retry_after: int | None  # seconds (a 429's or 503's Retry-After), if given


def allowed_address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, *,
                    allow_private: bool) -> bool:
    """A public (global unicast) address; any address with ``allow_private``."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if allow_private:
        return not ip.is_unspecified
    return ip.is_global and not ip.is_multicast


def check_url(url: str, *, allow_http: bool) -> tuple[str, str, int, str]:
    """``(scheme, host, port, path with query)`` of ``url``; :class:`Refused` for
    what may never be sent to (not http(s), http without ``allow_http``, user
    names in the URL, no host)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or (scheme == "http" and not allow_http):
        raise Refused("only https:// URLs are allowed")
    if parts.username is not None or parts.password is not None:
        raise Refused("a URL must not carry a user name or password")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise Refused("the port is not valid") from None
    host = parts.hostname or ""
    if not host:
        raise Refused("the URL has no host")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return scheme, host, port, path


def literal_address(host: str):
    """The address ``host`` is, if it is an IP literal, else None."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def resolve(host: str, port: int, *, allow_private: bool) -> str:
    """The address to connect to for ``host``: every address it resolves to checked
    (:func:`allowed_address`). Raises :class:`Refused` or :class:`NetworkError`."""
    literal = literal_address(host)
    if literal is not None:
        addresses = [literal]
    else:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise NetworkError(f"cannot resolve {host}: {exc}") from None
        addresses = [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]
        if not addresses:
            raise NetworkError(f"{host} has no address")
    for ip in addresses:
        if not allowed_address(ip, allow_private=allow_private):
            raise Refused(f"{host} resolves to {ip}, which is not a public address")
    return str(addresses[0])


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float,
         allow_http: bool, allow_private: bool) -> Answer:
    """POST ``body`` to ``url`` (see the module's docstring). Raises :class:`Refused`
    or :class:`NetworkError`; any HTTP answer is returned, whatever its status."""
    scheme, host, port, path = check_url(url, allow_http=allow_http)
    ip = resolve(host, port, allow_private=allow_private)
    default_port = 443 if scheme == "https" else 80
    shown = f"[{host}]" if ":" in host else host
    headers = {**headers, "Host": shown if port == default_port else f"{shown}:{port}"}
    timeouts = urllib3.Timeout(connect=timeout, read=timeout)
    if scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            ip, port, timeout=timeouts, retries=False, maxsize=1, cert_reqs="CERT_REQUIRED",
            server_hostname=host, assert_hostname=host)
    else:
        pool = urllib3.HTTPConnectionPool(ip, port, timeout=timeouts, retries=False, maxsize=1)
    try:
        response = pool.urlopen("POST", path, body=body, headers=headers, redirect=False,
                                retries=False, preload_content=False, assert_same_host=False)
        try:
            raw = response.read(EXCERPT_BYTES)
        except (urllib3.exceptions.HTTPError, OSError):
            raw = b""
        finally:
            response.release_conn()
            response.close()
    except urllib3.exceptions.HTTPError as exc:
        raise NetworkError(f"{type(exc).__name__}: {_reason(exc)}") from None
    except OSError as exc:
        raise NetworkError(f"{type(exc).__name__}: {exc}") from None
    finally:
        pool.close()
    return Answer(response.status, raw.decode("utf-8", "replace"),
                  _retry_after(response.headers.get("Retry-After")))


def _reason(exc: Exception) -> str:
    return str(getattr(exc, "reason", None) or exc)


def _retry_after(value: str | None) -> int | None:
    if value and value.strip().isdigit():
        return int(value.strip())
    return None
