"""Where each role lands after logging in (issue 13, item 7): executives and customer
success managers on the live board, the rest of the staff on the queue, customers on
the portal."""

import pytest

from slpdesk.desk.models import User

Role = User.Role


@pytest.mark.parametrize(("role", "landing"), [
    (Role.EXECUTIVE, "/reports/board/"),
    (Role.AGENT, "/console/"),
    (Role.SUPERVISOR, "/console/"),
    (Role.MANAGER, "/console/"),
    (Role.ADMIN, "/console/"),
])
def test_staff_land_by_role_after_logging_in(client, db, role, landing):
    User.objects.create_user("who", "who@example.com", "a-long-password-1", role=role)
    response = client.post("/login/", {"username": "who", "password": "a-long-password-1"},
                           follow=True)
    assert response.redirect_chain[-1] == (landing, 302)
    assert response.status_code == 200


def test_an_executive_on_the_portal_goes_to_the_board(client, db):
    client.force_login(User.objects.create_user("eve", role=Role.EXECUTIVE))
    assert client.get("/portal/").url == "/reports/board/"


def test_customers_land_on_the_portal(client, cast):
    client.force_login(cast.alice)
    assert client.get("/").url == "/portal/"
