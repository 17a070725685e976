"""K5: status updates reach the designated technical contact of the case's
organisation as well as the case's contact, each person once, in their own
language; the case page (console and portal) says who receives them."""

from __future__ import annotations

import html

import pytest
from django.core.exceptions import ValidationError

from desk.conftest import ny
from slpdesk.desk import services
from slpdesk.desk.models import Case, Outbox

MON_9 = ny(2026, 7, 6, 9, 0)


@pytest.fixture
def case(cast) -> Case:
    """Alice's case; Bob (Acme, in Swedish) is Acme's designated technical contact."""
    cast.bob.language = "sv"
    cast.bob.save()
    cast.acme.technical_contact = cast.bob
    cast.acme.save()
    return services.receive_case(cast.hartford, contact=cast.alice, channel=Case.Channel.PORTAL,
                                 proposed_priority="P3", title="Slow posting",
                                 release=cast.r2026, actor=cast.alice, now=MON_9)


def sent(kind: str) -> list[tuple[str, str, str]]:
    return [(m.recipient.username, m.language, m.subject)
            for m in Outbox.objects.filter(kind=kind).order_by("recipient__username")]


def test_a_reply_and_a_status_update_reach_both_each_in_their_language(cast, case):
    services.reply(case, "We are looking at it.", actor=cast.sam, now=ny(2026, 7, 6, 10, 0))
    n = case.number
    assert sent(Outbox.Kind.REPLY) == [
        ("alice", "en", f"[{n}] Reply from support: Slow posting"),
        ("bob", "sv", f"[{n}] Svar från supporten: Slow posting"),
    ]
    services.reply(case, "Still on it.", actor=cast.sam, now=ny(2026, 7, 6, 11, 0))
    assert sent(Outbox.Kind.STATUS_UPDATE) == [
        ("alice", "en", f"[{n}] Status update: Slow posting"),
        ("bob", "sv", f"[{n}] Statusuppdatering: Slow posting"),
    ]


def test_a_request_for_information_and_the_resolution_reach_both(cast, case):
    services.request_information(case, "Which machine?", actor=cast.sam,
                                 now=ny(2026, 7, 6, 10, 0))
    services.resolve(case, Case.Resolution.FIXED, "New post.", actor=cast.sam,
                     now=ny(2026, 7, 6, 11, 0))
    for kind in (Outbox.Kind.INFO_REQUEST, Outbox.Kind.RESOLVED):
        assert [(u, lang) for u, lang, _s in sent(kind)] == [("alice", "en"), ("bob", "sv")]


def test_the_contact_who_is_also_the_technical_contact_gets_one_mail(cast, case):
    cast.acme.technical_contact = cast.alice
    cast.acme.save()
    services.reply(case, "Hello.", actor=cast.sam, now=ny(2026, 7, 6, 10, 0))
    assert [u for u, _l, _s in sent(Outbox.Kind.REPLY)] == ["alice"]


def test_an_inactive_technical_contact_is_neither_mailed_nor_shown(cast, case):
    cast.bob.is_active = False
    cast.bob.save()
    assert case.update_recipients() == [cast.alice]
    services.reply(case, "Hello.", actor=cast.sam, now=ny(2026, 7, 6, 10, 0))
    assert [u for u, _l, _s in sent(Outbox.Kind.REPLY)] == ["alice"]


def test_without_a_technical_contact_only_the_contact_is_mailed(cast):
    case = services.receive_case(cast.hartford, contact=cast.alice, channel=Case.Channel.PORTAL,
                                 proposed_priority="P3", title="Slow", release=cast.r2026,
                                 actor=cast.alice, now=MON_9)
    assert case.update_recipients() == [cast.alice]


def test_the_technical_contact_must_be_one_of_the_organisations_people(cast):
    cast.acme.technical_contact = cast.olga  # Other Co's
    with pytest.raises(ValidationError) as err:
        cast.acme.full_clean()
    assert "technical_contact" in err.value.message_dict
    cast.acme.technical_contact = cast.bob
    cast.acme.full_clean()  # one of Acme's people: fine


def test_the_admin_sets_the_technical_contact_and_refuses_an_outsider(client, cast, admin_user):
    client.force_login(admin_user)
    url = f"/admin/desk/organisation/{cast.acme.pk}/change/"
    form = {"name": "Acme Tooling", "kind": "customer", "technical_contact": cast.olga.pk,
            "sites-TOTAL_FORMS": "0", "sites-INITIAL_FORMS": "0"}
    response = client.post(url, form)
    assert response.status_code == 200  # the form again, with the error
    assert "must be one of the organisation" in html.unescape(response.content.decode())
    cast.acme.refresh_from_db()
    assert cast.acme.technical_contact is None
    response = client.post(url, {**form, "technical_contact": cast.bob.pk})
    assert response.status_code == 302
    cast.acme.refresh_from_db()
    assert cast.acme.technical_contact == cast.bob


def _recipients(page: str) -> str:
    page = html.unescape(page)
    start = page.index('<dd id="update-recipients">')
    return " ".join(page[start:page.index("</dd>", start)].split())


def test_both_case_pages_say_who_receives_updates(client, cast, case):
    client.force_login(cast.sam)
    console = _recipients(client.get(f"/console/cases/{case.number}/").content.decode())
    assert ("alice <span class=\"small muted\">(contact of the case)</span><br>"
            "bob <span class=\"small muted\">(designated technical contact)</span>") in console
    cast.alice.language = "sv"
    cast.alice.save()
    client.force_login(cast.alice)
    portal = _recipients(client.get(f"/portal/cases/{case.number}/").content.decode())
    assert ("alice <span class=\"small muted\">(ärendets kontaktperson)</span><br>"
            "bob <span class=\"small muted\">(utsedd teknisk kontaktperson)</span>") in portal
