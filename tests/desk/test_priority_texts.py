"""The priority texts customers and agents read (section 2 of the policy): names,
definitions and examples, in English and Swedish, exactly as written here.

Facts from the seed (the vendor's policy, in Swedish): P1 Brådskande seriously
affects the software's ability to function and affects *several* users or
critical functions (unusable for all users, or will not start on several
production machines, stopping work); P2 Kritisk badly degrades functionality or
performance, partial operation possible (toolpaths for specific machines
unavailable to several users; one user's licence fails while others work);
P3 Medium: non-essential functionality degraded, work goes on with limits
(non-critical functions such as model simulations or visualisations; the
simulation that verifies toolpaths fails for some users who can still program
and generate G-code); P4 Låg: minor issues with minimal impact (cosmetic UI
faults while everything works, training and how-to, licence status questions
that do not affect work now). The texts are our own words for those facts.

Checked in the policy file, the portal (home and new case), the console's triage
(the definitions beside the form) and the case-received mail.
"""

from __future__ import annotations

import html

import pytest

from desk.conftest import ny
from slpdesk.desk import services
from slpdesk.desk.models import Case, Outbox
from slpdesk.sla import load_policy

TEXTS = {
    "P1": {
        "en": ("Urgent",
               "The software's ability to function is seriously affected, for several users "
               "or for critical functions.",
               ["Nobody can use the software, or it will not start on several machines in "
                "production, so work has stopped."]),
        "sv": ("Brådskande",
               "Programvarans förmåga att fungera är allvarligt påverkad, för flera användare "
               "eller för kritiska funktioner.",
               ["Ingen kan använda programvaran, eller den startar inte på flera datorer i "
                "produktionen, så att arbetet står still."]),
    },
    "P2": {
        "en": ("Critical",
               "Functions or performance are badly degraded, but the software can still partly "
               "be used.",
               ["An important function, such as generating toolpaths for particular machines, "
                "is unavailable to several users.",
                "One user's licence cannot be reached while everyone else's licences work."]),
        "sv": ("Kritisk",
               "Funktioner eller prestanda är kraftigt försämrade, men programvaran kan "
               "fortfarande användas delvis.",
               ["En viktig funktion, till exempel att skapa verktygsbanor för vissa maskiner, "
                "är inte tillgänglig för flera användare.",
                "En användares licens går inte att nå medan alla andras licenser fungerar."]),
    },
    "P3": {
        "en": ("Medium",
               "A non-essential function is degraded: some functionality is lost, but work can "
               "go on with some limits.",
               ["Some users cannot reach non-critical functions, such as model simulation or "
                "visualisation.",
                "The simulation that checks toolpaths before machining fails for some users, "
                "who can still program and generate G-code."]),
        "sv": ("Medium",
               "En funktion som inte är nödvändig fungerar sämre: en del funktionalitet går "
               "förlorad, men arbetet kan fortsätta med vissa begränsningar.",
               ["Vissa användare kommer inte åt funktioner som inte är kritiska, till exempel "
                "modellsimulering eller visualisering.",
                "Simuleringen som kontrollerar verktygsbanor före bearbetning fungerar inte för "
                "vissa användare, som ändå kan programmera och generera G-kod."]),
    },
    "P4": {
        "en": ("Low",
               "A minor issue or question with little effect on the business.",
               ["A small bug or visual flaw, such as a dialog or button drawn wrongly, while "
                "every function still works.",
                "Help with training and general how-to questions.",
                "A question about licence status that does not affect work right now."]),
        "sv": ("Låg",
               "Ett mindre problem eller en fråga som knappt påverkar verksamheten.",
               ["Ett mindre fel eller en visuell brist, till exempel en dialogruta eller knapp "
                "som visas fel, medan alla funktioner ändå fungerar.",
                "Hjälp med utbildning och allmänna frågor om hur man gör.",
                "En fråga om licensstatus som inte påverkar arbetet just nu."]),
    },
}
LANGS = ("en", "sv")


def test_the_policy_file_says_exactly_these_texts():
    policy = load_policy()
    assert list(policy.priorities) == list(TEXTS)
    for code, p in policy.priorities.items():
        for lang in LANGS:
            name, summary, examples = TEXTS[code][lang]
            assert (p.name.get(lang), p.summary.get(lang), p.examples(lang)) == (
                name, summary, tuple(examples)), (code, lang)


def _page_text(response) -> str:
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def _every_text_in(page: str, lang: str, *, bold: bool = False) -> None:
    """Every priority's texts in ``page``; ``bold``: the page sets the name in <strong>."""
    for code, by_lang in TEXTS.items():
        name, summary, examples = by_lang[lang]
        shown = f"<strong>{name}" if bold else name
        assert f"{code}</span> {shown}" in page, (code, lang)
        assert summary in page, (code, lang)
        for example in examples:
            assert example in page, (code, lang, example)


@pytest.mark.parametrize("lang", LANGS)
def test_the_portal_shows_them_in_the_customers_language(client, cast, lang):
    cast.alice.language = lang
    cast.alice.save()
    client.force_login(cast.alice)
    _every_text_in(_page_text(client.get("/portal/")), lang)
    _every_text_in(_page_text(client.get("/portal/cases/new/")), lang, bold=True)


@pytest.mark.parametrize("lang", LANGS)
def test_the_console_shows_them_beside_the_triage(client, cast, lang):
    case = services.receive_case(cast.hartford, contact=cast.alice, channel=Case.Channel.PORTAL,
                                 proposed_priority="P3", title="Slow", release=cast.r2026,
                                 actor=cast.alice, now=ny(2026, 7, 6, 9, 0))
    cast.sam.language = lang
    cast.sam.save()
    client.force_login(cast.sam)
    page = _page_text(client.get(f"/console/cases/{case.number}/"))
    _every_text_in(page, lang)
    for code, by_lang in TEXTS.items():  # the triage's choices
        assert f">{code} {by_lang[lang][0]}</option>" in page


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("code", list(TEXTS))
def test_the_case_received_mail_names_and_defines_the_priority(cast, lang, code):
    cast.alice.language = lang
    cast.alice.save()
    case = services.receive_case(cast.hartford, contact=cast.alice, channel=Case.Channel.PORTAL,
                                 proposed_priority=code, title="Slow", release=cast.r2026,
                                 actor=cast.alice, now=ny(2026, 7, 6, 9, 0))
    mail = Outbox.objects.get(case=case, kind=Outbox.Kind.CASE_RECEIVED)
    name, summary, _ = TEXTS[code][lang]
    assert f"{code} {name}" in mail.body_text
    assert summary in mail.body_text
    assert summary in html.unescape(mail.body_html)
