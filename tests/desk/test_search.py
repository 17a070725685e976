"""Search (issue 13): the database's own full-text index, kept in step with every
change; staff find internal notes, customers never, and never another
organisation's case; the console, the portal and the API answer by the same rules."""

from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from desk.api_world import build_world
from desk.conftest import _user
from slpdesk.desk import access, search, services
from slpdesk.desk.models import Agreement, Case, CaseSearch, Release


@pytest.fixture
def desk(cast):
    today = timezone.localdate()
    Agreement.objects.update(starts=today - timedelta(days=365), ends=today + timedelta(days=365))
    Release.objects.filter(pk=cast.r2026.pk).update(released=today - timedelta(days=30))
    return cast


def receive(cast, contact=None, site=None, **kw) -> Case:
    contact = contact or cast.alice
    fields = {"proposed_priority": "P3", "title": "Toolpath fails", "release": cast.r2026,
              "description": "It fails."}
    fields.update(kw)
    return services.receive_case(site or cast.hartford, contact=contact,
                                 channel=Case.Channel.PORTAL, actor=contact,
                                 now=timezone.now(), **fields)


def found(user, q, staff=None) -> set[str]:
    staff = access.can_see_internal(user) if staff is None else staff
    return set(search.search(access.cases_for(user), q, staff=staff)
               .values_list("number", flat=True))


# ------------------------------------------------------------ the index
def test_every_part_of_a_case_is_found_once_it_is_written(desk):
    sam = desk.sam
    case = receive(desk, title="Spindle overheats", description="After 20 minutes at 12000 rpm")
    n = case.number
    assert found(sam, "spindle") == {n}                 # title
    assert found(sam, "rpm 12000") == {n}               # description, every word
    assert found(sam, "Acme Tooling") == {n}            # organisation
    assert found(sam, "Hartford") == {n}                # site
    assert found(sam, "alice") == {n}                   # contact
    assert found(sam, n) == {n}                         # its number as a word
    assert found(sam, "coolant") == set()
    services.assign_priority(case, "P3", information_complete=True, actor=sam,
                             now=timezone.now())
    services.reply(case, "Check the coolant pump", actor=sam, now=timezone.now())
    assert found(sam, "coolant") == {n}                 # a reply
    services.add_note(case, "Customer sounds annoyed", actor=sam, now=timezone.now())
    assert found(sam, "annoyed") == {n}                 # a note, for staff
    services.classify(case, Case.Kind.DEFECT, "JIRA-4711", actor=sam, now=timezone.now())
    assert found(sam, "JIRA-4711") == {n}               # the defect reference
    assert found(sam, "spindle nonexistentword") == set()  # every word must occur


def test_english_forms_of_a_word_match_each_other(desk):
    case = receive(desk, title="The post-processor crashed", description="Crashes daily")
    assert found(desk.sam, "crashing") == {case.number}
    assert found(desk.sam, "CRASH") == {case.number}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="Swedish stemming: PostgreSQL")
def test_swedish_forms_of_a_word_match_each_other(desk):
    case = receive(desk, title="Skrivaren fungerar inte", description="Utskrifterna blir fel")
    assert found(desk.sam, "skrivare") == {case.number}
    assert found(desk.sam, "utskrift") == {case.number}


def test_a_renamed_organisation_site_or_contact_is_found_by_its_new_name(desk):
    case = receive(desk)
    desk.acme.name = "Acme Robotics"
    desk.acme.save()
    desk.hartford.name = "Springfield"
    desk.hartford.save()
    desk.alice.last_name = "Zimmerman"
    desk.alice.save()
    assert found(desk.sam, "robotics springfield zimmerman") == {case.number}
    assert found(desk.sam, "tooling") == set()


def test_the_migration_indexes_the_cases_that_exist(desk):
    from importlib import import_module

    migration = import_module("slpdesk.desk.migrations.0009_case_search")
    one = receive(desk, title="Spindle overheats")
    two = receive(desk, title="Probe misreads")
    CaseSearch.objects.all().delete()
    assert found(desk.sam, "spindle") == set()
    migration.index_existing_cases(None, None)
    assert found(desk.sam, "spindle") == {one.number}
    assert found(desk.sam, "probe") == {two.number}


def test_a_title_match_ranks_above_a_match_in_the_text(desk):
    in_text = receive(desk, title="Posts wrong", description="The spindle stops")
    in_title = receive(desk, title="Spindle stops", description="See title")
    ranked = list(search.ranked(search.search(Case.objects.all(), "spindle", staff=True))
                  .values_list("number", flat=True))
    assert ranked == [in_title.number, in_text.number]


def test_a_query_without_words_finds_nothing(desk):
    receive(desk)
    assert found(desk.sam, "!!! ---") == set()
    assert found(desk.sam, 'fails" OR "x') == set()  # quotes cannot break out
    assert found(desk.sam, "fails") != set()
    assert found(desk.sam, "fails\x00") != set()  # PostgreSQL cannot take a NUL


# ------------------------------------------------------ who finds what
def test_customers_never_find_internal_notes(desk):
    case = receive(desk)
    services.add_note(case, "Customer sounds annoyed", actor=desk.sam, now=timezone.now())
    assert found(desk.alice, "annoyed") == set()
    assert found(desk.alice, "toolpath annoyed") == set()
    assert found(desk.sam, "annoyed") == {case.number}
    assert found(desk.alice, "toolpath") == {case.number}


def test_nobody_finds_another_organisations_case(desk):
    acme = receive(desk, title="Spindle overheats")
    other = receive(desk, contact=desk.olga, site=desk.other_site, title="Spindle noise")
    ends = receive(desk, contact=desk.edgar, site=desk.endco_site, title="Spindle drift")
    paula = _user("paula", ends.organisation.supported_by)
    assert found(desk.alice, "spindle") == {acme.number}
    assert found(desk.olga, "spindle") == {other.number}
    assert found(paula, "spindle") == {ends.number}       # a partner: its end users (E3)
    assert found(desk.olga, "acme") == set()
    assert found(desk.sam, "spindle") == {acme.number, other.number, ends.number}


# ------------------------------------------------------------ snippets
def test_a_snippet_marks_the_words_and_escapes_the_text():
    text = "Logs say <b>crashed</b> & stopped"
    assert search.snippet(text, "crash") == (
        "Logs say &lt;b&gt;<mark>crashed</mark>&lt;/b&gt; &amp; stopped")
    assert search.snippet(text, "absent") == ""


def test_a_long_text_is_cut_around_the_words():
    text = "a " * 300 + "spindle stops " + "b " * 300
    cut = search.snippet(text, "spindle", width=40)
    assert cut.startswith("…") and cut.endswith("…")
    assert "<mark>spindle</mark> stops" in cut
    assert len(cut) < 80


def test_case_numbers_in_the_forms_people_type():
    for typed in ("SLP-000042", "slp-42", "SLP42", "#42", " 42 ", "000042"):
        assert search.case_number(typed) == "SLP-000042", typed
    assert search.case_number("42 crashes") is None
    assert search.case_number("SLP-") is None


# ------------------------------------------------------------- the pages
def test_the_console_jumps_to_a_case_number_and_ranks_words(desk, client):
    case = receive(desk, title="Spindle overheats", description="Runs <hot>")
    other = receive(desk, title="Probe misreads", proposed_priority="P2")
    client.force_login(desk.sam)
    queue = reverse("console:queue")
    response = client.get(queue, {"q": case.number.lower()})
    assert response.status_code == 302
    assert response["Location"] == reverse("console:case", args=[case.number])
    response = client.get(queue, {"q": "hot"})  # a search looks at every case
    assert [r["case"].number for r in response.context["rows"]] == [case.number]
    assert "Runs &lt;<mark>hot</mark>&gt;" in response.content.decode()
    # combined with the queue's filters
    response = client.get(queue, {"q": "misreads", "view": "all", "priority": "P3"})
    assert response.context["rows"] == []
    response = client.get(queue, {"q": "misreads", "view": "all", "priority": "P2"})
    assert [r["case"].number for r in response.context["rows"]] == [other.number]
    # a number that is not a case is searched as a word
    response = client.get(queue, {"q": "12000", "view": "all"})
    assert response.status_code == 200 and response.context["rows"] == []


def test_the_portal_searches_the_customers_own_cases_only(desk, client):
    own = receive(desk, title="Spindle overheats")
    services.add_note(own, "spindle annoyed", actor=desk.sam, now=timezone.now())
    foreign = receive(desk, contact=desk.olga, site=desk.other_site, title="Spindle noise")
    client.force_login(desk.alice)
    cases = reverse("portal:cases")
    response = client.get(cases, {"q": "spindle"})
    assert [r["case"].number for r in response.context["rows"]] == [own.number]
    assert "annoyed" not in response.content.decode()
    assert client.get(cases, {"q": "annoyed"}).context["rows"] == []
    response = client.get(cases, {"q": own.number})
    assert response["Location"] == reverse("portal:case", args=[own.number])
    # another organisation's number is not a jump: it is searched as words, and missing
    response = client.get(cases, {"q": foreign.number})
    assert response.status_code == 200 and response.context["rows"] == []


def test_the_header_offers_the_search_box_to_each_audience(desk, client):
    client.force_login(desk.alice)
    page = client.get(reverse("portal:home")).content.decode()
    assert f'action="{reverse("portal:cases")}"' in page and 'name="q"' in page
    client.force_login(desk.sam)
    page = client.get(reverse("console:queue")).content.decode()
    assert f'action="{reverse("console:queue")}"' in page


# ---------------------------------------------------------------- the API
def test_the_api_searches_by_the_same_rules(client, cast, settings):
    settings.SLPDESK_API_RATE = "off"
    w = build_world(cast)

    def numbers(who, q):
        response = client.get("/api/v1/cases", {"q": q}, **w.auth(who))
        assert response.status_code == 200
        return {item["number"] for item in response.json()["items"]}

    everyone = {w.acme.case.number, w.endco.case.number, w.other.case.number}
    assert numbers("agent", "internal only") == everyone
    assert numbers("executive", "internal") == everyone
    assert numbers("customer", "internal") == set()
    assert numbers("customer", "looking") == {w.acme.case.number}
    assert numbers("partner", "looking") == {w.endco.case.number}
    assert numbers("other customer", "acme") == set()
    assert numbers("agent", "acme") == {w.acme.case.number}
    response = client.get("/api/v1/cases", {"q": "x" * 201}, **w.auth("agent"))
    assert response.status_code == 422



@pytest.mark.django_db(transaction=True)
def test_migrating_to_0009_indexes_the_cases_that_exist(cast):
    from django.db.migrations.executor import MigrationExecutor

    today = timezone.localdate()
    Agreement.objects.update(starts=today - timedelta(days=365), ends=today + timedelta(days=365))
    case = receive(cast, title="Spindle overheats")
    services.add_note(case, "Customer sounds annoyed", actor=cast.sam, now=timezone.now())

    def migrate(targets):
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(targets)

    # Every app's latest: going back unapplies the apps that depend on desk (webhooks),
    # which the tests after this one in the same process need again.
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    migrate([("desk", "0008_form_token")])  # the search table goes; the case stays
    try:
        assert "desk_casesearch" not in connection.introspection.table_names()
    finally:
        migrate(latest)
    assert "webhooks_webhook" in connection.introspection.table_names()
    assert found(cast.sam, "spindle annoyed") == {case.number}
    assert found(cast.alice, "annoyed") == set()
