"""The customer and partner portal: its pages, the case form and actions, and that
nobody sees or touches another organisation's cases.

Data is built through the services at the real ``timezone.now()`` (the views
read it too); the ``desk`` fixture moves the cast's agreements and releases
around today so the tests run on any date. The one test about opening hours
freezes ``timezone.now``.
"""

from datetime import datetime, timedelta
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from desk.conftest import NY, _user
from slpdesk.desk import services
from slpdesk.desk.models import Agreement, Attachment, Case, Escalation, Message, Release, User

Status = Case.Status


@pytest.fixture
def desk(cast):
    """The cast, with agreements running around today (Nora's ended a year ago) and
    the releases current (a month old), previous and older."""
    today = timezone.localdate()
    Agreement.objects.exclude(site=cast.noagree_site).update(
        starts=today - timedelta(days=365), ends=today + timedelta(days=365))
    Agreement.objects.filter(site=cast.noagree_site).update(
        starts=today - timedelta(days=800), ends=today - timedelta(days=365))
    for release, age in ((cast.r2026, 30), (cast.r2025, 400), (cast.r2024, 800)):
        Release.objects.filter(pk=release.pk).update(released=today - timedelta(days=age))
        release.refresh_from_db()
    return cast


def now():
    return timezone.now()


def receive(cast, contact=None, site=None, **kw) -> Case:
    contact = contact or cast.alice
    fields = {"proposed_priority": "P3", "title": "Toolpath fails", "release": cast.r2026,
              "description": "It fails."}
    fields.update(kw)
    return services.receive_case(site or cast.hartford, contact=contact,
                                 channel=Case.Channel.PORTAL, actor=contact, now=now(),
                                 **fields)


def triaged(cast, **kw) -> Case:
    case = receive(cast, **kw)
    services.assign_priority(case, "P3", information_complete=True, actor=cast.sam, now=now())
    return case


def resolved(cast) -> Case:
    case = triaged(cast)
    services.reply(case, "Try the new driver.", actor=cast.sam, now=now())
    services.resolve(case, Case.Resolution.FIXED, "New driver installed.", actor=cast.sam,
                     now=now())
    return case


def upload(name="log.txt", content=b"line 1\nline 2\n"):
    return SimpleUploadedFile(name, content, content_type="text/plain")


def url(name, case=None):
    return reverse(f"portal:{name}", args=[case.number] if case else [])


def form_data(cast, **kw):
    data = {"site": cast.hartford.pk, "title": "Post-processor output wrong",
            "proposed_priority": "P2", "release": cast.r2026.pk, "request_type": "",
            "description": "1. Open part\n2. Post\n<b>wrong</b> G-code",
            "system_details": "Windows 11"}
    data.update(kw)
    return data


def snapshot(case: Case):
    return (Case.objects.filter(pk=case.pk).values().get(), case.events.count(),
            Message.objects.count(), Attachment.objects.count(), Escalation.objects.count())


# ----------------------------------------------------------------- pages
@pytest.mark.parametrize("language", ["en", "sv"])
def test_it_renders_every_page(desk, client, language):
    desk.alice.language = language
    desk.alice.save()
    case = triaged(desk)
    services.reply(case, "We are looking at it.", actor=desk.sam, now=now())
    services.attach_file(case, upload(), actor=desk.alice, now=now())
    client.force_login(desk.alice)
    for page in (url("home"), url("cases"), url("cases") + "?show=all",
                 url("cases") + "?show=waiting", url("new_case"), url("case", case)):
        response = client.get(page)
        assert response.status_code == 200, page
        assert f'<html lang="{language}">' in response.content.decode(), page
    body = client.get(url("case", case)).content.decode()
    assert "We are looking at it." in body and "log.txt" in body
    if language == "sv":  # policy texts come in the user's language
        assert "Kritisk" in client.get(url("new_case")).content.decode()
    else:
        home = client.get(url("home")).content.decode()
        assert "Hello, alice" in home and "+1 860 875 5006" in home
        assert "1 open case" in home


def test_it_tells_whether_support_is_open(desk, client):
    desk.alice.time_zone = "Europe/Stockholm"
    desk.alice.save()
    monday_10 = datetime(2026, 7, 6, 10, 0, tzinfo=NY)
    with mock.patch("django.utils.timezone.now", return_value=monday_10):
        client.force_login(desk.alice)
        body = client.get(url("home")).content.decode()
        form_page = client.get(url("new_case")).content.decode()
    assert "Support is open now (until 17:00 EDT)." in body
    assert "Support is open now (until 17:00 EDT)." in form_page
    assert "That is 23:00 CEST in your time zone." in body
    assert "Mon–Fri 08:00–17:00" in body

    saturday = datetime(2026, 7, 11, 12, 0, tzinfo=NY)
    with mock.patch("django.utils.timezone.now", return_value=saturday):
        client.force_login(desk.alice)
        body = client.get(url("home")).content.decode()
        listing = client.get(url("cases")).content.decode()
    # Every portal page says it (C6), not only the home page.
    assert "Support is closed now." in listing
    assert "It opens again Mon 13 Jul 2026 14:00 CEST." in listing
    assert "Support is closed now." in body
    assert "It opens again Mon 13 Jul 2026 14:00 CEST." in body
    assert "At the site: Mon 13 Jul 2026 08:00 EDT." in body


def test_it_counts_open_and_waiting_cases_on_the_home_page(desk, client):
    triaged(desk)
    waiting = triaged(desk)
    services.request_information(waiting, "Which release?", actor=desk.sam, now=now())
    receive(desk, contact=desk.olga, site=desk.other_site)  # not Acme's
    client.force_login(desk.alice)
    body = client.get(url("home")).content.decode()
    assert "2 open cases" in body
    assert "1 case waits on your answer" in body


# ------------------------------------------------------------ the case form
def test_it_offers_the_users_sites_and_supported_releases_only(desk, client):
    client.force_login(desk.alice)
    form = client.get(url("new_case")).context["form"]
    assert list(form.fields["site"].queryset) == [desk.hartford]
    assert form.fields["site"].initial == desk.hartford.pk
    assert set(form.fields["release"].queryset) == {desk.r2026, desk.r2025}
    codes = [code for code, _label in form.fields["request_type"].choices]
    assert codes == ["", "sdk", "custom-toolpath", "post-processor"]


def test_it_opens_an_entitled_case(desk, client):
    client.force_login(desk.alice)
    response = client.post(url("new_case"), form_data(desk), follow=True)
    case = Case.objects.get()
    assert response.redirect_chain == [(url("case", case), 302)]
    assert (case.entitlement, case.status, case.channel) == ("entitled", Status.NEW, "portal")
    assert (case.contact, case.proposed_priority, case.release) == (desk.alice, "P2",
                                                                    desk.r2026)
    assert case.response_due is not None
    body = response.content.decode()
    assert f"Case {case.number} is received." in body
    assert "not covered" not in body
    assert "&lt;b&gt;wrong&lt;/b&gt;" in body  # plain text, escaped


def test_it_refuses_an_incomplete_form_and_creates_nothing(desk, client):
    client.force_login(desk.alice)
    response = client.post(url("new_case"), form_data(desk, description="", title=""))
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"description", "title"}
    assert not Case.objects.exists()


def test_it_refuses_a_site_of_another_organisation(desk, client):
    client.force_login(desk.alice)
    response = client.post(url("new_case"), form_data(desk, site=desk.other_site.pk))
    assert "site" in response.context["form"].errors
    assert not Case.objects.exists()


def test_it_records_a_site_without_agreement_and_says_what_to_do(desk, client):  # E2
    client.force_login(desk.nora)
    response = client.post(url("new_case"), form_data(desk, site=desk.noagree_site.pk),
                           follow=True)
    case = Case.objects.get()
    assert (case.entitlement, case.status) == ("not_entitled", Status.CLOSED)
    body = response.content.decode()
    assert "has no active support agreement" in body and "contact Sales" in body
    assert "No service level targets apply" in body


def test_it_sends_an_end_user_to_their_partner(desk, client):  # E3
    client.force_login(desk.edgar)
    response = client.post(url("new_case"), form_data(desk, site=desk.endco_site.pk),
                           follow=True)
    case = Case.objects.get()
    assert case.entitlement == "via_partner"
    assert "Please contact Partnerco" in response.content.decode()


def test_it_offers_no_unsupported_release_and_explains_one(desk, client):  # E4
    client.force_login(desk.alice)
    response = client.post(url("new_case"), form_data(desk, release=desk.r2024.pk))
    assert "release" in response.context["form"].errors
    assert not Case.objects.exists()
    # A case on an old release (as e-mail intake records it) says to update.
    case = receive(desk, release=desk.r2024)
    assert case.entitlement == "unsupported_version"
    body = client.get(url("case", case)).content.decode()
    assert f"Release {desk.r2024.name} is no longer supported" in body
    assert "Please update to a supported release" in body


def test_it_routes_an_out_of_scope_request(desk, client):  # E5
    client.force_login(desk.alice)
    response = client.post(url("new_case"), form_data(desk, request_type="sdk"), follow=True)
    case = Case.objects.get()
    assert case.entitlement == "out_of_scope"
    body = response.content.decode()
    assert "handled by our professional services" in body
    assert "SDK questions" in body


def test_it_stores_the_files_sent_with_a_new_case(desk, client):
    client.force_login(desk.alice)
    data = form_data(desk, attachments=[upload("a.txt"), upload("b.png", b"\x89PNG")])
    response = client.post(url("new_case"), data, follow=True)
    case = Case.objects.get()
    assert sorted(case.attachments.values_list("name", flat=True)) == ["a.txt", "b.png"]
    body = response.content.decode()
    for attachment in case.attachments.all():
        assert reverse("download", args=[attachment.pk]) in body
        download = client.get(reverse("download", args=[attachment.pk]))
        assert download.status_code == 200


@override_settings(SLPDESK_MAX_ATTACHMENT_BYTES=10)
def test_it_refuses_a_too_large_file_and_creates_no_case(desk, client):
    client.force_login(desk.alice)
    data = form_data(desk, attachments=[upload("small.txt", b"ok"),
                                        upload("big.log", b"x" * 11)])
    response = client.post(url("new_case"), data)
    assert response.status_code == 200
    assert "“big.log” is too large" in response.content.decode()
    assert not Case.objects.exists() and not Attachment.objects.exists()


def test_it_keeps_a_not_covered_case_with_its_files(desk, client):
    client.force_login(desk.nora)
    data = form_data(desk, site=desk.noagree_site.pk, attachments=[upload()])
    response = client.post(url("new_case"), data, follow=True)
    case = Case.objects.get()
    assert case.status == Status.CLOSED
    assert list(Attachment.objects.values_list("case", flat=True)) == [case.pk]
    assert response.status_code == 200


# --------------------------------------------------------------- case list
def test_it_lists_the_organisations_cases_with_their_due_times(desk, client):
    mine = receive(desk)
    colleague = receive(desk, contact=desk.bob, title="Bob's case")
    theirs = receive(desk, contact=desk.olga, site=desk.other_site, title="Olga's case")
    client.force_login(desk.alice)
    body = client.get(url("cases")).content.decode()
    assert mine.number in body and colleague.number in body
    assert theirs.number not in body and "Olga&#x27;s case" not in body
    assert "Response due by" in body and 'class="badge badge-' in body


def test_it_filters_the_list(desk, client):
    open_case = triaged(desk)
    waiting = triaged(desk)
    services.request_information(waiting, "Which release?", actor=desk.sam, now=now())
    done = resolved(desk)
    client.force_login(desk.alice)

    def listed(show):
        return {row["case"].number for row in client.get(
            url("cases"), {"show": show}).context["rows"]}

    assert listed("open") == {open_case.number, waiting.number}
    assert listed("waiting") == {waiting.number}
    assert listed("all") == {open_case.number, waiting.number, done.number}
    assert listed("nonsense") == listed("open")


def test_a_partner_sees_its_end_users_cases(desk, client):
    endco_case = receive(desk, contact=desk.edgar, site=desk.endco_site)
    partner_user = _user("pat", desk.endco_site.organisation.supported_by)
    client.force_login(partner_user)
    body = client.get(url("cases"), {"show": "all"}).content.decode()
    assert endco_case.number in body and "Endco" in body
    assert client.get(url("case", endco_case)).status_code == 200


def test_the_list_pages_and_its_queries_do_not_grow_with_the_cases(
        desk, client, django_assert_max_num_queries):
    client.force_login(desk.alice)
    for _ in range(2):
        triaged(desk)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url("cases")).status_code == 200
    for _ in range(25):
        receive(desk)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page1 = client.get(url("cases"))
    assert len(page1.context["rows"]) == 25
    page2 = client.get(url("cases"), {"page": 2})
    assert len(page2.context["rows"]) == 2
    assert "Page 2 of 2" in page2.content.decode()


# --------------------------------------------------------------- case page
def test_it_shows_the_case_with_its_targets_and_conversation(desk, client):
    case = triaged(desk)
    services.reply(case, "Please try <script>alert(1)</script>", actor=desk.sam, now=now())
    services.log_call(case, "Called Alice about the driver.", actor=desk.sam, now=now())
    client.force_login(desk.alice)
    response = client.get(url("case", case))
    body = response.content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body and "<script>" not in body
    assert "Called Alice about the driver." in body
    assert [b.clock for b in response.context["badges"]] == [
        "response", "resolution", "next_update"]
    assert "Medium" in body  # the priority's name from the policy
    assert "America/New_York" in body


def test_it_never_shows_internal_notes_or_files(desk, client):
    case = triaged(desk)
    services.add_note(case, "SECRET NOTE: customer is difficult", actor=desk.sam, now=now())
    internal = services.attach_file(case, upload("internal.txt"), actor=desk.sam, now=now(),
                                    internal=True)
    client.force_login(desk.alice)
    body = client.get(url("case", case)).content.decode()
    assert "SECRET NOTE" not in body and "internal.txt" not in body
    assert client.get(reverse("download", args=[internal.pk])).status_code == 404


def test_it_shows_the_resolution(desk, client):
    case = resolved(desk)
    client.force_login(desk.alice)
    body = client.get(url("case", case)).content.decode()
    assert "New driver installed." in body
    assert "Resolved: Fixed" in body  # the customer's words for the kind (issue 13)
    assert "Fixed (or a workaround the customer accepts)" not in body


# ---------------------------------------------------------------- actions
def test_it_sends_a_reply_that_ends_the_wait(desk, client):
    case = triaged(desk)
    services.request_information(case, "Which release?", actor=desk.sam, now=now())
    client.force_login(desk.alice)
    response = client.post(url("reply", case), {"body": "Release 2026."}, follow=True)
    assert response.redirect_chain == [(url("case", case), 302)]
    case.refresh_from_db()
    assert case.status == Status.OPEN
    assert case.messages.last().body == "Release 2026."
    assert "Your message is sent." in response.content.decode()


def test_it_refuses_an_empty_reply(desk, client):
    case = triaged(desk)
    client.force_login(desk.alice)
    before = snapshot(case)
    response = client.post(url("reply", case), {"body": "   "})
    assert response.status_code == 200
    assert response.context["reply_form"].errors
    assert snapshot(case) == before


def test_it_shows_a_refusal_of_the_desk_and_changes_nothing(desk, client):
    case = receive(desk, contact=desk.nora, site=desk.noagree_site)  # closed at intake
    client.force_login(desk.nora)
    before = snapshot(case)
    response = client.post(url("reply", case), {"body": "Hello?"}, follow=True)
    assert response.redirect_chain == [(url("case", case), 302)]
    assert f'class="msg-error" role="status">Case {case.number} is closed.' in \
        response.content.decode()
    assert snapshot(case) == before


def test_it_adds_files_to_a_case(desk, client):
    case = triaged(desk)
    client.force_login(desk.alice)
    response = client.post(url("upload", case), {"files": [upload("a.txt"), upload("b.txt")]},
                           follow=True)
    assert response.redirect_chain == [(url("case", case), 302)]
    assert sorted(case.attachments.values_list("name", flat=True)) == ["a.txt", "b.txt"]
    assert "a.txt" in response.content.decode()


@override_settings(SLPDESK_MAX_ATTACHMENT_BYTES=10)
def test_it_refuses_a_too_large_upload(desk, client):
    case = triaged(desk)
    client.force_login(desk.alice)
    before = snapshot(case)
    response = client.post(url("upload", case), {"files": [upload("big.log", b"x" * 11)]})
    assert "“big.log” is too large" in response.content.decode()
    assert snapshot(case) == before


def test_it_escalates_with_a_reason_and_then_to_level_two(desk, client):
    case = triaged(desk)
    client.force_login(desk.alice)
    before = snapshot(case)
    response = client.post(url("escalate", case), {"escalate-reason": ""})
    assert response.context["escalate_form"].errors
    assert snapshot(case) == before

    response = client.post(url("escalate", case), {"escalate-reason": "Production stopped."},
                           follow=True)
    assert "escalated to level 1" in response.content.decode()
    client.post(url("escalate", case), {"escalate-reason": "Still nothing."})
    assert list(case.escalations.values_list("level", "channel", "raised_by")) == [
        (1, "portal", desk.alice.pk), (2, "portal", desk.alice.pk)]
    body = client.get(url("case", case)).content.decode()
    assert "Level 1: Review by a support manager or supervisor" in body
    assert "Level 2: Technical support management" in body
    assert body.count("not acknowledged yet") == 2
    supervisor = _user("sue", role=User.Role.SUPERVISOR)
    services.acknowledge_escalation(case.escalations.get(level=1), actor=supervisor,
                                    now=now())
    body = client.get(url("case", case)).content.decode()
    assert body.count("not acknowledged yet") == 1 and "acknowledged " in body


def test_it_reopens_a_resolved_case(desk, client):
    case = resolved(desk)
    client.force_login(desk.alice)
    before = snapshot(case)
    client.post(url("reopen", case), {"reopen-reason": ""})
    assert snapshot(case) == before
    response = client.post(url("reopen", case), {"reopen-reason": "It is back."}, follow=True)
    case.refresh_from_db()
    assert case.status == Status.OPEN
    assert "The case is reopened." in response.content.decode()


def test_the_actions_are_post_only(desk, client):
    case = triaged(desk)
    client.force_login(desk.alice)
    for action in ("reply", "upload", "escalate", "reopen"):
        assert client.get(url(action, case)).status_code == 405


# -------------------------------------------------------------- isolation
def test_an_outsider_gets_404_for_everything_of_another_organisation(desk, client):
    case = resolved(desk)
    attachment = services.attach_file(case, upload(), actor=desk.alice, now=now())
    client.force_login(desk.olga)
    missing = client.get(reverse("portal:case", args=["SLP-999999"]))
    assert missing.status_code == 404
    assert client.get(url("case", case)).status_code == 404
    before = snapshot(case)
    for action, data in (("reply", {"body": "hi"}), ("upload", {"files": [upload()]}),
                         ("escalate", {"escalate-reason": "x"}),
                         ("reopen", {"reopen-reason": "x"})):
        assert client.post(url(action, case), data).status_code == 404, action
        assert client.post(reverse(f"portal:{action}", args=["SLP-999999"]),
                           data).status_code == 404, action
    assert snapshot(case) == before
    assert client.get(reverse("download", args=[attachment.pk])).status_code == 404
    listed = client.get(url("cases"), {"show": "all"}).content.decode()
    assert case.number not in listed


def test_staff_are_sent_to_the_console(desk, client):
    case = triaged(desk)
    client.force_login(desk.sam)
    queue = reverse("console:queue")
    for page in (url("home"), url("cases"), url("new_case"), url("case", case)):
        response = client.get(page)
        assert (response.status_code, response.url) == (302, queue), page
    response = client.post(url("reply", case), {"body": "as customer"})
    assert (response.status_code, response.url) == (302, queue)
    assert not case.messages.exists()


def test_anonymous_users_go_to_the_login_page(desk, client):
    case = triaged(desk)
    for page in (url("home"), url("cases"), url("new_case"), url("case", case),
                 url("reply", case)):
        response = client.get(page)
        assert response.status_code == 302, page
        assert response.url.startswith(reverse("login") + "?next="), page


def test_a_user_of_no_organisation_is_refused(desk, client):
    client.force_login(_user("loner"))
    assert client.get(url("home")).status_code == 403
    assert User.objects.get(username="loner").role == User.Role.CUSTOMER
