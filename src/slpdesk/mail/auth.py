"""Is an inbound mail from whom its ``From:`` says? Only the desk's own MTA can say.

The receiving MTA (Postfix with OpenDKIM/OpenDMARC, or any MTA that checks DKIM
and DMARC) adds an ``Authentication-Results`` header (RFC 8601) on top of the
message, naming itself by its *authserv-id*. Anyone can write such a header
into a mail, so only the headers of the ids in
``SLPDESK_MAIL_TRUSTED_AUTHSERV_IDS`` are believed, and only the run of them
at the top of the message: the first header from any other id (or one that
cannot be read) ends the run, and nothing below it is believed. Within the run
the topmost header that reports a method (``dmarc``, ``dkim``) is that
method's verdict, so a forged header with our id further down cannot outvote
what our MTA wrote above it. (The MTA should still remove senders' own
headers: see the README's Postfix ``header_checks``.)

A message is **verified** when that verdict is ``dmarc=pass`` (for the
``From:`` domain), or ``dkim=pass`` with a signing domain (``header.d``)
*aligned* with the ``From:`` domain: the same organisational domain under the
Public Suffix List (DMARC's relaxed alignment, RFC 7489 §3.1.1). ``none``,
``neutral``, ``temperror``, ``permerror``, a missing header and an untrusted id
leave it unverified; ``dmarc=fail`` from a trusted id is a forgery.

The headers are parsed with ``authres`` (RFC 8601), never a regular expression.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import authres
from publicsuffixlist import PublicSuffixList


@dataclass(frozen=True)
class Verdict:
    verified: bool
    #: A trusted MTA found DMARC failing for the From: domain: a forgery.
    dmarc_fail: bool = False
    #: What decided it, for agents: ``dmarc=pass (mx.example.com)``, ``dmarc=none …``,
    #: or ``""`` when no trusted header said anything.
    detail: str = ""


@lru_cache(maxsize=1)
def _suffixes() -> PublicSuffixList:
    return PublicSuffixList()  # the list bundled with the package: no network


def organisational_domain(domain: str) -> str:
    """``mail.example.co.uk`` → ``example.co.uk`` (the public suffix plus one label);
    a public suffix itself, or a name it does not know, stays as it is."""
    domain = domain.strip().rstrip(".").lower()
    return _suffixes().privatesuffix(domain) or domain


def aligned(signing_domain: str, from_domain: str) -> bool:
    """DMARC's relaxed alignment: the same organisational domain."""
    if not signing_domain or not from_domain:
        return False
    return organisational_domain(signing_domain) == organisational_domain(from_domain)


def _property(result, ptype: str, name: str) -> str:
    for prop in getattr(result, "properties", None) or ():
        if (prop.type or "").lower() == ptype and (prop.name or "").lower() == name:
            return str(prop.value or "").strip().lower()
    return ""


def _dkim_domain(result) -> str:
    """The signing domain: ``header.d``, else the domain of ``header.i``."""
    return _property(result, "header", "d") or _property(result, "header", "i").rpartition(
        "@")[2]


def trusted_results(headers: list[str], trusted: tuple[str, ...]) -> dict[str, tuple]:
    """``{"dmarc": (authserv_id, [results]), "dkim": …}``: per method, the results of the
    topmost header of the top run of trusted headers that reports that method."""
    found: dict[str, tuple] = {}
    allowed = {t.lower() for t in trusted}
    for value in headers:
        try:
            header = authres.AuthenticationResultsHeader.parse_value(" ".join(value.split()))
        except Exception:  # noqa: BLE001 - authres raises its own errors and worse
            break  # cannot tell who wrote it: nothing from here down is believed
        authserv = (header.authserv_id or "").strip().lower()
        if authserv not in allowed:
            break
        methods: dict[str, list] = {}
        for result in header.results or ():
            methods.setdefault((result.method or "").lower(), []).append(result)
        for method, results in methods.items():
            found.setdefault(method, (authserv, results))
    return found


def verify(headers: list[str], from_domain: str, trusted: tuple[str, ...]) -> Verdict:
    """The verdict on a message whose ``Authentication-Results`` values are ``headers``
    (top first) and whose ``From:`` address is at ``from_domain``."""
    from_domain = (from_domain or "").strip().rstrip(".").lower()
    found = trusted_results(headers, trusted)
    dmarc_id, dmarc = found.get("dmarc", ("", []))
    dkim_id, dkim = found.get("dkim", ("", []))
    for_from = [r for r in dmarc
                if _property(r, "header", "from") in ("", from_domain)]
    if any((r.result or "").lower() == "fail" for r in for_from):
        return Verdict(False, dmarc_fail=True, detail=f"dmarc=fail ({dmarc_id})")
    if from_domain and any((r.result or "").lower() == "pass" for r in for_from):
        return Verdict(True, detail=f"dmarc=pass ({dmarc_id})")
    for r in dkim:
        domain = _dkim_domain(r)
        if (r.result or "").lower() == "pass" and aligned(domain, from_domain):
            return Verdict(True, detail=f"dkim=pass header.d={domain} ({dkim_id})")
    said = [f"dmarc={(r.result or '').lower()}" for r in dmarc] + [
        f"dkim={(r.result or '').lower()}" + (f" header.d={_dkim_domain(r)}"
                                              if _dkim_domain(r) else "") for r in dkim]
    return Verdict(False, detail=", ".join(said)[:200])
