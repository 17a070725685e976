"""Who sent an inbound mail, as the desk's own MTA says (issue 11, X3): the
``SLPDESK_MAIL_TRUSTED_AUTHSERV_IDS`` setting and :func:`slpdesk.mail.auth.verify`.

Every expected verdict below is worked out by hand from RFC 8601 (who wrote the
header), RFC 7489 (DMARC's relaxed alignment) and the Public Suffix List.
"""

import os
import subprocess
import sys

import pytest

from slpdesk.config import parse_authserv_ids
from slpdesk.mail.auth import aligned, organisational_domain, verify

MX = ("mx.vendor.example",)


def test_the_setting_reads_comma_separated_authserv_ids():
    assert parse_authserv_ids("mx1.example.com, MX2.example.com,,mx1.example.com ") == (
        "mx1.example.com", "mx2.example.com")
    assert parse_authserv_ids("") == ()
    assert parse_authserv_ids("  ") == ()


@pytest.mark.parametrize("bad", ["mx example.com", "mx.example.com;dmarc=pass", "-mx", "mx/1"])
def test_the_setting_refuses_what_is_not_an_authserv_id(bad):
    with pytest.raises(ValueError, match="is not an authserv-id"):
        parse_authserv_ids(bad)


def test_a_bad_setting_stops_the_process_naming_the_variable(tmp_path):
    env = {**os.environ, "SLPDESK_DATA_DIR": str(tmp_path),
           "SLPDESK_MAIL_TRUSTED_AUTHSERV_IDS": "mx.example.com; evil"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    done = subprocess.run([sys.executable, "-m", "slpdesk.cli", "manage", "check"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "SLPDESK_MAIL_TRUSTED_AUTHSERV_IDS: 'mx.example.com; evil' is not an authserv-id" \
        in done.stderr


@pytest.mark.parametrize("domain, expected", [
    ("example.com", "example.com"),
    ("mail.EXAMPLE.com.", "example.com"),
    ("mail.example.co.uk", "example.co.uk"),   # co.uk is a public suffix
    ("a.b.github.io", "b.github.io"),          # github.io is one too (PSL private section)
    ("co.uk", "co.uk"),                        # a public suffix stays as it is
])
def test_organisational_domains_follow_the_public_suffix_list(domain, expected):
    assert organisational_domain(domain) == expected


@pytest.mark.parametrize("signing, sender, expected", [
    ("example.com", "example.com", True),
    ("mail.example.com", "example.com", True),        # relaxed: same organisation
    ("example.com", "support.example.com", True),
    ("example.net", "example.com", False),
    ("example.co.uk", "other.co.uk", False),
    ("attacker.github.io", "victim.github.io", False),
    ("", "example.com", False),
])
def test_dkim_alignment_is_relaxed_alignment(signing, sender, expected):
    assert aligned(signing, sender) is expected


TRUSTED_PASS = "mx.vendor.example; dmarc=pass (p=reject) header.from=example.com"


# (headers top first, From: domain) -> (verified, dmarc_fail)
CORPUS = {
    "no header": ([], False, False),
    "dmarc=pass from our MTA": ([TRUSTED_PASS], True, False),
    "authserv-id in another case": (["MX.Vendor.Example; dmarc=pass header.from=example.com"],
                                    True, False),
    "dmarc=none": (["mx.vendor.example; dmarc=none header.from=example.com"], False, False),
    "dmarc=neutral": (["mx.vendor.example; dmarc=neutral header.from=example.com"], False,
                      False),
    "dmarc=temperror": (["mx.vendor.example; dmarc=temperror header.from=example.com"],
                        False, False),
    "dmarc=permerror": (["mx.vendor.example; dmarc=permerror header.from=example.com"],
                        False, False),
    "dmarc=fail": (["mx.vendor.example; spf=fail; dmarc=fail header.from=example.com"],
                   False, True),
    "dmarc=fail from someone else is no verdict": (
        ["evil.example; dmarc=fail header.from=example.com"], False, False),
    "pass from an untrusted id": (["evil.example; dmarc=pass header.from=example.com"],
                                  False, False),
    "pass from a look-alike id": (["mx.vendor.example.evil.example; dmarc=pass"], False,
                                  False),
    "a pass below our MTA's none": (
        ["mx.vendor.example; dkim=none; dmarc=none header.from=example.com",
         "mx.vendor.example; dkim=pass header.d=example.com; dmarc=pass "
         "header.from=example.com"], False, False),
    "our id below an untrusted header": (
        ["evil.example; dmarc=none", TRUSTED_PASS], False, False),
    "our id below an unreadable header": (["garbage ;; ===", TRUSTED_PASS], False, False),
    "our MTA's DKIM header over its DMARC header": (
        ["mx.vendor.example; dkim=none", TRUSTED_PASS], True, False),
    "dmarc=pass for another From domain": (
        ["mx.vendor.example; dmarc=pass header.from=attacker.example"], False, False),
    "aligned dkim pass": (["mx.vendor.example; dkim=pass header.d=mail.example.com "
                           "header.s=sel; spf=none"], True, False),
    "aligned dkim pass by header.i": (["mx.vendor.example; dkim=pass "
                                       "header.i=@mail.example.com"], True, False),
    "misaligned dkim pass": (["mx.vendor.example; dkim=pass header.d=attacker.example"],
                             False, False),
    "one of two signatures aligned": (["mx.vendor.example; dkim=pass header.d=esp.example; "
                                       "dkim=pass header.d=example.com"], True, False),
    "dkim=fail aligned": (["mx.vendor.example; dkim=fail header.d=example.com"], False, False),
    "spf=pass alone": (["mx.vendor.example; spf=pass smtp.mailfrom=example.com"], False,
                       False),
    "no result": (["mx.vendor.example; none"], False, False),
}


@pytest.mark.parametrize("name", list(CORPUS))
def test_only_the_desks_own_mta_verifies_a_sender(name):
    headers, verified, dmarc_fail = CORPUS[name]
    verdict = verify(headers, "example.com", MX)
    assert (verdict.verified, verdict.dmarc_fail) == (verified, dmarc_fail)


def test_without_trusted_ids_nothing_is_verified():
    assert verify([TRUSTED_PASS], "example.com", ()).verified is False
    assert verify([TRUSTED_PASS], "", MX).verified is False


def test_the_verdict_says_what_decided_it():
    assert verify([TRUSTED_PASS], "example.com", MX).detail == "dmarc=pass (mx.vendor.example)"
    assert verify(["mx.vendor.example; dkim=pass header.d=example.net; dmarc=none"],
                  "example.com", MX).detail == "dmarc=none, dkim=pass header.d=example.net"
