"""The admin: configuration pages load; cases, published policy versions and the closure
record are read-only (K8, V1, C4)."""

from datetime import date

from desk.conftest import ny
from slpdesk.desk import services
from slpdesk.desk.models import CalendarClosure, Case, PolicyVersion, User


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
    assert response.status_code == 403  # read-only: no change permission
    case.refresh_from_db()
    assert case.status == Case.Status.NEW


def test_published_policy_versions_and_closures_are_read_only(client, cast):
    """K8, V1, C4: the admin shows them; it neither adds, changes nor deletes one."""
    _admin(client)
    version = PolicyVersion.objects.in_force(ny(2026, 7, 6, 9, 0))
    toml = version.toml
    closure = services.add_closure("global", date(2026, 7, 7), "Summer", actor=cast.sam,
                                   now=ny(2026, 7, 1, 9, 0))
    for page, obj in (("policyversion", version), ("calendarclosure", closure)):
        assert client.get(f"/admin/desk/{page}/add/").status_code == 403, page
        assert client.get(f"/admin/desk/{page}/{obj.pk}/change/").status_code == 200, page
        response = client.post(f"/admin/desk/{page}/{obj.pk}/change/",
                               {"toml": "x", "date": "2026-07-08", "effective_at_0": "2026-01-01"})
        assert response.status_code == 403, page
        response = client.post(f"/admin/desk/{page}/{obj.pk}/delete/", {"post": "yes"})
        assert response.status_code == 403, page
    version.refresh_from_db()
    assert version.toml == toml
    assert CalendarClosure.dates("global") == [date(2026, 7, 7)]
    assert "Add policy version" not in client.get("/admin/desk/policyversion/").content.decode()


# ------------------------------------------------- the first administrator (issue 12)
def test_createsuperuser_makes_an_administrator_of_console_reports_and_admin(
        db, client, monkeypatch):
    from django.core.management import call_command

    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-first-password")
    call_command("createsuperuser", interactive=False, username="root",
                 email="root@example.com", verbosity=0)
    root = User.objects.get(username="root")
    assert (root.role, root.is_superuser, root.is_staff) == (User.Role.ADMIN, True, True)
    assert root.check_password("a-long-first-password")
    client.force_login(root)
    for url in ("/console/", "/reports/", "/reports/board/", "/admin/", "/admin/desk/case/"):
        assert client.get(url).status_code == 200, url
    assert client.get("/").url == "/console/"  # staff land on the console
