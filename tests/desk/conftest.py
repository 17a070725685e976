"""A small named cast for the desk's tests.

* Acme Tooling (customer, Hartford site in New York time, agreement for 2026):
  Alice opens cases, Bob is her colleague.
* Brit Mill (customer, Sheffield site, UK calendar): Bea.
* Olga of Other Co (customer, its own site and agreement): an outsider who
  must see and touch nothing of Acme's.
* Edgar of Endco, an end user supported through the partner Partnerco (E3).
* Nora of Noagree Inc, whose agreement ended in 2025 (E2).
* Sam is a support agent.
* Releases: 2026 (current), 2025 (previous), 2024 (no longer supported).

Time is always given explicitly as ``now``.
"""

import os
from dataclasses import dataclass
from datetime import date, datetime
from types import SimpleNamespace
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
from django.db import connection

from slpdesk.desk.models import Agreement, Organisation, Release, Site, User

NY = ZoneInfo("America/New_York")
UTC = ZoneInfo("UTC")


@dataclass
class Cast:
    acme: Organisation
    hartford: Site
    alice: User
    bob: User
    brit: Organisation
    sheffield: Site
    bea: User
    other: Organisation
    other_site: Site
    olga: User
    endco_site: Site
    edgar: User
    noagree_site: Site
    nora: User
    sam: User
    r2026: Release
    r2025: Release
    r2024: Release


def _org(name, kind=Organisation.Kind.CUSTOMER, **kw):
    return Organisation.objects.create(name=name, kind=kind, **kw)


def _site(org, name, country, tz, starts=date(2026, 1, 1), ends=date(2026, 12, 31)):
    site = Site.objects.create(organisation=org, name=name, country=country, time_zone=tz)
    if starts:
        Agreement.objects.create(site=site, starts=starts, ends=ends)
    return site


def _user(username, org=None, role=User.Role.CUSTOMER):
    return User.objects.create_user(username, f"{username}@example.com", "pw",
                                    organisation=org, role=role)


@pytest.fixture
def cast(db) -> Cast:
    acme = _org("Acme Tooling")
    brit = _org("Brit Mill")
    other = _org("Other Co")
    partner = _org("Partnerco", Organisation.Kind.CHANNEL_PARTNER)
    endco = _org("Endco", supported_by=partner)
    noagree = _org("Noagree Inc")
    return Cast(
        acme=acme,
        hartford=_site(acme, "Hartford", "US", "America/New_York"),
        alice=_user("alice", acme),
        bob=_user("bob", acme),
        brit=brit,
        sheffield=_site(brit, "Sheffield", "GB", "Europe/London"),
        bea=_user("bea", brit),
        other=other,
        other_site=_site(other, "Göteborg", "SE", "Europe/Stockholm"),
        olga=_user("olga", other),
        endco_site=_site(endco, "Endville", "US", "America/Chicago"),
        edgar=_user("edgar", endco),
        noagree_site=_site(noagree, "Oldtown", "US", "America/Denver",
                           starts=date(2024, 1, 1), ends=date(2025, 12, 31)),
        nora=_user("nora", noagree),
        sam=_user("sam", role=User.Role.AGENT),
        r2026=Release.objects.create(name="2026", released=date(2026, 5, 1)),
        r2025=Release.objects.create(name="2025", released=date(2025, 5, 1)),
        r2024=Release.objects.create(name="2024", released=date(2024, 5, 1)),
    )


def ny(*args) -> datetime:
    """A time in New York, the Hartford site's zone."""
    return datetime(*args, tzinfo=NY)


#: The console's clock in its tests: Wednesday 8 July 2026, 10:00 in New York.
NOW = ny(2026, 7, 8, 10, 0)


@pytest.fixture
def clock(monkeypatch):
    """``timezone.now()`` as the views read it, set by the test."""
    state = SimpleNamespace(now=NOW)
    monkeypatch.setattr("django.utils.timezone.now", lambda: state.now)
    return state


@pytest.fixture
def team(cast, clock):
    """Sam the agent and the other staff roles: Sue (supervisor), Max (manager),
    Eve (executive), Ada (administrator)."""
    def user(name, role):
        return User.objects.create_user(name, f"{name}@vendor.example", "pw", role=role,
                                        first_name=name.title())
    Role = User.Role
    return SimpleNamespace(sam=cast.sam, sue=user("sue", Role.SUPERVISOR),
                           max=user("max", Role.MANAGER), eve=user("eve", Role.EXECUTIVE),
                           ada=user("ada", Role.ADMIN))


@pytest.fixture
def command_env(transactional_db, tmp_path) -> dict[str, str]:
    """The environment of an ``slpdesk`` subprocess: slpdesk.settings, a fresh data dir;
    on PostgreSQL the test database (committed rows, flushed afterwards), never the
    database the tests were pointed at."""
    env = dict(os.environ)
    env.pop("DJANGO_SETTINGS_MODULE", None)  # the tests' own settings module
    env["SLPDESK_DATA_DIR"] = str(tmp_path / "data")
    env.pop("SLPDESK_DATABASE_URL", None)
    if connection.vendor == "postgresql":
        db = connection.settings_dict
        assert db["NAME"].startswith("test_"), db["NAME"]
        auth = quote(db["USER"] or "", safe="")
        if db["PASSWORD"]:
            auth += ":" + quote(db["PASSWORD"], safe="")
        env["SLPDESK_DATABASE_URL"] = (f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:"
                                       f"{db['PORT'] or 5432}/{db['NAME']}")
    return env
