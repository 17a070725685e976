"""The domain models' own rules: validation, agreements, releases, policy versions."""

from datetime import date, datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from desk.conftest import UTC, ny
from slpdesk.desk.access import cases_for
from slpdesk.desk.models import (
    Agreement,
    CalendarClosure,
    Case,
    CaseEvent,
    PolicyVersion,
    Release,
    Site,
    shipped_policy_text,
)
from slpdesk.desk.services import receive_case
from slpdesk.sla import load_policy


def test_it_validates_site_zone_and_country(cast):
    site = Site(organisation=cast.acme, name="Pune", country="IN", time_zone="Asia/Kolkata")
    site.full_clean()
    site.time_zone = "Mars/Olympus"
    site.country = "india"
    with pytest.raises(ValidationError) as err:
        site.full_clean()
    assert set(err.value.message_dict) == {"time_zone", "country"}


def test_it_picks_the_calendar_from_the_country(cast):
    policy = load_policy()
    assert cast.sheffield.calendar_name(policy) == "uk"
    assert cast.hartford.calendar_name(policy) == "global"
    assert cast.other_site.calendar_name(policy) == "global"


def test_it_knows_when_an_agreement_is_active(cast):
    agreement = cast.hartford.agreements.get()
    assert agreement.is_active(date(2026, 1, 1))
    assert agreement.is_active(date(2026, 12, 31))
    assert not agreement.is_active(date(2027, 1, 1))
    assert cast.hartford.has_active_agreement(date(2026, 6, 1))
    assert not cast.noagree_site.has_active_agreement(date(2026, 6, 1))


def test_it_refuses_an_agreement_that_ends_before_it_starts(cast):
    with pytest.raises(IntegrityError), transaction.atomic():
        Agreement.objects.create(site=cast.hartford, starts=date(2026, 5, 1),
                                 ends=date(2026, 4, 1))


def test_it_supports_the_current_and_previous_release(cast):
    policy = load_policy()
    assert set(Release.objects.supported(date(2026, 6, 1), 2)) == {cast.r2026, cast.r2025}
    # Before 2026 came out, 2025 and 2024 were the supported pair.
    assert set(Release.objects.supported(date(2026, 4, 30), 2)) == {cast.r2025, cast.r2024}
    assert cast.r2025.is_supported(date(2026, 6, 1), policy)
    assert not cast.r2024.is_supported(date(2026, 6, 1), policy)


def test_it_stores_the_shipped_policy_on_first_use_in_force_from_1900(db):
    at = datetime(2026, 1, 1, tzinfo=UTC)
    version = PolicyVersion.objects.in_force(at)
    assert (version.policy_id, version.version) == ("connect", "1")
    assert version.effective_at == datetime(1900, 1, 1, tzinfo=UTC)
    assert version.load() == load_policy()
    assert PolicyVersion.objects.in_force(at) == version
    # A case received before the first use (an import) has it in force too.
    assert PolicyVersion.objects.in_force(datetime(1999, 12, 31, tzinfo=UTC)) == version
    assert PolicyVersion.objects.in_force(datetime(1900, 1, 1, tzinfo=UTC)) == version
    assert PolicyVersion.objects.count() == 1


def test_it_uses_the_version_in_force(db):
    first = PolicyVersion.objects.in_force(datetime(2026, 1, 1, tzinfo=UTC))
    text = shipped_policy_text().replace('version = "1"', 'version = "2"', 1)
    second = PolicyVersion.from_toml(text, published_at=datetime(2026, 2, 1, tzinfo=UTC),
                                     effective_at=datetime(2026, 3, 3, tzinfo=UTC))
    second.full_clean()
    second.save()
    assert PolicyVersion.objects.in_force(datetime(2026, 3, 2, tzinfo=UTC)) == first
    assert PolicyVersion.objects.in_force(datetime(2026, 3, 3, tzinfo=UTC)) == second


def test_it_refuses_a_policy_file_that_does_not_match_its_version(db):
    version = PolicyVersion.from_toml(shipped_policy_text(),
                                      published_at=datetime(2026, 1, 1, tzinfo=UTC),
                                      effective_at=datetime(2026, 2, 1, tzinfo=UTC))
    version.version = "7"
    with pytest.raises(ValidationError):
        version.full_clean()
    version.toml = "not toml ["
    with pytest.raises(ValidationError):
        version.full_clean()


def test_it_adds_closures_to_the_compiled_calendar(db):
    policy = load_policy()
    CalendarClosure.objects.create(calendar="global", date=date(2026, 7, 7), reason="Summer")
    cal = CalendarClosure.compiled(policy, "global", "America/New_York")
    assert cal.next_open(ny(2026, 7, 7, 9, 0)) == ny(2026, 7, 8, 8, 0)
    uk = CalendarClosure.compiled(policy, "uk", "Europe/London")
    assert uk.is_open(datetime(2026, 7, 7, 10, 0, tzinfo=UTC))


def test_it_keeps_case_events_append_only(cast):
    case = receive_case(cast.hartford, contact=cast.alice, channel=Case.Channel.PORTAL,
                        proposed_priority="P3", title="Slow", actor=cast.alice,
                        now=ny(2026, 7, 6, 9, 0))
    event = case.events.get()
    event.type = CaseEvent.Type.RESOLVED
    with pytest.raises(ValueError, match="append-only"):
        event.save()
    with pytest.raises(ValueError, match="append-only"):
        event.delete()


def test_it_shows_a_customer_only_their_organisations_cases(cast):
    now = ny(2026, 7, 6, 9, 0)
    mine = receive_case(cast.hartford, contact=cast.alice, channel=Case.Channel.PORTAL,
                        proposed_priority="P3", title="Mine", actor=cast.alice, now=now)
    theirs = receive_case(cast.other_site, contact=cast.olga, channel=Case.Channel.PORTAL,
                          proposed_priority="P3", title="Theirs", actor=cast.olga, now=now)
    assert list(cases_for(cast.alice)) == [mine]
    assert list(cases_for(cast.bob)) == [mine]
    assert list(cases_for(cast.olga)) == [theirs]
    assert set(cases_for(cast.sam)) == {mine, theirs}
    cast.bob.is_active = False
    assert not cases_for(cast.bob).exists()
