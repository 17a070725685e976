"""Preferences (issue 13, item 7): a language choice without an empty entry, and a
time-zone field with a searchable list of zone names (<input list> + <datalist>, no
script), still validated on the server."""

import re
import zoneinfo

import pytest


def _page(client, user):
    client.force_login(user)
    return client.get("/preferences/").content.decode()


def test_the_language_choice_has_only_the_two_languages(client, cast):
    html = _page(client, cast.alice)
    select = re.search(r'<select name="language"[^>]*>(.*?)</select>', html, re.S).group(1)
    options = re.findall(r'<option value="([^"]*)"( selected)?>([^<]*)</option>', select)
    # alice has no language of her own: the page's language (English) is chosen.
    assert options == [("en", " selected", "English"), ("sv", "", "Svenska")]
    assert "---------" not in html


def test_a_users_own_language_is_chosen(client, cast):
    cast.alice.language = "sv"
    cast.alice.save()
    html = _page(client, cast.alice)
    assert '<option value="sv" selected>Svenska</option>' in html


def test_the_time_zone_field_offers_every_zone_name_sorted(client, cast):
    cast.alice.time_zone = "America/New_York"
    cast.alice.save()
    html = _page(client, cast.alice)
    field = re.search(r'<input type="text" name="time_zone"[^>]*>', html).group(0)
    assert 'value="America/New_York"' in field
    assert 'list="id_time_zone-zones"' in field
    datalist = re.search(r'<datalist id="id_time_zone-zones">(.*?)</datalist>', html,
                         re.S).group(1)
    names = re.findall(r'<option value="([^"]+)">', datalist)
    assert names == sorted(zoneinfo.available_timezones())
    assert "Europe/Stockholm" in names and "Asia/Kolkata" in names


def test_a_zone_and_language_are_saved(client, cast):
    client.force_login(cast.alice)
    response = client.post("/preferences/", {"language": "sv", "time_zone": "Asia/Kolkata"})
    assert response.status_code == 302
    cast.alice.refresh_from_db()
    assert (cast.alice.language, cast.alice.time_zone) == ("sv", "Asia/Kolkata")


@pytest.mark.parametrize(("data", "field", "error"), [
    ({"language": "en", "time_zone": "Mars/Olympus_Mons"}, "time_zone",
     "Mars/Olympus_Mons is not a known time zone (use an IANA name like Europe/Stockholm)."),
    ({"language": "", "time_zone": "Asia/Kolkata"}, "language", "This field is required."),
    ({"language": "de", "time_zone": "Asia/Kolkata"}, "language",
     "Select a valid choice. de is not one of the available choices."),
])
def test_bad_input_is_refused_and_changes_nothing(client, cast, data, field, error):
    cast.alice.time_zone = "Europe/Stockholm"
    cast.alice.save()
    client.force_login(cast.alice)
    response = client.post("/preferences/", data)
    assert response.status_code == 200
    assert response.context["form"].errors[field] == [error]
    cast.alice.refresh_from_db()
    assert (cast.alice.language, cast.alice.time_zone) == ("", "Europe/Stockholm")
