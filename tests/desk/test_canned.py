"""Canned replies (issue 13 item 4): placeholders rendered for a case in the
contact's language and zone (values worked out by hand), unknown placeholders
refused, who sees and changes which, the console's composer and its action going
through the services, and the API.

The due times, by hand (the policy's business day is 08:00–17:00 local time of the
case, Monday to Friday; no holiday falls in 6–13 July 2026):

* Alice (Hartford, America/New_York, English), P2 received and triaged with the
  information complete on Monday 6 July 2026 09:00 EDT. Response 8 business hours:
  Mon 09–17 → **Mon 6 Jul 2026 17:00 EDT**. Resolution 24 business hours: Mon 8 h,
  Tue 9 h (17), Wed 7 h → **Wed 8 Jul 2026 15:00 EDT**.
* Olga (Göteborg, Europe/Stockholm, Swedish), P3 received and triaged with the
  information complete on Monday 6 July 2026 10:00 CEST. Response 24 business hours:
  Mon 7 h, Tue 9 h (16), Wed 8 h → **ons 8 jul 2026 16:00 CEST**. Resolution 48
  business hours: Mon 7, Tue 9 (16), Wed 9 (25), Thu 9 (34), Fri 9 (43), Mon 13 Jul
  5 h → **mån 13 jul 2026 13:00 CEST**.
"""

from __future__ import annotations

import json
from datetime import datetime
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import translation

from desk.conftest import ny
from slpdesk.api.models import ApiToken
from slpdesk.desk import canned, services
from slpdesk.desk.models import CannedReply, Case, CaseEvent, User

STOCKHOLM = ZoneInfo("Europe/Stockholm")
ALICE_AT = ny(2026, 7, 6, 9, 0)
OLGA_AT = datetime(2026, 7, 6, 10, 0, tzinfo=STOCKHOLM)
TEXT_EN = ("Hello {contact_name}, about {case_number} ({case_title}): we answer by "
           "{response_due} and aim to solve it by {resolution_due}. Next update: "
           "{next_update_due}. {agent_name}, for {organisation_name} at {site_name}. "
           "{{literal}} {% now 'Y' %} {not a placeholder")
TEXT_SV = "Hej {contact_name}! Svar senast {response_due}, lösning senast {resolution_due}."


@pytest.fixture
def team(cast):
    cast.sam.first_name, cast.sam.last_name = "Sam", "Agent"
    cast.sam.time_zone = "Asia/Tokyo"  # the agent's own zone must not matter
    cast.sam.save()
    return {
        "sam": cast.sam,
        "tom": User.objects.create_user("tom", "tom@example.com", "pw", role=User.Role.AGENT),
        "sue": User.objects.create_user("sue", "sue@example.com", "pw",
                                        role=User.Role.SUPERVISOR),
        "eve": User.objects.create_user("eve", "eve@example.com", "pw",
                                        role=User.Role.EXECUTIVE),
    }


def _triaged(site, contact, agent, priority: str, title: str, at) -> Case:
    """A case received at ``at`` and triaged then with the information complete."""
    case = services.receive_case(site, contact=contact, channel="portal",
                                 proposed_priority=priority, title=title, actor=contact,
                                 now=at)
    services.assign_priority(case, priority, information_complete=True, actor=agent, now=at)
    return Case.objects.get(pk=case.pk)


@pytest.fixture
def alice_case(cast, team):
    cast.alice.first_name, cast.alice.last_name = "Alice", "Archer"
    cast.alice.save()
    return _triaged(cast.hartford, cast.alice, cast.sam, "P2", "Spindle stops", ALICE_AT)


@pytest.fixture
def olga_case(cast, team):
    cast.olga.first_name, cast.olga.last_name, cast.olga.language = "Olga", "Ek", "sv"
    cast.olga.save()
    return _triaged(cast.other_site, cast.olga, cast.sam, "P3", "Spindeln stannar", OLGA_AT)


def make(owner, *, shared=False, action="", title="Ask for logs", en=TEXT_EN, sv=TEXT_SV):
    return canned.save(None, {"title": title, "body_en": en, "body_sv": sv,
                              "action": action, "shared": shared},
                       actor=owner, now=ALICE_AT)


# ------------------------------------------------------------------ rendering
def test_rendered_for_a_new_york_contact_in_english(alice_case, team):
    reply = make(team["sam"])
    with translation.override("sv"):  # the agent's language must not matter either
        text = canned.render(reply, alice_case, team["sam"])
    assert text == (
        f"Hello Alice Archer, about {alice_case.number} (Spindle stops): we answer by "
        "Mon 6 Jul 2026 17:00 EDT and aim to solve it by Wed 8 Jul 2026 15:00 EDT. Next "
        "update: –. Sam Agent, for Acme Tooling at Hartford. "
        "{literal} {% now 'Y' %} {not a placeholder")


def test_rendered_for_a_swedish_contact_in_swedish(olga_case, team):
    reply = make(team["sam"])
    assert canned.render(reply, olga_case, team["sam"]) == (
        "Hej Olga Ek! Svar senast ons 8 jul 2026 16:00 CEST, lösning senast "
        "mån 13 jul 2026 13:00 CEST.")


def test_the_next_update_due_after_a_reply(olga_case, team):
    # A reply on Tue 7 Jul 10:00 CEST: the next update is owed 24 business hours later:
    # Tue 7 h, Wed 9 h (16), Thu 8 h → Thu 9 Jul 16:00 CEST.
    services.reply(olga_case, "Vi tittar på det.", actor=team["sam"],
                   now=datetime(2026, 7, 7, 10, 0, tzinfo=STOCKHOLM))
    reply = make(team["sam"], sv="Nästa besked: {next_update_due}")
    case = Case.objects.get(pk=olga_case.pk)
    assert canned.render(reply, case, team["sam"]) == "Nästa besked: tors 9 jul 2026 16:00 CEST"


# --------------------------------------------------------------- placeholders
def test_an_unknown_placeholder_is_refused_with_the_allowed_ones(team):
    with pytest.raises(ValidationError) as refused:
        make(team["sam"], en="Dear {customer}, {contact_name}", sv="Hej {kund.password}")
    errors = refused.value.message_dict
    assert errors["body_en"] == [
        "Unknown placeholder: {customer}. The placeholders are: {contact_name}, "
        "{case_number}, {case_title}, {response_due}, {resolution_due}, {next_update_due}, "
        "{agent_name}, {organisation_name}, {site_name}."]
    assert "body_sv" not in errors  # "{kund.password}" is no placeholder: plain text
    assert CannedReply.objects.count() == 0


def test_the_console_refuses_it_in_swedish_and_keeps_nothing(client, team):
    client.force_login(team["sam"])
    response = client.post(reverse("console:canned"), {
        "title": "X", "body_en": "Hi {name}", "body_sv": "Hej", "action": ""},
        HTTP_ACCEPT_LANGUAGE="sv")
    assert response.status_code == 400
    assert "Okänd platshållare: {name}. Platshållarna är: {contact_name}" in (
        response.content.decode())
    assert CannedReply.objects.count() == 0


# ---------------------------------------------------------------- permissions
def test_a_personal_reply_is_its_owners_alone(client, alice_case, team):
    mine = make(team["sam"], title="Mine only")
    client.force_login(team["tom"])
    assert "Mine only" not in client.get(reverse("console:canned")).content.decode()
    assert "Mine only" not in client.get(
        reverse("console:case", args=[alice_case.number])).content.decode()
    for url in (reverse("console:canned_edit", args=[mine.pk]),
                reverse("console:canned_render", args=[alice_case.number, mine.pk]),
                reverse("console:case", args=[alice_case.number]) + f"?canned={mine.pk}"):
        assert client.get(url).status_code == 404, url
    assert client.post(reverse("console:canned_delete", args=[mine.pk])).status_code == 404
    # A supervisor does not see it either.
    client.force_login(team["sue"])
    assert client.get(reverse("console:canned_edit", args=[mine.pk])).status_code == 404
    assert CannedReply.objects.filter(pk=mine.pk).exists()


def test_who_changes_a_shared_reply(client, team):
    shared = make(team["sam"], shared=True, title="Shared one")
    fields = {"title": "Renamed"}
    with pytest.raises(PermissionDenied):  # another agent
        canned.save(shared, fields, actor=team["tom"], now=ALICE_AT)
    with pytest.raises(PermissionDenied):  # an executive
        canned.save(shared, fields, actor=team["eve"], now=ALICE_AT)
    with pytest.raises(PermissionDenied):  # a supervisor may not unshare someone's
        canned.save(shared, {"shared": False}, actor=team["sue"], now=ALICE_AT)
    assert CannedReply.objects.get(pk=shared.pk).title == "Shared one"
    assert canned.save(shared, fields, actor=team["sue"], now=ALICE_AT).title == "Renamed"
    # In the console: the other agent reads it in the list but may not change it.
    client.force_login(team["tom"])
    assert "Renamed" in client.get(reverse("console:canned")).content.decode()
    assert client.get(reverse("console:canned_edit", args=[shared.pk])).status_code == 403
    assert client.post(reverse("console:canned_delete", args=[shared.pk])).status_code == 403
    client.force_login(team["sue"])
    assert client.post(reverse("console:canned_delete",
                               args=[shared.pk])).status_code == 302
    assert not CannedReply.objects.filter(pk=shared.pk).exists()


def test_customers_and_partners_get_404_in_the_console(client, cast, alice_case, team):
    shared = make(team["sam"], shared=True)
    for who in (cast.alice, cast.olga, cast.edgar):
        client.force_login(who)
        for url in (reverse("console:canned"), reverse("console:canned_edit", args=[shared.pk]),
                    reverse("console:canned_render", args=[alice_case.number, shared.pk])):
            assert client.get(url).status_code == 404, (who, url)


# --------------------------------------------------------- console: composer
def test_inserting_without_javascript_fills_the_composer(client, alice_case, team):
    reply = make(team["sam"], shared=True, action="request_info",
                 en="Hi {contact_name}, please send the logs for {case_number}.")
    client.force_login(team["tom"])
    page = client.get(reverse("console:case", args=[alice_case.number]),
                      {"canned": reply.pk}).content.decode()
    assert (f"Hi Alice Archer, please send the logs for {alice_case.number}.</textarea>"
            in page)
    request_url = reverse("console:request_info", args=[alice_case.number])
    assert (f'<button type="submit" class="primary" formaction="{request_url}" '
            'data-action="request_info">') in page


def test_the_json_for_the_script(client, olga_case, team):
    reply = make(team["sam"], action="request_info", sv="Hej {contact_name}")
    client.force_login(team["sam"])
    data = client.get(reverse("console:canned_render",
                              args=[olga_case.number, reply.pk])).json()
    assert data == {"id": reply.pk, "body": "Hej Olga Ek", "language": "sv",
                    "action": "request_info",
                    "action_url": f"/console/cases/{olga_case.number}/request-information/"}


def test_sending_it_as_a_request_goes_through_the_service(client, alice_case, team):
    reply = make(team["sam"], shared=True, action="request_info",
                 en="Hi {contact_name}, please send the logs.")
    client.force_login(team["sam"])
    text = client.get(reverse("console:canned_render",
                              args=[alice_case.number, reply.pk])).json()["body"]
    sent_at = ny(2026, 7, 6, 11, 0)
    with mock.patch("django.utils.timezone.now", return_value=sent_at):
        response = client.post(reverse("console:request_info", args=[alice_case.number]),
                               {"body": text})
    assert response.status_code == 302
    case = Case.objects.get(pk=alice_case.pk)
    event = CaseEvent.objects.filter(case=case).order_by("-id").first()
    assert (event.type, event.at, event.actor) == ("info_requested", sent_at, team["sam"])
    message = case.messages.get(pk=event.data["message"])
    assert message.body == "Hi Alice Archer, please send the logs."
    # K2: the case waits on the customer and the resolution clock is paused.
    assert (case.status, case.resolution_state) == ("waiting", "paused")
    # The service's checks still hold: a second request while waiting is refused.
    with mock.patch("django.utils.timezone.now", return_value=sent_at):
        again = client.post(reverse("console:request_info", args=[alice_case.number]),
                            {"body": text})
    assert "already waiting on the customer" in again.content.decode()
    assert CaseEvent.objects.filter(case=case, type="info_requested").count() == 1


# ------------------------------------------------------------------------ API
def _token(user) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {ApiToken.issue(user, 't', now=ALICE_AT)[1]}"}


def test_api_crud_and_render(client, settings, olga_case, team):
    settings.SLPDESK_API_RATE = "off"
    sam, tom = _token(team["sam"]), _token(team["tom"])
    body = {"title": "Logs", "body_en": "Hi {contact_name}",
            "body_sv": "Hej {contact_name}, svar senast {response_due}.",
            "action": "request_info", "shared": False}
    created = client.post("/api/v1/canned-replies", json.dumps(body),
                          content_type="application/json", **sam)
    assert created.status_code == 201
    row = created.json()
    assert {k: row[k] for k in body} == body
    assert (row["owner"], row["can_edit"]) == ({"name": "Sam Agent", "username": "sam"}, True)
    url = f"/api/v1/canned-replies/{row['id']}"
    assert [r["id"] for r in client.get("/api/v1/canned-replies", **sam).json()] == [row["id"]]
    assert client.get("/api/v1/canned-replies", **tom).json() == []  # personal
    assert client.get(url, **tom).status_code == 404
    rendered = client.get(f"/api/v1/cases/{olga_case.number}/canned-replies/{row['id']}"
                          "/render", **sam)
    assert rendered.json() == {"canned_reply": row["id"], "case": olga_case.number,
                               "language": "sv", "action": "request_info",
                               "body": "Hej Olga Ek, svar senast ons 8 jul 2026 16:00 CEST."}
    # Share it; the other agent then reads it but may not change or delete it.
    patched = client.patch(url, json.dumps({"shared": True}), content_type="application/json",
                           **sam)
    assert patched.json()["shared"] is True
    assert client.get(url, **tom).json()["can_edit"] is False
    refused = client.patch(url, json.dumps({"title": "Mine now"}),
                           content_type="application/json", **tom)
    assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
    assert client.delete(url, **tom).status_code == 403
    # An unknown placeholder: 422 naming the field, nothing changed.
    bad = client.patch(url, json.dumps({"body_en": "Hi {name}"}),
                       content_type="application/json", **sam)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["loc"] == ["body", "body_en"]
    assert "{name}" in bad.json()["errors"][0]["msg"]
    assert CannedReply.objects.get(pk=row["id"]).body_en == "Hi {contact_name}"
    deleted = client.delete(url, **sam)
    assert deleted.status_code == 204
    assert not CannedReply.objects.exists()


def test_api_refuses_customers_and_partners(client, settings, cast, olga_case, team):
    settings.SLPDESK_API_RATE = "off"
    shared = make(team["sam"], shared=True)
    for who in (cast.olga, cast.alice, cast.edgar):
        auth = _token(who)
        for url in ("/api/v1/canned-replies", f"/api/v1/canned-replies/{shared.pk}",
                    f"/api/v1/cases/{olga_case.number}/canned-replies/{shared.pk}/render"):
            response = client.get(url, **auth)
            assert (response.status_code, response.json()["code"]) == (403, "forbidden"), url


# ----------------------------------------------------------------------- demo
def test_the_demo_shares_canned_replies_in_both_languages(db):
    from django.utils import timezone

    from slpdesk.desk.demo import load_demo

    load_demo(timezone.now())
    rows = list(CannedReply.objects.order_by("title"))
    assert [(r.title, r.shared, r.owner.username, r.action) for r in rows] == [
        ("Ask for the controller logs", True, "sofia.berg", "request_info"),
        ("Status: still investigating", True, "sofia.berg", ""),
        ("We are on it", True, "sofia.berg", "reply")]
    agent = User.objects.get(username="anna.lind")
    for language in ("en", "sv"):
        case = Case.objects.filter(contact__language=language).order_by("pk").first()
        for row in rows:
            text = canned.render(row, case, agent)
            assert "{" not in text and case.number in text and "Anna Lind" in text
