"""What the viewer reads in their own zone and language (issue 13 item 7): the portal's
due times in the viewer's zone with the site's beside them, the customer's words for
a resolution in the mail, and public holidays named in the viewer's language where
the holiday data has that language.

Every expected string is worked out by hand: the global calendar is Mon–Fri
08:00–17:00 in the site's zone; a P3's first response is due 24 business hours
after receipt; the Swedish holiday names are the Swedish calendar's own.
"""

import re
from dataclasses import replace
from datetime import date, datetime
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from slpdesk.desk import services
from slpdesk.desk.models import CalendarClosure, Case, Outbox, PolicyVersion, User
from slpdesk.sla import CalendarSpec, load_policy, public_holidays, shipped_policy_text

STOCKHOLM = ZoneInfo("Europe/Stockholm")
# Monday 6 July 2026, 10:00 in Göteborg (CEST, UTC+2) = 08:00 UTC = 04:00 in New York (EDT).
RECEIVED = datetime(2026, 7, 6, 10, 0, tzinfo=STOCKHOLM)
# 24 business hours: Mon 10–17 (7 h), Tue 8–17 (9 h, 16 h), Wed 8–16 (8 h, 24 h):
# Wed 8 July 16:00 CEST = 14:00 UTC = 10:00 EDT. (4 July, a US holiday, is a Saturday;
# its observed day is Friday 3 July, before the case.)
DUE_UTC = "2026-07-08T14:00:00+00:00"


def _plain(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html)).strip()


@pytest.fixture
def swedish_case(cast):
    """Olga's case at the Göteborg site (Europe/Stockholm), received at RECEIVED."""
    return services.receive_case(cast.other_site, contact=cast.olga, channel="portal",
                                 proposed_priority="P3", title="Spindle stops",
                                 description="It stops.", actor=cast.olga, now=RECEIVED)


def _viewer(user, zone: str, language: str = "en") -> None:
    user.time_zone, user.language = zone, language
    user.save()


def _get(client, user, url: str) -> str:
    client.force_login(user)
    with mock.patch("django.utils.timezone.now", return_value=RECEIVED):
        response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


# ------------------------------------------------------------- due times on the portal
def test_a_new_york_viewer_of_a_swedish_site_reads_both_zones(cast, client, swedish_case):
    _viewer(cast.olga, "America/New_York")
    listed = _get(client, cast.olga, reverse("portal:cases"))
    assert (f'Response due by <time datetime="{DUE_UTC}">Wed 8 Jul 2026 10:00 EDT</time> '
            '<span class="small muted site-time">(at the site: Wed 8 Jul 2026 16:00 CEST)'
            '</span>') in listed
    page = _plain(_get(client, cast.olga, reverse("portal:case", args=[swedish_case.number])))
    assert "due by Wed 8 Jul 2026 10:00 EDT (at the site: Wed 8 Jul 2026 16:00 CEST)" in page
    assert "Mon 6 Jul 2026 04:00 EDT (at the site: Mon 6 Jul 2026 10:00 CEST)" in page


def test_in_swedish_too(cast, client, swedish_case):
    _viewer(cast.olga, "America/New_York", "sv")
    listed = _plain(_get(client, cast.olga, reverse("portal:cases")))
    assert "ons 8 jul 2026 10:00 EDT (på anläggningen: ons 8 jul 2026 16:00 CEST)" in listed


def test_a_viewer_in_the_sites_zone_reads_one_time(cast, client, swedish_case):
    _viewer(cast.olga, "Europe/Stockholm", "sv")
    listed = _get(client, cast.olga, reverse("portal:cases"))
    assert f'<time datetime="{DUE_UTC}">ons 8 jul 2026 16:00 CEST</time>' in listed
    assert "anläggningen:" not in listed
    page = _get(client, cast.olga, reverse("portal:case", args=[swedish_case.number]))
    assert f'<time datetime="{DUE_UTC}">ons 8 jul 2026 16:00 CEST</time>' in page
    assert "site-time" not in page


# ------------------------------------------------------ resolution kinds in the mail
@pytest.mark.parametrize(("language", "said", "not_said"), [
    ("en", "Resolution: Fixed\n", "workaround"),
    ("sv", "Lösning: Åtgärdat\n", "tillfällig lösning"),
])
def test_the_resolution_mail_uses_the_customers_words(cast, swedish_case, language, said,
                                                      not_said):
    _viewer(cast.olga, "Europe/Stockholm", language)
    cast.olga.email = "olga@example.com"
    cast.olga.save()
    services.assign_priority(swedish_case, "P3", information_complete=True, actor=cast.sam,
                             now=RECEIVED)
    services.resolve(swedish_case, Case.Resolution.FIXED, "A new driver.", actor=cast.sam,
                     now=RECEIVED)
    mail = Outbox.objects.get(kind="resolved", recipient=cast.olga)
    assert said in mail.body_text
    assert not_said not in mail.body_text + mail.body_html


# ------------------------------------------------------------------ holiday names
def _spec(country: str) -> CalendarSpec:
    return replace(load_policy().calendar("global"), holiday_country=country)


def test_holiday_names_come_in_the_viewers_language_where_the_data_has_it():
    december = {d: n for d, n in public_holidays(_spec("SE"), 2026, "sv") if d.month == 12}
    assert december == {date(2026, 12, 25): "Juldagen", date(2026, 12, 26): "Annandag jul"}
    december = {d: n for d, n in public_holidays(_spec("SE"), 2026, "en") if d.month == 12}
    assert december == {date(2026, 12, 25): "Christmas Day",
                        date(2026, 12, 26): "Second Day of Christmas"}
    # The US set has no Swedish names: its own (American English) ones.
    july = dict(public_holidays(_spec("US"), 2026, "sv"))
    assert july[date(2026, 7, 3)] == "Independence Day (observed)"


def test_the_names_do_not_depend_on_the_servers_locale(monkeypatch):
    monkeypatch.setenv("LANG", "sv_SE.UTF-8")
    assert dict(public_holidays(_spec("US"), 2026, None))[date(2026, 12, 25)] == (
        "Christmas Day")
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    assert dict(public_holidays(_spec("SE"), 2026, None))[date(2026, 12, 25)] == "Juldagen"


@pytest.fixture
def swedish_holidays(cast):
    """A policy in force whose global calendar closes on Sweden's public holidays."""
    text = shipped_policy_text().replace('version = "1"', 'version = "2"', 1).replace(
        'holidays = { country = "US" }    # US federal', 'holidays = { country = "SE" }  #', 1)
    at = datetime(2026, 11, 1, tzinfo=STOCKHOLM)
    PolicyVersion.objects.in_force(at)  # the shipped version first, as on a real desk
    PolicyVersion.from_toml(text, published_at=at, effective_at=at).save()
    return cast


MID_DECEMBER = datetime(2026, 12, 14, 10, 0, tzinfo=STOCKHOLM)


@pytest.mark.parametrize(("language", "expected"), [
    ("sv", "Stängt: fre 25 dec (Juldagen), mån 28 dec (Support är stängt), "
           "fre 1 jan (Nyårsdagen), ons 6 jan (Trettondedag jul)"),
    ("en", "Closed on: Fri 25 Dec (Christmas Day), Mon 28 Dec (Support is closed), "
           "Fri 1 Jan (New Year's Day), Wed 6 Jan (Epiphany)"),
])
def test_the_portal_lists_the_closed_days_ahead(swedish_holidays, client, language, expected):
    cast = swedish_holidays
    _viewer(cast.olga, "Europe/Stockholm", language)
    CalendarClosure.objects.create(calendar="global", date=date(2026, 12, 28),
                                   reason="Stocktaking")
    client.force_login(cast.olga)
    with mock.patch("django.utils.timezone.now", return_value=MID_DECEMBER):
        body = client.get(reverse("portal:home")).content.decode()
    [closed] = re.findall(r'<p class="small closed-ahead">.*?</p>', body)
    # 26 Dec (Annandag jul) is a Saturday: support is closed then anyway.
    assert _plain(closed).replace("&#x27;", "'") == expected


@pytest.mark.parametrize(("language", "sweden", "england"), [
    ("sv", "Juldagen", "Christmas Day"),  # England's bank holidays have no Swedish names
    ("en", "Christmas Day", "Christmas Day"),
])
def test_the_console_calendars_name_holidays_in_the_viewers_language(
        swedish_holidays, client, language, sweden, england):
    agent = User.objects.get(username="sam")
    _viewer(agent, "Europe/Stockholm", language)
    client.force_login(agent)
    with mock.patch("django.utils.timezone.now", return_value=MID_DECEMBER):
        response = client.get(reverse("console:calendars"), {"year": 2026})
    rows = {row["name"]: dict((h["date"], h["name"]) for h in row["holidays"])
            for row in response.context["calendars"]}
    assert rows["global"][date(2026, 12, 25)] == sweden
    assert rows["global"][date(2026, 6, 20)] == {"sv": "Midsommardagen",
                                                 "en": "Midsummer Day"}[language]
    assert rows["uk"][date(2026, 12, 25)] == england
