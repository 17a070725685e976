"""The ``slpdesk`` command.

``slpdesk sla due``     deadlines of a new case (JSON)
``slpdesk sla replay``  the SLA state of a case from its events (JSON)
``slpdesk manage ...``  Django's management commands, as ``manage.py`` runs them
``slpdesk serve``       migrate, then serve the web application (waitress)
``slpdesk demo``        migrate, load the demo data once, print its log-ins, serve

The Django subcommands import Django only when they run (in
:mod:`slpdesk.server`), so ``slpdesk sla`` stays quick and Django-free.

Bad input prints one line on stderr naming the problem and exits with 2;
nothing is printed on stdout then.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime

from .sla import (
    CalendarError,
    Event,
    PolicyError,
    ReplayError,
    calendar_for,
    get_zone,
    load_policy,
    replay,
)


class UsageError(Exception):
    """Bad input on the command line; exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line on stderr, exit 2, like our other errors
        raise UsageError(f"{self.prog}: {message}")


def parse_instant(text: str, tz, what: str) -> datetime:
    """An ISO 8601 time; without an offset it is local to ``tz``."""
    if not isinstance(text, str):
        raise UsageError(f"{what}: expected an ISO 8601 time, got {text!r}")
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{what}: {text!r} is not an ISO 8601 time") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    try:
        # Through UTC, so that a wall time skipped by a DST change gets the offset
        # that is really in force at that instant.
        return dt.astimezone(UTC).astimezone(tz)
    except (OverflowError, ValueError):
        raise UsageError(f"{what}: {text!r} is out of range") from None


def _policy(path):
    return load_policy(path) if path else load_policy()


def cmd_sla_due(args) -> dict:
    policy = _policy(args.policy)
    tz = get_zone(args.tz)
    prio = policy.priority(args.priority)
    cal_name = args.calendar or policy.default_calendar
    cal = calendar_for(policy, cal_name, args.tz)
    received = parse_instant(args.received, tz, "--received")

    def iso(dt):
        return dt.astimezone(tz).isoformat()

    return {
        "priority": prio.code,
        "calendar": cal_name,
        "time_zone": args.tz,
        "received": iso(received),
        "clock_starts": iso(cal.next_open(received)),
        "response_due": iso(cal.add(received, policy.target_seconds(prio.code, "response",
                                                                    cal_name))),
        "resolution_due": iso(cal.add(received, policy.target_seconds(prio.code, "resolution",
                                                                      cal_name))),
        "update_interval_seconds": policy.target_seconds(prio.code, "update_interval", cal_name),
    }


def read_replay_input(text: str):
    """Parse the JSON document of ``slpdesk sla replay``."""
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise UsageError(f"malformed JSON: {str(exc) or type(exc).__name__}") from None
    if not isinstance(doc, dict):
        raise UsageError("input must be a JSON object")
    for key in ("time_zone", "now", "events"):
        if key not in doc:
            raise UsageError(f"{key}: missing")
    if not isinstance(doc["time_zone"], str):
        raise UsageError("time_zone: must be a string")
    tz = get_zone(doc["time_zone"])
    now = parse_instant(doc["now"], tz, "now")
    if not isinstance(doc["events"], list):
        raise UsageError("events: must be a list")
    events = []
    for n, raw in enumerate(doc["events"]):
        if not isinstance(raw, dict):
            raise UsageError(f"events[{n}]: must be an object")
        if "at" not in raw or "type" not in raw:
            raise UsageError(f"events[{n}]: needs 'at' and 'type'")
        # Other fields (an actor, a message id...) are carried by other tools and
        # ignored here; a null optional field counts as absent.
        if not isinstance(raw["type"], str):
            raise UsageError(f"events[{n}].type: must be a string")
        for key in ("priority", "kind", "resolution"):
            if raw.get(key) is not None and not isinstance(raw[key], str):
                raise UsageError(f"events[{n}].{key}: must be a string")
        events.append(Event(
            at=parse_instant(raw["at"], tz, f"events[{n}].at"),
            type=raw["type"],
            priority=raw.get("priority"),
            kind=raw.get("kind"),
            resolution=raw.get("resolution"),
        ))
    calendar = doc.get("calendar")
    if calendar is not None and not isinstance(calendar, str):
        raise UsageError("calendar: must be a string")
    return doc["time_zone"], tz, calendar, now, events


def cmd_sla_replay(args) -> dict:
    policy = _policy(args.policy)
    if args.file == "-":
        text = sys.stdin.read()
    else:
        try:
            with open(args.file, encoding="utf-8") as fh:
                text = fh.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"{args.file}: cannot read: {exc}") from None
    zone, tz, cal_name, now, events = read_replay_input(text)
    cal_name = cal_name or policy.default_calendar
    cal = calendar_for(policy, cal_name, zone)
    return replay(events, policy, cal, now, cal_name).as_dict(tz)


def cmd_manage(argv: list[str]) -> int:
    from . import server

    return server.manage(argv)


def _django_ready():
    """Set up Django; a bad setting becomes one line on stderr (exit 2)."""
    from django.core.exceptions import ImproperlyConfigured

    from . import server

    try:
        server.setup()
    except ImproperlyConfigured as exc:
        raise UsageError(str(exc)) from None
    return server


def _serve(server, host: str, port: int) -> None:
    try:
        server.serve(host, port)
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc}") from None


def cmd_serve(args) -> int:
    server = _django_ready()
    server.migrate()
    _serve(server, args.host, args.port)
    return 0


def cmd_demo(args) -> int:
    server = _django_ready()
    server.migrate()
    server.demo()
    if not args.no_serve:
        _serve(server, "127.0.0.1", args.port)
    return 0


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (0-65535)")
    return port


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="slpdesk", description="A support desk that runs a service level "
                     "policy.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    sla = sub.add_parser("sla", help="business-time deadlines and SLA replay")
    sla_sub = sla.add_subparsers(dest="sla_command", required=True, parser_class=_Parser)

    due = sla_sub.add_parser("due", help="deadlines of a case received at a given time")
    due.add_argument("--priority", required=True, help="P1..P4")
    due.add_argument("--received", required=True,
                     help="ISO 8601 time; without an offset it is local to --tz")
    due.add_argument("--tz", required=True, help="the site's IANA time zone")
    due.add_argument("--calendar", default=None, help="support calendar (default: global)")
    due.add_argument("--policy", default=None, help="a policy TOML file (default: shipped)")
    due.set_defaults(func=cmd_sla_due)

    rep = sla_sub.add_parser("replay", help="SLA state of a case from its events")
    rep.add_argument("file", help="JSON file, or - for standard input")
    rep.add_argument("--policy", default=None, help="a policy TOML file (default: shipped)")
    rep.set_defaults(func=cmd_sla_replay)

    # Parsed by main() itself, so that every option goes to Django untouched.
    sub.add_parser("manage", add_help=False,
                   help="Django's management commands, like manage.py (slpdesk manage help)")

    srv = sub.add_parser("serve", help="migrate the database, then serve the web application")
    srv.add_argument("--host", default="127.0.0.1", help="address to listen on "
                     "(default: 127.0.0.1; other names need SLPDESK_ALLOWED_HOSTS)")
    srv.add_argument("--port", type=_port, default=8000, help="port (default: 8000)")
    srv.set_defaults(func=cmd_serve)

    demo = sub.add_parser("demo", help="migrate, load the demo data set (once), print its "
                          "log-ins, and serve on 127.0.0.1")
    demo.add_argument("--port", type=_port, default=8000, help="port (default: 8000)")
    demo.add_argument("--no-serve", action="store_true",
                      help="load the demo data and print the log-ins, then exit")
    demo.set_defaults(func=cmd_demo)

    # Policy versions (V1-V2): validate, diff, publish (worker issue), simulate (reports).
    pol = sub.add_parser("policy", help="check, compare, publish and simulate policy versions")
    pol.add_subparsers(dest="policy_command", required=True, parser_class=_Parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["manage"]:
        return cmd_manage(argv[1:])
    try:
        args = build_parser().parse_args(argv)
        result = args.func(args)
    except (UsageError, CalendarError, PolicyError, ReplayError) as exc:
        print(f"slpdesk: error: {exc}".replace("\n", " "), file=sys.stderr)
        return 2
    if isinstance(result, int):  # serve, demo: they print their own output
        return result
    json.dump(result, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
