"""The demo data set: every state, real SLA columns, idempotent, robust to any ``now``."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import authenticate
from django.test import RequestFactory

from slpdesk.desk import services
from slpdesk.desk.demo import DEMO_PASSWORD, load_demo, logins_text
from slpdesk.desk.models import (
    Agreement,
    Case,
    CaseEvent,
    Message,
    Organisation,
    Release,
    Site,
    User,
)

UTC = ZoneInfo("UTC")
# A Tuesday afternoon in Europe, morning in New York.
TUESDAY = datetime(2026, 7, 7, 15, 0, tzinfo=UTC)
NOWS = [
    TUESDAY,
    datetime(2026, 11, 29, 19, 30, tzinfo=UTC),  # Sunday evening after Thanksgiving
    datetime(2027, 1, 4, 6, 0, tzinfo=UTC),  # Monday before opening, after Christmas
]


def states(field: str) -> set[str]:
    return set(Case.objects.values_list(field, flat=True))


@pytest.mark.parametrize("now", NOWS, ids=["tuesday", "sunday-night", "after-christmas"])
def test_it_loads_cases_in_every_state(db, now):
    assert load_demo(now) is True
    assert 40 <= Case.objects.count() <= 80
    assert states("status") == set(Case.Status.values)
    assert states("entitlement") == set(Case.Entitlement.values)
    assert states("kind") == set(Case.Kind.values)
    assert states("resolution") == {"", *Case.Resolution.values}
    assert states("channel") == set(Case.Channel.values)
    # Every badge: running, at risk, breached, paused, met, not applicable.
    assert {"running", "at_risk", "breached", "met", "not_applicable"} <= states(
        "response_state")
    assert {"running", "at_risk", "breached", "paused", "met", "not_applicable"} <= states(
        "resolution_state")
    assert {"running", "breached", "paused"} <= states("next_update_state")
    reopened = Case.objects.filter(events__type=CaseEvent.Type.REOPENED).distinct()
    assert reopened.exists()
    assert all(case.is_open() for case in reopened)
    # Waiting on the customer, and a case support is working on again after a wait.
    assert Case.objects.filter(status=Case.Status.WAITING, resolution_state="paused").exists()
    assert Case.objects.filter(events__type=CaseEvent.Type.CUSTOMER_REPLIED,
                               status=Case.Status.OPEN).exists()
    # Bugs and defects have no resolution target (K4).
    assert set(Case.objects.exclude(kind=Case.Kind.INCIDENT)
               .values_list("resolution_state", flat=True)) == {"not_applicable"}


@pytest.mark.parametrize("now", NOWS, ids=["tuesday", "sunday-night", "after-christmas"])
def test_its_sla_columns_are_what_refresh_sla_computes_at_now(db, now):
    load_demo(now)
    for case in Case.objects.all():
        state = services.sla_state(case, now)
        stored = (case.response_due, case.resolution_due, case.next_update_due,
                  case.earliest_due, case.response_state, case.resolution_state,
                  case.next_update_state, case.sla_computed_at)
        assert stored == (state.response.due, state.resolution.due, state.next_update.due,
                          state.earliest_due(), state.response.state, state.resolution.state,
                          state.next_update.state, now), case.title


def test_it_is_idempotent(db):
    assert load_demo(TUESDAY) is True
    counts = [m.objects.count() for m in (Organisation, Site, Agreement, Release, User, Case,
                                          CaseEvent, Message)]
    assert load_demo(TUESDAY) is False
    assert load_demo(TUESDAY + timedelta(days=3)) is False
    assert [m.objects.count() for m in (Organisation, Site, Agreement, Release, User, Case,
                                        CaseEvent, Message)] == counts


def test_it_makes_every_history_through_the_services(db):
    load_demo(TUESDAY)
    for case in Case.objects.all():
        events = list(case.events.all())
        assert events[0].type == CaseEvent.Type.RECEIVED
        assert events[0].at == case.received_at
        assert case.number == f"SLP-{case.pk:06d}"
        assert all(e.at <= TUESDAY for e in events)
        if case.entitlement not in (Case.Entitlement.ENTITLED, Case.Entitlement.EXCLUDED):
            assert [e.type for e in events] == ["received", "excluded"]
            assert case.status == Case.Status.CLOSED
    assert Message.objects.filter(kind=Message.Kind.INTERNAL).exists()
    assert Message.objects.filter(kind=Message.Kind.CALL).exists()
    assert Case.objects.filter(assignee__isnull=False).exists()
    assert Case.objects.filter(assignee__isnull=True, status=Case.Status.NEW).exists()


def test_it_spreads_cases_over_the_last_weeks(db):
    load_demo(TUESDAY)
    received = sorted(Case.objects.values_list("received_at", flat=True))
    assert received[0] >= TUESDAY - timedelta(weeks=7)
    assert received[-1] <= TUESDAY
    assert received[-1] - received[0] >= timedelta(weeks=3)


def test_it_has_organisations_of_every_kind_in_every_region(db):
    load_demo(TUESDAY)
    today = TUESDAY.date()
    assert set(Organisation.objects.values_list("kind", flat=True)) == set(
        Organisation.Kind.values)
    assert set(Site.objects.values_list("time_zone", flat=True)) == {
        "America/New_York", "America/Los_Angeles", "Europe/London", "Europe/Stockholm",
        "Europe/Berlin", "Asia/Kolkata"}
    assert set(Site.objects.values_list("country", flat=True)) == {"US", "GB", "SE", "DE", "IN"}
    assert Organisation.objects.filter(supported_by__isnull=False).exists()  # E3
    assert any(not site.has_active_agreement(today) and site.agreements.exists()
               for site in Site.objects.all())  # E2: expired
    assert Agreement.objects.filter(ends__lt=today).exists()
    assert Agreement.objects.filter(starts__lte=today, ends__gte=today).exists()
    assert all(org.technical_contact is not None for org in Organisation.objects.all())


def test_it_has_the_current_previous_and_an_unsupported_release(db):
    load_demo(TUESDAY)
    assert Release.objects.count() == 3
    assert Release.objects.supported(TUESDAY.date(), 2).count() == 2


def test_it_has_users_for_every_role_who_can_log_in(db):
    load_demo(TUESDAY)
    assert set(User.objects.values_list("role", flat=True)) == set(User.Role.values)
    assert set(User.objects.values_list("language", flat=True)) == {"en", "sv"}
    text = logins_text()
    assert DEMO_PASSWORD in text
    for user in User.objects.all():
        assert user.username in text
        # As the log-in form does: with the request (the lock-out counts by it).
        request = RequestFactory().post("/login/")
        assert authenticate(request, username=user.username, password=DEMO_PASSWORD) == user
        assert user.is_support_staff() == (user.organisation is None)
    admin = User.objects.get(role=User.Role.ADMIN)
    assert admin.is_superuser and admin.is_staff


def test_it_refuses_a_naive_now(db):
    with pytest.raises(ValueError):
        load_demo(datetime(2026, 7, 7, 15, 0))


def test_it_has_escalations_acknowledged_and_waiting_and_a_partner_opened_case(db):
    from slpdesk.desk.models import Escalation

    load_demo(TUESDAY)
    levels = set(Escalation.objects.values_list("level", flat=True))
    assert {1, 2} <= levels
    assert Escalation.objects.filter(acknowledged_at__isnull=False).exists()
    assert Escalation.objects.filter(acknowledged_at__isnull=True).exists()
    by_partner = Case.objects.filter(contact__organisation__end_customers__isnull=False,
                                     organisation__supported_by__isnull=False)
    assert by_partner.filter(entitlement=Case.Entitlement.ENTITLED).exists()
