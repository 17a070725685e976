"""Escalation (X1-X3), attachments and partners opening cases for their end users (E3)."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from desk.conftest import ny
from desk.test_services import MON_9, receive, refused, triaged, types
from slpdesk.desk import access, services
from slpdesk.desk.models import Case, Escalation, Organisation, Site, User

LATER = MON_9 + timedelta(hours=1)


def staff(username, role):
    return User.objects.create_user(username, password="pw", role=role)


# ---------------------------------------------------------------- escalation
def test_a_customer_escalates_with_a_reason_and_each_escalation_goes_one_level_up(cast):
    case = triaged(cast)
    first = services.escalate(case, "No progress for two days", channel="portal",
                              actor=cast.alice, now=LATER)
    second = services.escalate(case, "Still nothing", channel="portal", actor=cast.bob,
                               now=LATER + timedelta(minutes=5))
    case.refresh_from_db()
    assert (first.level, second.level, case.escalation_level) == (1, 2, 2)
    assert first.raised_by == cast.alice and first.reason == "No progress for two days"
    assert types(case)[-2:] == ["escalated", "escalated"]


def test_escalation_refusals_change_nothing(cast):
    case = triaged(cast)
    refused(case, "empty", services.escalate, "  ", channel="portal", actor=cast.alice,
            now=LATER)
    refused(case, "forbidden", services.escalate, "mine now", channel="portal",
            actor=cast.olga, now=LATER)
    refused(case, "channel", services.escalate, "why", channel="fax", actor=cast.alice,
            now=LATER)
    for n in range(3):
        services.escalate(case, f"round {n}", channel="portal", actor=cast.alice,
                          now=LATER + timedelta(minutes=n))
    refused(case, "top", services.escalate, "again", channel="portal", actor=cast.alice,
            now=LATER + timedelta(hours=1))


def test_a_resolved_case_cannot_be_escalated(cast):
    case = triaged(cast)
    services.resolve(case, "fixed", "Patched", actor=cast.sam, now=LATER)
    refused(case, "not_open", services.escalate, "why", channel="portal", actor=cast.alice,
            now=LATER + timedelta(minutes=1))


@pytest.mark.parametrize("priority,start_level,expected", [
    ("P1", 0, 3), ("P2", 0, 3), ("P3", 0, 1), ("P3", 1, 2), ("P3", 2, 3), ("P4", 2, 3),
])
def test_an_escalation_by_email_follows_x3(cast, priority, start_level, expected):
    case = triaged(cast, priority=priority)
    for n in range(start_level):
        services.escalate(case, f"round {n}", channel="portal", actor=cast.alice,
                          now=LATER + timedelta(minutes=n))
    esc = services.escalate(case, "Escalation Request", channel="email", actor=cast.alice,
                            now=LATER + timedelta(hours=1))
    assert esc.level == expected


def test_only_an_owner_of_the_level_acknowledges_it(cast):
    case = triaged(cast)
    supervisor = staff("sue", User.Role.SUPERVISOR)
    executive = staff("eve", User.Role.EXECUTIVE)
    esc = services.escalate(case, "Slow", channel="portal", actor=cast.alice, now=LATER)
    for outsider in (cast.sam, executive, cast.alice):
        with pytest.raises(services.DeskError) as err:
            services.acknowledge_escalation(esc, actor=outsider, now=LATER)
        assert err.value.code in ("forbidden",)
    services.acknowledge_escalation(esc, actor=supervisor, now=LATER + timedelta(minutes=3))
    esc.refresh_from_db()
    assert esc.acknowledged_by == supervisor
    with pytest.raises(services.DeskError) as err:
        services.acknowledge_escalation(esc, actor=supervisor, now=LATER + timedelta(minutes=4))
    assert err.value.code == "acknowledged"
    # Level 3 belongs to the executive sponsor / customer success manager.
    services.escalate(case, "again", channel="portal", actor=cast.alice, now=LATER + timedelta(
        minutes=5))
    top = services.escalate(case, "and again", channel="portal", actor=cast.alice,
                            now=LATER + timedelta(minutes=6))
    assert top.level == 3
    services.acknowledge_escalation(top, actor=executive, now=LATER + timedelta(minutes=7))
    assert list(access.escalations_for(cast.olga)) == []
    assert set(access.escalations_for(cast.bob)) == set(Escalation.objects.all())


# --------------------------------------------------------------- attachments
def upload(name="log.txt", content=b"line 1\n"):
    return SimpleUploadedFile(name, content, content_type="text/plain")


def test_files_are_stored_with_a_safe_name_and_shown_only_to_whom_they_belong(cast):
    case = triaged(cast)
    mine = services.attach_file(case, upload("../../etc/pass\x00wd.txt"), actor=cast.alice,
                                now=LATER)
    internal = services.attach_file(case, upload("analysis.txt"), actor=cast.sam, now=LATER,
                                    internal=True)
    assert mine.name == "passwd.txt" and mine.size == 7
    assert mine.file.read() == b"line 1\n"
    assert "attachments/" in mine.file.name and ".." not in mine.file.name
    assert set(access.attachments_for(cast.bob)) == {mine}
    assert set(access.attachments_for(cast.sam)) == {mine, internal}
    assert not access.attachments_for(cast.olga).exists()
    assert types(case)[-2:] == ["attached", "attached"]


@override_settings(SLPDESK_MAX_ATTACHMENT_BYTES=10)
def test_a_file_over_the_limit_is_refused(cast):
    case = triaged(cast)
    refused(case, "too_large", services.attach_file, upload(content=b"x" * 11),
            actor=cast.alice, now=LATER)


def test_attachment_refusals(cast):
    case = triaged(cast)
    refused(case, "forbidden", services.attach_file, upload(), actor=cast.olga, now=LATER)
    refused(case, "forbidden", services.attach_file, upload(), actor=cast.alice, now=LATER,
            internal=True)
    refused(case, "file", services.attach_file, b"not a file", actor=cast.alice, now=LATER)


# -------------------------------------------------------------------- partners
def test_a_partner_opens_a_case_for_its_end_user_and_both_see_it(cast):
    partner = Organisation.objects.get(name="Partnerco")
    paul = User.objects.create_user("paul", password="pw", organisation=partner)
    endco_site = Site.objects.get(name="Endville")
    endco_site.agreements.create(starts=MON_9.date(), ends=MON_9.date() + timedelta(days=30))
    by_partner = receive(cast, site=endco_site, contact=paul)
    by_end_user = receive(cast, site=endco_site, contact=cast.edgar)
    assert by_partner.entitlement == Case.Entitlement.ENTITLED
    assert by_end_user.entitlement == Case.Entitlement.VIA_PARTNER  # E3
    assert set(access.cases_for(paul)) == {by_partner, by_end_user}
    assert set(access.cases_for(cast.edgar)) == {by_partner, by_end_user}
    assert not access.cases_for(cast.alice).filter(pk=by_partner.pk).exists()
    with pytest.raises(services.DeskError) as err:
        receive(cast, site=endco_site, contact=cast.alice)
    assert err.value.code == "contact"


def test_a_customer_cannot_open_a_case_at_another_organisations_site(cast):
    with pytest.raises(services.DeskError) as err:
        services.receive_case(cast.other_site, contact=cast.olga, channel="portal",
                              proposed_priority="P3", title="x", actor=cast.alice,
                              now=ny(2026, 7, 6, 9, 0))
    assert err.value.code == "forbidden"
