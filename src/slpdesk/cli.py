"""The ``slpdesk`` command.

``slpdesk sla due``     deadlines of a new case (JSON)
``slpdesk sla replay``  the SLA state of a case from its events (JSON)
``slpdesk sla audit``   every case's stored SLA columns against a replay (``--fix``)
``slpdesk manage ...``  Django's management commands, as ``manage.py`` runs them
``slpdesk serve``       migrate, then serve the web application (gunicorn)
``slpdesk migrate``     migrate, then exit
``slpdesk backup|restore``  one archive of the database, the files and the secret key
``slpdesk demo``        migrate, load the demo data once, print its log-ins, serve with
                        a worker beside it
``slpdesk worker``      the background loop: e-mail out, SLA warnings, recomputes
``slpdesk mail receive|serve``      e-mail in (an MTA pipe; an SMTP/LMTP listener)
``slpdesk policy validate|diff|publish``  policy versions (V1-V2)
``slpdesk policy simulate``  replay a period under a draft policy, side by side
``slpdesk report``     the SLA compliance report of a period (text or JSON)
``slpdesk import``     cases with their history from JSON Lines; ``import-from`` converts
                       django-helpdesk and Zendesk data to those lines
``slpdesk privacy export|erase|retention``  a person's data out; erasure; retention
``slpdesk statements send``  the monthly SLA statements for customers

The Django subcommands import Django only when they run (in
:mod:`slpdesk.server`), so ``slpdesk sla`` stays quick and Django-free.

Bad input prints one line on stderr naming the problem and exits with 2;
nothing is printed on stdout then. A database that cannot be used is one line too
(:func:`main`, for every command): 75 when it is unreachable or not migrated yet
(trying again later may help), 78 when it does not exist; never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from datetime import UTC

from .sla import CalendarError, PolicyError, ReplayError, load_policy
from .sla.tools import InputError, parse_instant, read_replay_input, sla_due, sla_replay


class UsageError(Exception):
    """Bad input on the command line; exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line on stderr, exit 2, like our other errors
        raise UsageError(f"{self.prog}: {message}")


def _policy(path):
    return load_policy(path) if path else load_policy()


def cmd_sla_due(args) -> dict:
    return sla_due(_policy(args.policy), priority=args.priority, received=args.received,
                   time_zone=args.tz, calendar=args.calendar, received_name="--received")


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
    return sla_replay(policy, read_replay_input(text))


def cmd_sla_audit(args) -> int:
    """One line per case whose stored SLA columns differ from a replay, then ``checked
    N cases: M differ`` (exit 1 when M > 0); ``--fix`` recomputes those cases and
    prints ``fixed M cases`` (exit 0). :mod:`slpdesk.desk.audit` does the work."""
    _django_ready(database="ready")
    from django.utils import timezone

    from .desk import audit
    from .desk.models import Case
    from .reports.commands import progress_bar

    now = timezone.now()
    try:
        with progress_bar(args.progress, desc="auditing") as (total, update):
            total(audit.count(args.case))
            result = audit.audit(now, number=args.case, fix=args.fix, progress=update,
                                 report=lambda found: print(found.line(), flush=True))
    except Case.DoesNotExist:
        raise UsageError(f"--case: there is no case {args.case}") from None
    print(f"checked {result.checked} cases: {result.differ} differ")
    if args.fix:
        print(f"fixed {result.fixed} cases")
        return 0
    return 1 if result.differ else 0


def cmd_manage(argv: list[str]) -> int:
    from . import server

    return server.manage(argv)


def _django_ready(*, database: str | None = None):
    """Set up Django; a bad setting becomes one line on stderr (exit 2).

    ``database="ready"``: the database must exist, answer and be migrated;
    ``"exists"``: it must exist and be migrated when it answers (the worker and the
    mail listener wait for one that does not answer yet). Otherwise
    :class:`slpdesk.dbstate.Unavailable` ends the command (:func:`main`).
    """
    from django.core.exceptions import ImproperlyConfigured

    from . import server

    try:
        server.setup()
    except ImproperlyConfigured as exc:
        raise UsageError(str(exc)) from None
    if database is not None:
        from . import dbstate

        try:
            dbstate.check_ready()
        except dbstate.Unavailable as exc:
            if database == "ready" or exc.kind != "unreachable":
                raise
    return server


def _serve(server, host: str, port: int, **options) -> None:
    try:
        server.serve(host, port, **options)
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc}") from None


def cmd_serve(args) -> int:
    server = _django_ready()
    from django.conf import settings

    if settings.SLPDESK_MIGRATE_ON_START and not args.no_migrate:
        server.migrate()
    _serve(server, args.host, args.port, workers=args.workers, threads=args.threads)
    return 0


def cmd_migrate(args) -> int:
    server = _django_ready()
    server.migrate()
    return 0


def cmd_demo(args) -> int:
    # The demo's log-ins (one shared password) work without a second factor.
    os.environ.setdefault("SLPDESK_REQUIRE_2FA", "off")
    server = _django_ready()
    server.migrate()
    server.demo()
    if not args.no_serve:
        worker = None if args.no_worker else server.start_worker_process()
        _serve(server, "127.0.0.1", args.port, workers=1, threads=8,
               on_exit=worker and (lambda: server.stop_process(worker)))
    return 0


def cmd_backup(args) -> int:
    _django_ready()
    from .backup import BackupError, backup

    try:
        print(backup(args.file))
    except BackupError as exc:
        raise UsageError(str(exc)) from None
    return 0


def cmd_restore(args) -> int:
    # The data directory must stay empty (and its secret key unwritten) until the
    # archive is checked, so Django is not set up here: restore reads the settings'
    # environment variables itself.
    from .backup import BackupError, restore

    try:
        print(restore(args.file))
    except BackupError as exc:
        raise UsageError(str(exc)) from None
    return 0


# --------------------------------------------------------------------- mail in
EX_DATAERR = 65   # sysexits: the message cannot be taken (an MTA bounces it)
EX_TEMPFAIL = 75  # sysexits: try again later (an MTA keeps the message and retries)


def _read_stdin_bytes(limit: int) -> bytes | None:
    """Standard input up to ``limit`` bytes; None (the rest read and dropped) when it
    is longer, so the MTA never blocks on a pipe we stopped reading."""
    chunks, size = [], 0
    stream = sys.stdin.buffer
    while True:
        chunk = stream.read(65536)
        if not chunk:
            break
        size += len(chunk)
        if size <= limit:
            chunks.append(chunk)
    return b"".join(chunks) if size <= limit else None


def cmd_mail_receive(args) -> int:
    """One RFC 822 message on standard input, stored durably before exit 0.

    An MTA bounces the sender's mail on any status but 0 and 75, so every failure that
    a retry may cure (settings that do not reach the command, a data directory it may
    not read, the database) is 75 and only a message that can never be taken is 65."""
    try:
        return _mail_receive(args)
    except Exception as exc:  # noqa: BLE001 - never a traceback and exit 1 (a bounce)
        print(f"slpdesk: error: the message cannot be stored now ({type(exc).__name__}: "
              f"{exc}); try again later".replace("\n", " "), file=sys.stderr)
        return EX_TEMPFAIL


def _mail_receive(args) -> int:
    import os

    from .config import data_dir

    if not (os.environ.get("SLPDESK_DATABASE_URL", "").strip() or data_dir().is_dir()):
        # Never a new, empty desk in the MTA user's home: the settings did not arrive.
        print(f"slpdesk: error: the data directory {data_dir()} does not exist: give this "
              "command the desk's settings (SLPDESK_DATA_DIR or SLPDESK_DATABASE_URL; see "
              "docs/deploy.md); try again later", file=sys.stderr)
        return EX_TEMPFAIL
    try:
        _django_ready()
    except UsageError as exc:  # a configuration problem: let the MTA retry meanwhile
        print(f"slpdesk: error: {exc}", file=sys.stderr)
        return EX_TEMPFAIL
    from django.db import DatabaseError
    from django.utils import timezone

    from slpdesk.mail import inbound

    limit = inbound.max_message_bytes()
    data = _read_stdin_bytes(limit)
    if data is None:
        print(f"slpdesk: error: the message is larger than {limit} bytes", file=sys.stderr)
        return EX_DATAERR
    if not data.strip():
        print("slpdesk: error: no message on standard input", file=sys.stderr)
        return EX_DATAERR
    recipients = [r for group in args.recipient for r in group]
    try:
        row, created = inbound.store(data, now=timezone.now(), envelope_to=recipients)
    except DatabaseError as exc:
        print(f"slpdesk: error: the message cannot be stored now ({exc}); try again later"
              .replace("\n", " "), file=sys.stderr)
        return EX_TEMPFAIL
    print(f"slpdesk: stored as {row.pk}" if created else f"slpdesk: already stored as {row.pk}")
    if created and not args.no_process:
        try:  # stored already: anything going wrong here is left to the worker
            inbound.handle_one_inbound(timezone.now(), pk=row.pk)
        except Exception as exc:  # noqa: BLE001
            print(f"slpdesk: the worker will process it ({type(exc).__name__})",
                  file=sys.stderr)
    return 0


def cmd_mail_serve(args) -> int:
    _django_ready(database="exists")
    from slpdesk.mail import smtpserver

    try:
        smtpserver.serve(args.host, args.port, lmtp=args.lmtp, max_bytes=args.max_bytes)
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc}") from None
    return 0


# ------------------------------------------------------------ policy versions
def cmd_policy_validate(args) -> dict:
    policy = load_policy(args.file)
    return {
        "valid": True,
        "policy": policy.id,
        "version": policy.version,
        "vendor": policy.vendor,
        "notice_days": policy.notice_days,
        "supported_releases": policy.supported_releases,
        "priorities": {code: {"response": str(p.response), "resolution": str(p.resolution),
                              "update_interval": str(p.update_interval)}
                       for code, p in policy.priorities.items()},
        "calendars": list(policy.calendars),
        "escalation_levels": len(policy.escalation_levels),
    }


def cmd_policy_diff(args) -> int:
    new = load_policy(args.file)
    _django_ready(database="ready" if args.against == "current" else None)
    from slpdesk.desk.publishing import describe_changes

    if args.against == "current":
        from django.utils import timezone

        from slpdesk.desk.models import PolicyVersion

        version = PolicyVersion.objects.in_force(timezone.now())
        old, label = version.load(), f"{version.policy_id} {version.version} (in force)"
    else:
        old = load_policy(args.against)
        label = f"{old.id} {old.version} ({args.against})"
    changes = describe_changes(old, new, args.lang)
    print(f"{label} -> {new.id} {new.version} ({args.file})")
    for line in changes or ["No differences."]:
        print(f"- {line}")
    return 0


def cmd_policy_publish(args) -> dict:
    from datetime import date

    try:
        effective = date.fromisoformat(args.effective)
    except ValueError:
        raise UsageError(f"--effective: {args.effective!r} is not a date (2026-09-01)") from None
    try:
        with open(args.file, encoding="utf-8") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{args.file}: cannot read: {exc}") from None
    _django_ready(database="ready")
    from django.utils import timezone

    from slpdesk.desk.models import User
    from slpdesk.desk.publishing import effective_from, publish_policy
    from slpdesk.desk.services import DeskError

    now = parse_instant(args.now, UTC, "--now") if args.now else timezone.now()
    actor = None
    if args.by:
        actor = User.objects.filter(username=args.by).first()
        if actor is None:
            raise UsageError(f"--by: no user {args.by!r}")
    try:
        version = publish_policy(text, effective_at=effective_from(effective), actor=actor,
                                 now=now)
    except DeskError as err:
        raise UsageError(str(err)) from None
    return {
        "published": f"{version.policy_id} {version.version}",
        "published_at": version.published_at.isoformat(),
        "effective_at": version.effective_at.isoformat(),
        "changes": [c.get("en", "") if isinstance(c, dict) else c for c in version.changes],
    }


# -------------------------------------------------------------------- import
def cmd_import(args) -> int:
    """``slpdesk import FILE``: every line checked first; any bad one is reported as
    ``line N: reason`` on stderr and nothing is written (exit 2). Else the cases are
    written in one transaction; the last line is ``imported N cases, skipped M``."""
    import tempfile
    from pathlib import Path

    from .imports import cases

    with tempfile.NamedTemporaryFile(prefix="slpdesk-import-", suffix=".jsonl") as spool:
        if args.file == "-":  # read twice (check, then write): kept in a temporary file
            while chunk := sys.stdin.buffer.read(1 << 20):
                spool.write(chunk)
            spool.flush()
            path = Path(spool.name)
        else:
            path = Path(args.file)
            try:
                with open(path, "rb"):
                    pass
            except OSError as exc:
                raise UsageError(f"{args.file}: cannot read: {exc.strerror or exc}") from None
        _django_ready(database="ready")
        from django.utils import timezone

        from .reports.commands import progress_bar

        with progress_bar(args.progress, desc="importing") as (total, update):
            result = cases.import_file(path, cases.default_base(args.file), timezone.now(),
                                       dry_run=args.dry_run, progress=update, total=total)
    if result.problems:
        for number, reason in result.problems:
            print(f"line {number}: {reason}".replace("\n", " "), file=sys.stderr)
        raise UsageError(f"{len(result.problems)} bad line(s) in {args.file}; nothing "
                         "imported")
    if args.dry_run:
        print(f"dry run: {result.to_import} cases would be imported; nothing written")
    print(f"imported {result.imported} cases, skipped {result.skipped}")
    return 0


def cmd_import_from(args) -> int:
    """``slpdesk import-from SOURCE ...``: JSON Lines for ``slpdesk import`` on stdout."""
    from .imports import convert

    try:
        return convert.run(args, sys.stdout)
    except convert.ConvertError as exc:
        raise UsageError(str(exc)) from None


# ------------------------------------------------------------------- reports
def _app_command(app: str, name: str, args):
    """``slpdesk.<app>.commands.<name>(args)`` on a migrated database; its
    ``CommandError`` becomes one line on stderr (exit 2)."""
    _django_ready(database="ready")
    from importlib import import_module

    commands = import_module(f"slpdesk.{app}.commands")
    try:
        return getattr(commands, name)(args)
    except commands.CommandError as exc:
        raise UsageError(str(exc)) from None


def cmd_report(args) -> int:
    return _app_command("reports", "run_report", args)


def cmd_policy_simulate(args) -> int:
    return _app_command("reports", "run_simulate", args)


def _add_period_arguments(parser) -> None:
    parser.add_argument("--from", dest="first", required=True,
                        help="first day (2026-07-01), by when cases were received")
    parser.add_argument("--to", dest="last", required=True, help="last day, included")
    parser.add_argument("--tz", default="UTC",
                        help="IANA zone the days and months are taken in (default: UTC)")
    parser.add_argument("--format", choices=["text", "json"], default="text",
                        help="text (default) or json")
    parser.add_argument("--progress", action="store_true",
                        help="show a progress bar on standard error even when it is not "
                        "a terminal")


# ------------------------------------------------------------- personal data
def cmd_privacy_export(args) -> dict:
    return _app_command("privacy", "run_export", args)


def cmd_privacy_erase(args) -> dict:
    return _app_command("privacy", "run_erase", args)


def cmd_privacy_retention(args) -> dict:
    return _app_command("privacy", "run_retention", args)


def _add_person_arguments(parser) -> None:
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", help="the account's user name")
    who.add_argument("--email", help="the account's e-mail address")


# ------------------------------------------------------------------- statements
def _month(text: str) -> str:
    """YYYY-MM, checked before anything else is set up."""
    m = re.fullmatch(r"(\d{4})-(\d{2})", text.strip())
    if not m or not 1 <= int(m.group(2)) <= 12 or int(m.group(1)) < 1970:
        raise argparse.ArgumentTypeError(f"{text!r} is not a month (YYYY-MM, e.g. 2026-11)")
    return m.group(0)


def cmd_statements_send(args) -> int:
    """Mail the month's SLA statements not sent yet (or say what would be sent)."""
    _django_ready(database="ready")
    from django.utils import timezone

    from .reports import statements

    try:
        outcomes = statements.send_month(args.month, timezone.now(),
                                         organisation=args.organisation,
                                         dry_run=args.dry_run)
    except statements.StatementError as exc:
        raise UsageError(str(exc)) from None
    for o in outcomes:
        mark = "sent" if o.sent else ("would send" if args.dry_run and
                                      o.reason.startswith("would") else "skipped")
        print(f"{mark}: {o.organisation.name} (id {o.organisation.pk}) {o.month}: {o.reason}")
    if not outcomes:
        print(f"no organisation gets a statement for {args.month}")
    return 0


def cmd_worker(args) -> int:
    _django_ready(database="exists")
    from slpdesk.worker.loop import Worker
    from slpdesk.worker.steps import Context

    ctx = Context(name=args.name[:100]) if args.name else Context()
    worker = Worker(poll=args.poll, ctx=ctx)
    worker.install_signal_handlers()
    return worker.run(once=args.once)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0.01 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"{value:g} is out of range (0.01-3600 seconds)")
    return value


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (0-65535)")
    return port


def _count(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= number <= 256:
        raise argparse.ArgumentTypeError(f"{number} is out of range (1-256)")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="slpdesk", description="A support desk that runs a service level "
                     "policy.")
    parser.add_argument("--version", action="version", version=f"slpdesk {version()}")
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

    aud = sla_sub.add_parser("audit", help="compare every case's stored SLA columns with a "
                             "replay of its events (exit 1 when any differ)")
    aud.add_argument("--case", default=None, metavar="NUMBER", help="only this case "
                     "(SLP-000123)")
    aud.add_argument("--fix", action="store_true", help="recompute the cases that differ "
                     "(exit 0)")
    aud.add_argument("--progress", action="store_true", help="a progress bar on standard "
                     "error")
    aud.set_defaults(func=cmd_sla_audit)

    # Parsed by main() itself, so that every option goes to Django untouched.
    sub.add_parser("manage", add_help=False,
                   help="Django's management commands, like manage.py (slpdesk manage help)")

    srv = sub.add_parser("serve", help="migrate the database, then serve the web application")
    srv.add_argument("--host", default="127.0.0.1", help="address to listen on "
                     "(default: 127.0.0.1; other names need SLPDESK_ALLOWED_HOSTS)")
    srv.add_argument("--port", type=_port, default=8000, help="port (default: 8000)")
    srv.add_argument("--workers", type=_count, default=2,
                     help="processes (default: 2, one per core)")
    srv.add_argument("--threads", type=_count, default=8,
                     help="threads per process, requests served at once by each (default: 8)")
    srv.add_argument("--no-migrate", action="store_true",
                     help="do not migrate first (also SLPDESK_MIGRATE_ON_START=0); run "
                     "'slpdesk migrate' before starting many processes at once")
    srv.set_defaults(func=cmd_serve)

    mig = sub.add_parser("migrate", help="bring the database schema up to date, then exit")
    mig.set_defaults(func=cmd_migrate)

    bak = sub.add_parser("backup", help="write one archive: a consistent copy of the "
                         "database, the uploaded files and the secret key")
    bak.add_argument("file", help="the archive to write (.tar.gz); it must not exist")
    bak.set_defaults(func=cmd_backup)
    rst = sub.add_parser("restore", help="restore an archive of 'slpdesk backup' into an "
                         "empty data directory (SLPDESK_DATA_DIR)")
    rst.add_argument("file", help="the archive written by 'slpdesk backup'")
    rst.set_defaults(func=cmd_restore)

    demo = sub.add_parser("demo", help="migrate, load the demo data set (once), print its "
                          "log-ins, and serve on 127.0.0.1")
    demo.add_argument("--port", type=_port, default=8000, help="port (default: 8000)")
    demo.add_argument("--no-serve", action="store_true",
                      help="load the demo data and print the log-ins, then exit")
    demo.add_argument("--no-worker", action="store_true",
                      help="serve without the background worker (no mail, no SLA warnings)")
    demo.set_defaults(func=cmd_demo)

    wrk = sub.add_parser("worker", help="the background loop: send e-mail, warn of SLA "
                         "moments, recompute after calendar changes (SIGTERM: finish the "
                         "step, exit 0)")
    wrk.add_argument("--poll", type=_seconds, default=2.0,
                     help="seconds to sleep when there is nothing to do (default: 2)")
    wrk.add_argument("--once", action="store_true",
                     help="work until there is nothing left to do, then exit (cron, tests)")
    wrk.add_argument("--name", default=None,
                     help="this worker's name in claims and heartbeats (default: host:pid)")
    wrk.set_defaults(func=cmd_worker)

    # Policy versions (V1-V2): validate, diff, publish (worker issue), simulate (reports).
    pol = sub.add_parser("policy", help="check, compare, publish and simulate policy versions")
    pol_sub = pol.add_subparsers(dest="policy_command", required=True, parser_class=_Parser)
    val = pol_sub.add_parser("validate", help="check a policy file; a summary, or the errors")
    val.add_argument("file", help="a policy TOML file")
    val.set_defaults(func=cmd_policy_validate)
    dif = pol_sub.add_parser("diff", help="what a policy file changes, in words")
    dif.add_argument("file", help="the new policy TOML file")
    dif.add_argument("--against", default="current",
                     help="the policy file to compare with, or 'current' (the version in "
                     "force; the default)")
    dif.add_argument("--lang", default="en", choices=["en", "sv"], help="language (en)")
    dif.set_defaults(func=cmd_policy_diff)
    pub = pol_sub.add_parser("publish", help="publish a new version (with at least the "
                             "policy's notice) and send the written notice")
    pub.add_argument("file", help="the new policy TOML file")
    pub.add_argument("--effective", required=True, help="the date it takes effect (UTC)")
    pub.add_argument("--now", default=None, help="publication time, ISO 8601 (default: now)")
    pub.add_argument("--by", default=None, help="user name of the publisher (recorded)")
    pub.set_defaults(func=cmd_policy_publish)
    sim = pol_sub.add_parser("simulate", help="replay the cases of a period under a draft "
                             "policy: today and the draft side by side, and the cases that "
                             "would change")
    sim.add_argument("file", help="the draft policy TOML file")
    _add_period_arguments(sim)
    sim.set_defaults(func=cmd_policy_simulate)

    stm = sub.add_parser("statements", help="monthly SLA statements for customers")
    stm_sub = stm.add_subparsers(dest="statements_command", required=True,
                                 parser_class=_Parser)
    sst = stm_sub.add_parser("send", help="mail a month's statements not sent yet (each "
                             "organisation once)")
    sst.add_argument("--month", type=_month, required=True, help="the month, e.g. 2026-11")
    sst.add_argument("--organisation", type=int, default=None,
                     help="only this organisation (its id)")
    sst.add_argument("--dry-run", action="store_true",
                     help="print what would be sent; send and store nothing")
    sst.set_defaults(func=cmd_statements_send)
    imp = sub.add_parser("import", help="import cases with their history from JSON Lines "
                         "(docs/import.schema.json); all or nothing")
    imp.add_argument("file", help="JSON Lines file, or - for standard input")
    imp.add_argument("--dry-run", action="store_true",
                     help="check every line and say what would be imported; write nothing")
    imp.add_argument("--progress", action="store_true", help="a progress bar on standard "
                     "error")
    imp.set_defaults(func=cmd_import)
    imf = sub.add_parser("import-from", help="convert another desk's cases to the JSON Lines "
                         "of 'slpdesk import' (on standard output)")
    imf_sub = imf.add_subparsers(dest="source", required=True, parser_class=_Parser)
    dh = imf_sub.add_parser("django-helpdesk", help="read a django-helpdesk database")
    dh.add_argument("url", help="sqlite:///PATH or postgres://USER@HOST:PORT/NAME")
    zd = imf_sub.add_parser("zendesk", help="read Zendesk's ticket (and audit) export JSON")
    zd.add_argument("file", help="the tickets: JSON of Zendesk's ticket export "
                    "({\"tickets\": [...]}, one page or a list of pages)")
    zd.add_argument("--audits", action="append", default=[], metavar="FILE",
                    help="JSON of Zendesk's ticket audits ({\"audits\": [...]}); repeatable")
    zd.add_argument("--users", default=None, metavar="FILE",
                    help="JSON of Zendesk's users ({\"users\": [...]}): their e-mail addresses "
                    "and roles")
    zd.add_argument("--organizations", default=None, metavar="FILE",
                    help="JSON of Zendesk's organizations ({\"organizations\": [...]}): their "
                    "names")
    for conv in (dh, zd):
        conv.add_argument("--site", default="Main", help="the site name of every case "
                          "(default: Main)")
        conv.add_argument("--country", default=None, help="with --time-zone: create missing "
                          "organisations, sites and contacts in this country (ISO 3166)")
        conv.add_argument("--time-zone", default=None, help="the IANA zone of created sites")
        conv.add_argument("--organisation", default=None,
                          help="the organisation of cases that name none")
    imf.set_defaults(func=cmd_import_from)

    rpt = sub.add_parser("report", help="the SLA compliance report of a period (text or JSON)")
    _add_period_arguments(rpt)
    rpt.set_defaults(func=cmd_report)

    # E-mail in: an MTA pipe, or a listener an MTA forwards to.
    mail = sub.add_parser("mail", help="receive e-mail (MTA pipe or SMTP/LMTP listener)")
    mail_sub = mail.add_subparsers(dest="mail_command", required=True, parser_class=_Parser)
    rcv = mail_sub.add_parser("receive", help="store one RFC 822 message from standard input "
                              "(exit 0 stored, 75 try again later, 65 refused)")
    rcv.add_argument("--recipient", action="append", nargs="+", default=[],
                     help="the envelope recipients (one or more, repeatable), e.g. "
                     "Postfix's ${recipient}, which becomes one argument per recipient")
    rcv.add_argument("--no-process", action="store_true",
                     help="only store it; the worker processes it")
    rcv.set_defaults(func=cmd_mail_receive)
    msrv = mail_sub.add_parser("serve", help="an SMTP (or LMTP) listener for an MTA")
    msrv.add_argument("--host", default="127.0.0.1", help="address (default: 127.0.0.1)")
    msrv.add_argument("--port", type=_port, default=8025, help="port (default: 8025)")
    msrv.add_argument("--lmtp", action="store_true", help="speak LMTP instead of SMTP")
    msrv.add_argument("--max-bytes", type=int, default=None,
                      help="largest message accepted (default: twice the attachment limit "
                      "plus 1 MiB); larger ones get 552")
    msrv.set_defaults(func=cmd_mail_serve)
    # A person's data (issue 16): export, erasure, retention.
    prv = sub.add_parser("privacy", help="a person's data: export, erase; retention")
    prv_sub = prv.add_subparsers(dest="privacy_command", required=True)
    pexp = prv_sub.add_parser("export", help="everything held about a person, as a ZIP "
                              "(personal-data.json and their files)")
    _add_person_arguments(pexp)
    pexp.add_argument("--output", help="the ZIP file to write (default: "
                      "personal-data-ID-DATE.zip here)")
    pexp.add_argument("--force", action="store_true", help="overwrite --output")
    pexp.add_argument("--include-internal", action="store_true",
                      help="also the internal notes and files of their cases (review them "
                      "before handing anything over)")
    pexp.set_defaults(func=cmd_privacy_export)
    pera = prv_sub.add_parser("erase", help="erase a person's personal data; the SLA "
                              "record stays")
    _add_person_arguments(pera)
    pera.add_argument("--reason", default="", help="why (recorded with the erasure)")
    pera.add_argument("--by", help="the administrator who asked for it (user name)")
    bodies = pera.add_mutually_exclusive_group()
    bodies.add_argument("--redact-bodies", action="store_true",
                        help="the texts they wrote are removed whole (the default)")
    bodies.add_argument("--keep-bodies", action="store_true",
                        help="keep the texts needed for the case; only their name, "
                        "address and phone are removed from them")
    pera.set_defaults(func=cmd_privacy_erase)
    pret = prv_sub.add_parser("retention", help="anonymise the cases resolved or closed "
                              "more than SLPDESK_RETENTION_YEARS ago")
    pret.add_argument("--dry-run", action="store_true", help="only list them")
    pret.add_argument("--now", help="as at this ISO 8601 time instead of now (UTC without "
                      "an offset): what goes by then")
    pret.set_defaults(func=cmd_privacy_retention)
    return parser


def version() -> str:
    """The installed version of slpdesk."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("slpdesk")
    except PackageNotFoundError:  # run from a checkout that is not installed
        return "unknown"


def _database_failure(exc: Exception) -> int | None:
    """If ``exc`` is about the database: say so in one line on stderr and return the
    exit status (75 try again later, 78 no such database, 1 another database error,
    whose traceback goes to the log at level debug). None for anything else."""
    if "django.db" not in sys.modules:  # Django never set up: not a database problem
        return None
    from django.db import DatabaseError

    from . import dbstate

    if not isinstance(exc, DatabaseError | dbstate.Unavailable):
        return None
    found = dbstate.problem(exc)
    if found is None:
        import logging

        logging.getLogger("slpdesk").debug("database error", exc_info=exc)
        print(f"slpdesk: error: database error: {dbstate.describe(exc)}", file=sys.stderr)
        return 1
    advice = {"missing": "check SLPDESK_DATA_DIR or SLPDESK_DATABASE_URL, or create it "
                         "with 'slpdesk manage migrate'",
              "not_migrated": "run 'slpdesk manage migrate' (or wait for the upgrade "
                              "under way)",
              "unreachable": "try again later"}[found.kind]
    print(f"slpdesk: error: {found}; {advice}", file=sys.stderr)
    return found.exit_status


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv[:1] == ["manage"]:
            return cmd_manage(argv[1:])
        args = build_parser().parse_args(argv)
        result = args.func(args)
    except (UsageError, InputError, CalendarError, PolicyError, ReplayError) as exc:
        print(f"slpdesk: error: {exc}".replace("\n", " "), file=sys.stderr)
        # An MTA bounces the mail on 2; a wrong pipe command is fixed and retried.
        return EX_TEMPFAIL if argv[:2] == ["mail", "receive"] else 2
    except Exception as exc:
        status = _database_failure(exc)
        if status is None:
            raise
        return status
    if isinstance(result, int):  # serve, demo: they print their own output
        return result
    json.dump(result, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
