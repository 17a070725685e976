"""Small parsers for settings (:mod:`slpdesk.settings` reads the environment and
imports no app of ours, so what it needs to check a value lives here), and the
readers needed before (or without) Django's settings: ``slpdesk restore`` must know
the data directory without creating anything in it, which importing the settings
would (the secret key). Standard library only.

Each parser takes the variable's text and returns the value, or raises
``ValueError`` with a message that says what is wrong; ``settings.py`` turns
that into ``ImproperlyConfigured`` naming the variable.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple
from urllib.parse import parse_qsl, unquote, urlsplit

# ------------------------------------------- SLPDESK_MAIL_TRUSTED_AUTHSERV_IDS
#: An authserv-id as MTAs write it: a host name (RFC 8601 §2.5 recommends the
#: receiving host's domain name), letters, digits, dots, hyphens, underscores.
_AUTHSERV_ID = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,251}[A-Za-z0-9])?")


def parse_authserv_ids(value: str) -> tuple[str, ...]:
    """``mx1.example.com, mx2.example.com`` → ``("mx1.example.com", "mx2.example.com")``
    (lower case, in order, each once); empty text → ``()`` (no mail is verified)."""
    ids: list[str] = []
    for part in (value or "").split(","):
        item = part.strip()
        if not item:
            continue
        if not _AUTHSERV_ID.fullmatch(item):
            raise ValueError(f"{item!r} is not an authserv-id (a host name such as "
                             "mx.example.com; separate several with commas)")
        if item.lower() not in ids:
            ids.append(item.lower())
    return tuple(ids)


# ------------------------------------------------------ SLPDESK_RETENTION_YEARS
def parse_retention_years(value: str) -> int | None:
    """``""`` or ``off`` → None (no retention); else a whole number of years, 1-100,
    after which resolved and closed cases lose their personal data."""
    text = (value or "").strip().lower()
    if text in ("", "off"):
        return None
    if not re.fullmatch(r"[0-9]{1,3}", text) or not 1 <= int(text) <= 100:
        raise ValueError(f"{value!r} is not a number of years from 1 to 100 (or off)")
    return int(text)


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/slpdesk``, or ``~/.local/share/slpdesk``."""
    base = os.environ.get("XDG_DATA_HOME", "").strip()
    return (Path(base) if base else Path.home() / ".local" / "share") / "slpdesk"


def data_dir() -> Path:
    """The data directory: ``SLPDESK_DATA_DIR``, else :func:`default_data_dir`."""
    return Path(os.environ.get("SLPDESK_DATA_DIR", "").strip()
                or default_data_dir()).expanduser()


# ------------------------------------------------------ SLPDESK_API_RATE
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RATE_RE = re.compile(r"([1-9][0-9]{0,8})/([smhd])")


class Rate(NamedTuple):
    requests: int
    seconds: int


@lru_cache(maxsize=16)
def parse_rate(text: str) -> Rate | None:
    """``N/s``, ``N/m``, ``N/h`` or ``N/d`` (N from 1), or ``off`` for no limit.

    Strict: no spaces inside, no other units, no zero; raises ValueError naming
    what is wrong.
    """
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not a rate")
    value = text.strip()
    if value == "off":
        return None
    match = _RATE_RE.fullmatch(value)
    if match is None:
        raise ValueError(f"{text!r} is not a rate (use N/s, N/m, N/h or N/d, e.g. 120/m, "
                         "or off)")
    return Rate(int(match[1]), _UNITS[match[2]])


# ------------------------------------------------------ SLPDESK_EMAIL_URL
DEFAULT_PORTS = {"smtp": 25, "smtps": 465}
DEFAULT_TIMEOUT = 30  # seconds for one SMTP conversation step; well inside the worker's lease
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


@dataclass(frozen=True)
class SmtpServer:
    """Where and how to hand mail to an SMTP server (parsed ``SLPDESK_EMAIL_URL``)."""

    scheme: str  # smtp or smtps
    host: str
    port: int
    username: str = ""
    password: str = field(default="", repr=False)  # never in a log line or a traceback
    starttls: bool = False
    timeout: int = DEFAULT_TIMEOUT

    def __str__(self) -> str:  # safe to print: no password
        user = f"{self.username}@" if self.username else ""
        tls = " (STARTTLS)" if self.starttls else ""
        return f"{self.scheme}://{user}{self.host}:{self.port}{tls}"


def parse_email_url(url: str) -> SmtpServer | None:
    """``SLPDESK_EMAIL_URL`` as an :class:`SmtpServer`; None for an empty value (the
    embedded default). Raises ValueError naming what is wrong."""
    url = (url or "").strip()
    if not url:
        return None
    hint = ("use smtp://user:password@host:587?starttls=1 or smtps://user:password@host:465, "
            "or leave it unset to keep mails in the data directory")
    if any(c in url for c in "\r\n\t "):
        raise ValueError(f"must not contain white space ({hint})")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{exc} ({hint})") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ValueError(f"unsupported scheme {parts.scheme!r} ({hint})")
    host = parts.hostname or ""
    if not host:
        raise ValueError(f"give the server's host name ({hint})")
    if parts.path not in ("", "/") or parts.fragment:
        raise ValueError(f"unexpected path or fragment after the host ({hint})")
    if port == 0:
        raise ValueError("port 0 is not a port")
    username = unquote(parts.username or "")
    password = unquote(parts.password or "")
    if bool(username) != bool(password):
        raise ValueError("give both a user name and a password, or neither")
    options: dict[str, str] = {}
    try:
        pairs = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise ValueError(f"cannot read the options {parts.query!r} ({hint})") from None
    for key, value in pairs:
        if key in options:
            raise ValueError(f"option {key!r} is given twice")
        options[key] = value
    unknown = set(options) - {"starttls", "timeout"}
    if unknown:
        raise ValueError(f"unknown option {sorted(unknown)[0]!r} (known: starttls, timeout)")
    starttls = False
    if "starttls" in options:
        value = options["starttls"].lower()
        if value not in _TRUE + _FALSE:
            raise ValueError(f"starttls={options['starttls']!r} is not a boolean (use 1 or 0)")
        starttls = value in _TRUE
        if starttls and scheme == "smtps":
            raise ValueError("starttls=1 makes no sense with smtps:// (TLS from the start)")
    timeout = DEFAULT_TIMEOUT
    if "timeout" in options:
        try:
            timeout = int(options["timeout"])
        except ValueError:
            raise ValueError(f"timeout={options['timeout']!r} is not a whole number of "
                             "seconds") from None
        if not 1 <= timeout <= 120:
            raise ValueError("timeout must be between 1 and 120 seconds")
    return SmtpServer(scheme=scheme, host=host, port=port or DEFAULT_PORTS[scheme],
                      username=username, password=password, starttls=starttls,
                      timeout=timeout)


# ------------------------------------------------------------ SLPDESK_OIDC_*
#: The staff roles a group may map to, from the fewest rights to the most
#: (``desk.models.User.Role`` less the customer's;
#: tests/test_sso_config.py keeps the two in step).
STAFF_ROLES = ("executive", "agent", "supervisor", "manager", "admin")
#: Signature algorithms the ID token may use (asymmetric only: the client secret
#: never signs anything the desk believes).
SIGN_ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256")
_OIDC_OPTIONAL = ("SLPDESK_OIDC_EMAIL_CLAIM", "SLPDESK_OIDC_GROUPS_CLAIM",
                  "SLPDESK_OIDC_ROLE_MAP", "SLPDESK_OIDC_STAFF_PASSWORD_LOGIN",
                  "SLPDESK_OIDC_NAME", "SLPDESK_OIDC_SCOPES", "SLPDESK_OIDC_SIGN_ALGO")
_CLAIM_RE = re.compile(r"[A-Za-z0-9_.:/-]{1,100}")
_SCOPE_RE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")  # RFC 6749 §3.3 scope-token


@dataclass(frozen=True)
class OidcProvider:
    """Single sign-on with one OpenID Connect provider (parsed ``SLPDESK_OIDC_*``)."""

    discovery_url: str
    issuer: str  # "" when only the discovery URL was given: then the document's issuer
    client_id: str
    client_secret: str = field(repr=False)
    name: str
    email_claim: str = "email"
    groups_claim: str = "groups"
    role_map: tuple[tuple[str, str], ...] = ()  # (group, staff role), in the given order
    staff_password_login: bool = True
    scopes: str = "openid email profile"
    sign_algo: str = "RS256"

    def roles_for(self, groups) -> list[str]:
        """The staff roles ``groups`` map to, in the order of ``STAFF_ROLES`` (the
        last one carries the most rights)."""
        wanted = {role for group, role in self.role_map if group in set(groups)}
        return [role for role in STAFF_ROLES if role in wanted]


def _provider_url(name: str, value: str) -> str:
    """An https:// address (http:// only on the loopback, for a provider on this host)."""
    try:
        parts = urlsplit(value)
        host = parts.hostname or ""
    except ValueError:
        parts, host = None, ""
    loopback = host in ("localhost", "::1") or host.startswith("127.")
    if (parts is None or not host or parts.query or parts.fragment
            or parts.scheme not in ("https", "http") or (parts.scheme == "http" and not loopback)
            or any(c.isspace() for c in value)):
        raise ValueError(f"{name}={value!r} is not an https:// address "
                         "(e.g. https://login.example.com/realms/support)")
    return value


def parse_role_map(value: str) -> tuple[tuple[str, str], ...]:
    """``support-agents=agent, support-leads=supervisor`` → pairs (group, role)."""
    pairs: list[tuple[str, str]] = []
    for part in (value or "").split(","):
        if not part.strip():
            continue
        group, sep, role = part.rpartition("=")
        group, role = group.strip(), role.strip().lower()
        if not sep or not group:
            raise ValueError(f"{part.strip()!r} is not group=role "
                             "(e.g. support-agents=agent,support-leads=supervisor)")
        if role not in STAFF_ROLES:
            raise ValueError(f"{role!r} is not a staff role (use one of "
                             f"{', '.join(STAFF_ROLES)})")
        if any(group == known for known, _ in pairs):
            raise ValueError(f"the group {group!r} is given twice")
        pairs.append((group, role))
    return tuple(pairs)


def parse_oidc(env) -> OidcProvider | None:
    """Single sign-on from the environment ``env`` (a mapping), or None when neither
    ``SLPDESK_OIDC_ISSUER`` nor ``SLPDESK_OIDC_DISCOVERY_URL`` is set. Raises
    ValueError with one line that names the variable."""
    def get(name: str) -> str:
        return (env.get(name) or "").strip()

    issuer, discovery = get("SLPDESK_OIDC_ISSUER"), get("SLPDESK_OIDC_DISCOVERY_URL")
    if not issuer and not discovery:
        given = [n for n in ("SLPDESK_OIDC_CLIENT_ID", "SLPDESK_OIDC_CLIENT_SECRET",
                             *_OIDC_OPTIONAL) if get(n)]
        if given:
            raise ValueError(f"{given[0]} is set but single sign-on is not: set "
                             "SLPDESK_OIDC_ISSUER (or SLPDESK_OIDC_DISCOVERY_URL) too")
        return None
    if issuer:
        issuer = _provider_url("SLPDESK_OIDC_ISSUER", issuer)
    if discovery:
        discovery = _provider_url("SLPDESK_OIDC_DISCOVERY_URL", discovery)
    else:
        discovery = issuer.rstrip("/") + "/.well-known/openid-configuration"
    for name in ("SLPDESK_OIDC_CLIENT_ID", "SLPDESK_OIDC_CLIENT_SECRET"):
        if not get(name):
            raise ValueError(f"{name} is missing (single sign-on needs the client id and "
                             "secret the provider gave the desk)")
    claims = {}
    for name, default in (("SLPDESK_OIDC_EMAIL_CLAIM", "email"),
                          ("SLPDESK_OIDC_GROUPS_CLAIM", "groups")):
        claims[name] = get(name) or default
        if not _CLAIM_RE.fullmatch(claims[name]):
            raise ValueError(f"{name}={claims[name]!r} is not a claim name (e.g. {default})")
    try:
        role_map = parse_role_map(get("SLPDESK_OIDC_ROLE_MAP"))
    except ValueError as exc:
        raise ValueError(f"SLPDESK_OIDC_ROLE_MAP: {exc}") from None
    password = get("SLPDESK_OIDC_STAFF_PASSWORD_LOGIN").lower() or "on"
    if password not in _TRUE + _FALSE:
        raise ValueError(f"SLPDESK_OIDC_STAFF_PASSWORD_LOGIN={password!r} is not on or off")
    scopes = get("SLPDESK_OIDC_SCOPES") or "openid email profile"
    if "openid" not in scopes.split() or not all(_SCOPE_RE.fullmatch(s) for s in scopes.split()):
        raise ValueError(f"SLPDESK_OIDC_SCOPES={scopes!r} must be scope names separated by "
                         "spaces, with openid among them (e.g. 'openid email profile groups')")
    algo = get("SLPDESK_OIDC_SIGN_ALGO") or "RS256"
    if algo not in SIGN_ALGORITHMS:
        raise ValueError(f"SLPDESK_OIDC_SIGN_ALGO={algo!r} is not one of "
                         f"{', '.join(SIGN_ALGORITHMS)}")
    name = get("SLPDESK_OIDC_NAME") or urlsplit(issuer or discovery).hostname
    if len(name) > 60:
        raise ValueError("SLPDESK_OIDC_NAME is longer than 60 characters")
    return OidcProvider(
        discovery_url=discovery, issuer=issuer, client_id=get("SLPDESK_OIDC_CLIENT_ID"),
        client_secret=get("SLPDESK_OIDC_CLIENT_SECRET"), name=name,
        email_claim=claims["SLPDESK_OIDC_EMAIL_CLAIM"],
        groups_claim=claims["SLPDESK_OIDC_GROUPS_CLAIM"], role_map=role_map,
        staff_password_login=password in _TRUE, scopes=" ".join(scopes.split()),
        sign_algo=algo)
