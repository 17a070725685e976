"""One conversation (issue 13): the case's whole story in one timeline for staff and
customers, messages labelled by kind, a separate composer for internal notes, and
the prompt to mark the information complete once the customer has answered."""

import re
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from slpdesk.desk import conversation, services
from slpdesk.desk.models import Agreement, Case, Message, Release

T0 = timezone.now().replace(microsecond=0) - timedelta(days=2)


def at(minutes: int):
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def desk(cast):
    today = timezone.localdate()
    Agreement.objects.update(starts=today - timedelta(days=365), ends=today + timedelta(days=365))
    Release.objects.filter(pk=cast.r2026.pk).update(released=today - timedelta(days=30))
    return cast


def story_case(desk) -> Case:
    """A case through every kind of step, one minute apart."""
    alice, sam = desk.alice, desk.sam
    case = services.receive_case(desk.hartford, contact=alice, channel=Case.Channel.PORTAL,
                                 proposed_priority="P3", title="Posts wrong",
                                 description="The G-code is wrong", release=desk.r2026,
                                 actor=alice, now=at(0))
    services.assign_priority(case, "P3", actor=sam, now=at(1))
    services.request_information(case, "Which post-processor?", actor=sam, now=at(2))
    services.record_customer_reply(case, "Fanuc 31i", actor=alice, now=at(3))
    services.mark_information_complete(case, actor=sam, now=at(4))
    services.add_note(case, "Known issue in 2026", actor=sam, now=at(5))
    services.reply(case, "We reproduced it", actor=sam, now=at(6))
    services.log_call(case, "Talked it through", actor=sam, now=at(7))
    services.assign_priority(case, "P2", actor=sam, now=at(8))
    services.escalate(case, "Production is stopped", channel="portal", actor=alice, now=at(9))
    services.attach_file(case, SimpleUploadedFile("fix.txt", b"patch"), actor=sam, now=at(10))
    services.resolve(case, Case.Resolution.FIXED, "Patched post-processor sent", actor=sam,
                     now=at(11))
    services.reopen(case, "Still wrong on arcs", actor=alice, now=at(12))
    return case


def test_staff_see_the_whole_story_in_order(desk):
    case = story_case(desk)
    story = conversation.build(desk.sam, case)
    assert [(e.kind, e.label) for e in story] == [
        ("opened", "Case opened"),
        ("priority", "Priority set to P3"),
        ("info_requested", "Information request"),
        ("customer", "Reply"),
        ("info_complete", "Information marked complete"),
        ("internal", "Internal note"),
        ("status_update", "Status update"),  # the request was the first contact (K1)
        ("call", "Logged call"),
        ("priority", "Priority changed to P2 (was P3)"),
        ("escalated", "Escalated to level 1"),
        ("file", "File added"),
        ("resolved", "Resolved: Fixed"),
        ("reopened", "Reopened"),
    ]
    bodies = {e.kind: e.body for e in story}
    assert bodies["resolved"] == "Patched post-processor sent"
    assert bodies["reopened"] == "Still wrong on arcs"
    assert bodies["escalated"] == "Production is stopped"
    assert [e.kind for e in story if e.staff_only] == ["internal"]


def test_customers_see_the_same_story_without_internal_notes(desk):
    case = story_case(desk)
    kinds = [e.kind for e in conversation.build(desk.alice, case)]
    assert kinds == ["opened", "priority", "info_requested", "customer", "info_complete",
                     "status_update", "call", "priority", "escalated", "file", "resolved",
                     "reopened"]
    assert conversation.build(desk.olga, case) == []  # another organisation: nothing


def test_a_status_update_is_labelled_so(desk):
    case = services.receive_case(desk.hartford, contact=desk.alice, channel="portal",
                                 proposed_priority="P3", title="Posts wrong",
                                 release=desk.r2026, actor=desk.alice, now=at(0))
    services.assign_priority(case, "P3", information_complete=True, actor=desk.sam, now=at(1))
    services.reply(case, "First answer", actor=desk.sam, now=at(2))
    services.reply(case, "Still working on it", actor=desk.sam, now=at(3))
    labels = [(e.label, e.body) for e in conversation.build(desk.alice, case)
              if e.body and e.kind != "opened"]
    assert labels == [("Reply", "First answer"), ("Status update", "Still working on it")]


def test_the_portal_keeps_the_fix_after_a_reopen(desk, client):
    case = story_case(desk)
    client.force_login(desk.alice)
    page = client.get(reverse("portal:case", args=[case.number])).content.decode()
    assert "Patched post-processor sent" in page and "Still wrong on arcs" in page
    assert "Known issue in 2026" not in page
    assert "Resolved: Fixed" in page
    assert page.index("Patched post-processor sent") < page.index("Still wrong on arcs")
    kinds = re.findall(r'data-kind="([a-z_]+)"', page)
    assert "internal" not in kinds and kinds[0] == "opened" and kinds[-1] == "reopened"


def test_notes_have_their_own_composer(desk, client):
    case = services.receive_case(desk.hartford, contact=desk.alice, channel="portal",
                                 proposed_priority="P3", title="Posts wrong",
                                 release=desk.r2026, actor=desk.alice, now=at(0))
    client.force_login(desk.sam)
    page = client.get(reverse("console:case", args=[case.number])).content.decode()
    write = page[page.index('id="write"'):page.index("</form>", page.index('id="write"'))]
    note = page[page.index('id="note"'):page.index("</form>", page.index('id="note"'))]
    assert "Add internal note" not in write and "Send reply" in write
    assert "Add internal note" in note and "Send reply" not in note
    response = client.post(reverse("console:note", args=[case.number]),
                           {"body": "Check the licence"})
    assert response.status_code == 302
    assert case.messages.get().kind == Message.Kind.INTERNAL


def test_the_agent_is_prompted_to_mark_the_information_complete(desk, client):
    case = services.receive_case(desk.hartford, contact=desk.alice, channel="portal",
                                 proposed_priority="P3", title="Posts wrong",
                                 release=desk.r2026, actor=desk.alice, now=at(0))
    services.assign_priority(case, "P3", actor=desk.sam, now=at(1))
    services.request_information(case, "Which post-processor?", actor=desk.sam, now=at(2))
    client.force_login(desk.sam)
    page_url = reverse("console:case", args=[case.number])
    assert 'id="info-complete-prompt"' not in client.get(page_url).content.decode()
    services.record_customer_reply(case, "Fanuc 31i", actor=desk.alice, now=at(3))
    assert 'id="info-complete-prompt"' in client.get(page_url).content.decode()
    response = client.post(reverse("console:info_complete", args=[case.number]))
    assert response.status_code == 302
    page = client.get(page_url).content.decode()
    assert 'id="info-complete-prompt"' not in page
    assert 'data-kind="info_complete"' in page
    case.refresh_from_db()
    assert case.information_complete and case.resolution_state == "running"


def test_customer_names_for_resolution_kinds():
    assert conversation.customer_resolution("fixed") == "Fixed"
    assert conversation.customer_resolution("timeline") == "A fix is planned"
    assert conversation.customer_resolution("") == ""
