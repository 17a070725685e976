"""The administrator's webhook pages in the browser (issue 15), in English and Swedish:
create one (the secret shown once), see a delivery in its log, send it again."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from browser.conftest import log_in
from slpdesk.desk.models import User


@pytest.mark.parametrize("language,texts", [
    ("en", {"nav": "Webhooks", "event": "A case was opened", "create": "Create",
            "made": "Webhook created", "log": "Deliveries", "again": "Send again"}),
    ("sv", {"nav": "Webhooks", "event": "Ett ärende öppnades", "create": "Skapa",
            "made": "Webhooken är skapad", "log": "Leveranser", "again": "Skicka igen"}),
])
def test_an_administrator_subscribes_a_url(page, live_server, demo, language, texts):
    from slpdesk.webhooks.models import Delivery, Webhook

    admin = User.objects.get(username="admin")
    admin.language = language
    admin.save()
    log_in(page, live_server, "admin")
    page.get_by_role("navigation", name=re.compile("Main|Huvud")).get_by_role(
        "link", name=texts["nav"]).click()
    page.fill("input[name=url]", "https://crm.example.com/slpdesk")
    page.get_by_label(texts["event"]).check()
    page.fill("input[name=description]", "CRM")
    page.get_by_role("button", name=texts["create"]).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(texts["made"])
    hook = Webhook.objects.get()
    expect(page.locator("[data-secret]")).to_have_text(hook.secret)
    assert hook.events == ["case.created"] and hook.description == "CRM"
    # Its page: no secret; a failed delivery can be sent again with one click.
    page.goto(f"{live_server.url}/console/webhooks/{hook.pk}/")
    assert hook.secret not in page.content()
    from django.utils import timezone

    now = timezone.now()
    row = Delivery.objects.create(uuid="6f1c7a54-3b1e-4c1e-9d59-1f0c1d1e2a3b", webhook=hook,
                                  event="case.created", body="{}", state="failed",
                                  attempts=1, response_status=400,
                                  response_excerpt="no such tenant", next_attempt_at=now,
                                  created_at=now, last_error="HTTP 400")
    page.reload()
    expect(page.get_by_role("heading", name=texts["log"])).to_be_visible()
    log_row = page.locator(f'tr[data-delivery="{row.uuid}"]')
    expect(log_row).to_contain_text("no such tenant")
    log_row.get_by_role("button", name=texts["again"]).click()
    expect(page.locator(f'tr[data-delivery="{row.uuid}"]')).to_have_attribute(
        "data-state", "pending")
