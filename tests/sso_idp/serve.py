"""Run the test provider: ``python -m sso_idp.serve CLIENT_ID CLIENT_SECRET REDIRECT_URI``
with ``SSO_IDP_DIR`` and ``SSO_IDP_USERS`` set. Migrates its own SQLite database,
registers the desk as a confidential client (authorisation code, RS256 ID tokens,
no consent page), creates the people of ``SSO_IDP_USERS`` (a JSON list of
``{"username", "password", "email", "email_verified", "groups"}``), then serves on a
free port of 127.0.0.1 and prints ``READY <port>`` on standard output. Stops on
SIGTERM."""

import os
import signal
import sys
import threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


def main() -> None:
    client_id, client_secret, redirect_uri = sys.argv[1:4]
    os.environ["DJANGO_SETTINGS_MODULE"] = "sso_idp.settings"
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from django.core.wsgi import get_wsgi_application
    from oauth2_provider.models import Application

    call_command("migrate", run_syncdb=True, verbosity=0, interactive=False)
    Application.objects.create(
        name="slpdesk", client_id=client_id, client_secret=client_secret,
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=redirect_uri, algorithm=Application.RS256_ALGORITHM,
        skip_authorization=True)
    for person in settings.USERS:
        user = User.objects.create_user(person["username"], person["email"],
                                        person["password"],
                                        first_name=person.get("first_name", ""),
                                        last_name=person.get("last_name", ""))
        for name in person.get("groups", []):
            user.groups.add(Group.objects.get_or_create(name=name)[0])
    server = make_server("127.0.0.1", 0, get_wsgi_application(), server_class=_Server,
                         handler_class=_QuietHandler)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"READY {server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
