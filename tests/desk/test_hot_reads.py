"""The reads on every opened case's path, written out in SQL instead of compiled by
the ORM each time (issue 14): each gives what its ORM form gives, on both engines,
including the values' types (dates and datetimes, a JSON column).

The expected outcomes are stated by hand from the data each test writes; the ORM
form is the independent second opinion where many combinations are checked.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from slpdesk.desk import access
from slpdesk.desk.models import (
    Agreement,
    CalendarClosure,
    Organisation,
    PolicyVersion,
    Site,
    User,
)
from slpdesk.webhooks import events as hooks
from slpdesk.webhooks.models import Webhook

Role = User.Role


def test_a_contact_opens_cases_at_its_own_sites_and_a_partner_at_its_end_users_too(cast):
    partner = Organisation.objects.get(name="Partnerco")
    paul = User.objects.create_user("paul", organisation=partner)
    gone = User.objects.create_user("gone", organisation=cast.acme, is_active=False)
    orphan = User.objects.create_user("orphan")  # a customer with no organisation
    staff = {role: User.objects.create_user(f"staff-{role}", role=role)
             for role in Role.values if role != Role.CUSTOMER}
    sites = list(Site.objects.select_related("organisation"))
    expected = {  # by hand: own sites; a partner's also those of the end users it supports
        "alice": {cast.hartford},
        "olga": {cast.other_site},
        "edgar": {cast.endco_site},
        "paul": {cast.endco_site},
        "gone": set(),
        "orphan": set(),
    }
    for user in (cast.alice, cast.olga, cast.edgar, paul, gone, orphan):
        allowed = {site for site in sites if access.may_open_case_at(user, site)}
        assert allowed == expected[user.username], user.username
    for role, user in staff.items():
        allowed = {site for site in sites if access.may_open_case_at(user, site)}
        # by hand: the working roles log cases (a phone call) for any site; an
        # executive only reads
        working = role in (Role.AGENT, Role.SUPERVISOR, Role.MANAGER, Role.ADMIN)
        assert allowed == (set(sites) if working else set()), role
    # and it is the one access function's answer, for every person and site
    for user in User.objects.all():
        for site in sites:
            assert access.may_open_case_at(user, site) == access.sites_for(user).filter(
                pk=site.pk).exists(), (user.username, site.name)


def test_the_version_in_force_is_the_latest_effective_one_with_its_dates_aware(db):
    shipped = PolicyVersion.objects.in_force(datetime(2026, 1, 1, tzinfo=UTC))
    text = shipped.toml.replace(f'version = "{shipped.version}"', 'version = "99"', 1)
    assert text != shipped.toml
    later = PolicyVersion.objects.create(
        policy_id=shipped.policy_id, version="99", toml=text,
        published_at=datetime(2026, 5, 1, tzinfo=UTC),
        effective_at=datetime(2026, 6, 1, 12, 30, 15, 250000, tzinfo=UTC))
    before = PolicyVersion.objects.in_force(datetime(2026, 6, 1, 12, 30, 15, 249999,
                                                     tzinfo=UTC))
    at = PolicyVersion.objects.in_force(datetime(2026, 6, 1, 12, 30, 15, 250000, tzinfo=UTC))
    assert (before.pk, at.pk) == (shipped.pk, later.pk)
    assert at.effective_at == datetime(2026, 6, 1, 12, 30, 15, 250000, tzinfo=UTC)
    assert at.effective_at.utcoffset() == timedelta(0)
    assert at.published_at == datetime(2026, 5, 1, tzinfo=UTC)
    assert at.version == "99" and at.load().version == "99"


def test_an_agreement_covers_its_first_and_last_day_and_no_other(cast):
    site = Site.objects.create(organisation=cast.acme, name="Edge", country="US",
                               time_zone="America/New_York")
    Agreement.objects.create(site=site, starts=date(2026, 3, 1), ends=date(2026, 3, 31))
    covered = [day for day in (date(2026, 2, 28), date(2026, 3, 1), date(2026, 3, 15),
                               date(2026, 3, 31), date(2026, 4, 1))
               if site.has_active_agreement(day)]
    assert covered == [date(2026, 3, 1), date(2026, 3, 15), date(2026, 3, 31)]


def test_the_closures_in_effect_are_dates_of_their_calendar_not_removed_ones(db):
    now = datetime(2026, 1, 5, 9, tzinfo=UTC)
    for calendar, day in (("SE", date(2026, 6, 22)), ("SE", date(2026, 12, 28)),
                          ("UK", date(2026, 6, 23))):
        CalendarClosure.objects.create(calendar=calendar, date=day, reason="test",
                                       added_at=now)
    gone = CalendarClosure.objects.create(calendar="SE", date=date(2026, 7, 1),
                                          reason="test", added_at=now)
    gone.removed_at = now + timedelta(hours=1)
    gone.removal_reason = "a mistake"
    gone.save(update_fields=list(CalendarClosure.REMOVAL_FIELDS))
    assert sorted(CalendarClosure.dates("SE")) == [date(2026, 6, 22), date(2026, 12, 28)]
    assert CalendarClosure.dates("UK") == [date(2026, 6, 23)]
    assert CalendarClosure.dates("US") == []


def test_the_enabled_subscriptions_are_read_with_their_events(db):
    made = {"secret": "s" * 32, "created_at": datetime(2026, 1, 5, tzinfo=UTC)}
    on = Webhook.objects.create(url="https://hooks.example.com/a",
                                events=["case.created", "case.updated"], **made)
    Webhook.objects.create(url="https://hooks.example.com/b", events=["case.created"],
                           enabled=False, **made)
    other = Webhook.objects.create(url="https://hooks.example.com/c",
                                   events=["case.updated"], **made)
    assert hooks.listeners("case.created") == [on.pk]
    assert sorted(hooks.listeners("case.updated")) == sorted([on.pk, other.pk])
