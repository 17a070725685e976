"""A person's data in the browser: an administrator finds a customer, downloads their
data and erases them with the confirmation step; a customer downloads their own
data from Preferences (in Swedish)."""

from __future__ import annotations

import json
import re
import zipfile

from playwright.sync_api import expect

from browser.conftest import log_in


def _document(download) -> dict:
    with zipfile.ZipFile(download.path()) as archive:
        return json.loads(archive.read("personal-data.json"))


def test_an_administrator_exports_then_erases_a_customer(page, live_server, demo):
    from slpdesk.desk.models import Case, User

    ellen = User.objects.get(username="ellen.brooks")
    number = Case.objects.filter(contact=ellen).values_list("number", flat=True).first()
    log_in(page, live_server, "admin")
    page.get_by_role("link", name="Personal data").click()
    page.get_by_label(re.compile("Find a person")).fill("ellen")
    page.get_by_role("button", name="Find").click()
    page.get_by_role("link", name="ellen.brooks").click()
    with page.expect_download() as info:
        page.locator("#export").click()
    document = _document(info.value)
    assert (document["account"]["username"], document["scope"]) == (
        "ellen.brooks", "administrator")
    assert number in [c["number"] for c in document["cases"]]

    page.get_by_label("Why (recorded with the erasure)").fill("her request of today")
    page.get_by_label(re.compile("Keep texts needed for the case")).check()
    page.get_by_role("button", name="Erase…").click()
    form = page.locator("#confirm-erase")
    expect(form).to_contain_text("Erase the personal data of ellen.brooks?")
    form.get_by_label("Type the user name to confirm").fill("ellen.brooks")
    form.get_by_role("button", name="Erase").click()
    expect(page.locator(".messages")).to_contain_text("The personal data was erased")
    row = page.locator("#erasures tbody tr").first
    expect(row).to_contain_text("her request of today")
    expect(row).to_contain_text(re.compile(r"erased-[0-9a-f]{12}"))

    page.goto(f"{live_server.url}/console/cases/{number}/")
    expect(page.locator("main")).to_contain_text("erased contact")
    expect(page.locator("main")).not_to_contain_text("Ellen Brooks")


def test_a_customer_downloads_their_own_data_in_swedish(page, live_server, demo):
    log_in(page, live_server, "karin.nilsson")
    page.goto(f"{live_server.url}/preferences/")
    page.get_by_role("link", name="Dina uppgifter").click()
    with page.expect_download() as info:
        page.get_by_role("link", name="Ladda ned mina uppgifter").click()
    document = _document(info.value)
    assert (document["account"]["username"], document["scope"]) == ("karin.nilsson", "self")
    assert all(not m["internal"] for c in document["cases"] for m in c["messages"])
