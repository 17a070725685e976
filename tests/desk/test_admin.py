"""The admin: configuration pages load, cases are read-only, closures recompute (C4)."""

from datetime import date

from desk.conftest import ny
from slpdesk.desk import services
from slpdesk.desk.models import CalendarClosure, Case, User


def _admin(client):
    boss = User.objects.create_superuser("boss", "boss@example.com", "pw", role=User.Role.ADMIN)
    client.force_login(boss)
    return boss


def test_it_lists_the_configuration(client, cast):
    _admin(client)
    for page in ["organisation", "site", "release", "policyversion", "calendarclosure",
                 "user", "case"]:
        assert client.get(f"/admin/desk/{page}/").status_code == 200, page


def test_it_shows_cases_read_only(client, cast):
    _admin(client)
    case = services.receive_case(cast.hartford, contact=cast.alice, channel="portal",
                                 proposed_priority="P3", title="Crash", actor=cast.alice,
                                 now=ny(2026, 7, 6, 9, 0))
    assert client.get("/admin/desk/case/add/").status_code == 403
    response = client.post(f"/admin/desk/case/{case.pk}/change/", {"status": "resolved"})
    assert response.status_code in (200, 403)
    case.refresh_from_db()
    assert case.status == Case.Status.NEW


def test_it_recomputes_open_cases_when_a_closure_is_added_in_the_admin(client, cast):
    _admin(client)
    # In the past, so the admin's real "now" comes after it.
    cast.hartford.agreements.update(starts=date(2025, 1, 1))
    case = services.receive_case(cast.hartford, contact=cast.alice, channel="portal",
                                 proposed_priority="P1", title="Down", actor=cast.alice,
                                 now=ny(2025, 3, 3, 9, 0))
    assert case.response_due == ny(2025, 3, 3, 11, 0)
    response = client.post("/admin/desk/calendarclosure/add/",
                           {"calendar": "global", "date": "2025-03-03", "reason": "Flood"})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.response_due == ny(2025, 3, 4, 10, 0)

    closure = CalendarClosure.objects.get()
    response = client.post(f"/admin/desk/calendarclosure/{closure.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.response_due == ny(2025, 3, 3, 11, 0)
