"""``slpdesk privacy export|erase|retention``: called by :mod:`slpdesk.cli` once
Django is set up. Bad input raises :class:`CommandError` (one line, exit 2)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from slpdesk.desk.services import DeskError

from .erasure import erase, find_person, vacuum_sqlite


class CommandError(ValueError):
    """Bad input on the command line (the CLI prints it and exits with 2)."""


def _person(args):
    try:
        return find_person(username=args.user or "", email=args.email or "")
    except DeskError as exc:
        raise CommandError(str(exc)) from None


def _actor(name: str | None):
    from slpdesk.desk.models import User

    if not name:
        return None
    actor = User.objects.filter(username=name).first()
    if actor is None:
        raise CommandError(f"--by: no user {name!r}")
    return actor


def run_export(args) -> dict:
    from .export import collect, write_zip

    user = _person(args)
    now = timezone.now()
    document, files = collect(user, now=now, self_service=False,
                              include_internal=args.include_internal)
    target = Path(args.output or f"personal-data-{user.pk}-{now:%Y%m%d}.zip")
    if target.exists() and not args.force:
        raise CommandError(f"--output: {target} exists (--force overwrites it)")
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent.resolve(), prefix=".export-",
                                   suffix=".zip")
    except OSError as exc:
        raise CommandError(f"--output: cannot write in {target.parent}: {exc}") from None
    try:
        os.fchmod(fd, 0o600)  # personal data: the owner only
        with os.fdopen(fd, "wb") as handle:
            write_zip(handle, document, files)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return {"output": str(target), "cases": len(document["cases"]),
            "messages_written": len(document["messages_written"]), "files": len(files),
            "mail_sent_to_them": len(document["mail_sent_to_you"])}


def run_erase(args) -> dict:
    user = _person(args)
    actor = _actor(args.by)
    try:
        record = erase(user, now=timezone.now(), actor=actor, by_label="command line",
                       reason=args.reason or "", redact=not args.keep_bodies)
    except DeskError as exc:
        raise CommandError(str(exc)) from None
    vacuum_sqlite()
    return {"erased": record.subject_ref, "account_id": record.subject_id,
            "mode": record.mode, "removed": record.counts}


def run_retention(args) -> dict:
    from .retention import cutoff, due, run

    years = settings.SLPDESK_RETENTION_YEARS
    if years is None:
        raise CommandError("SLPDESK_RETENTION_YEARS is not set: retention is off")
    now = timezone.now()
    if args.now:
        from datetime import UTC

        from slpdesk.sla.tools import InputError, parse_instant

        try:
            now = parse_instant(args.now, UTC, "--now")
        except InputError as exc:
            raise CommandError(str(exc)) from None
    if args.dry_run:
        cases = [{"number": number, "status": status, "last_change": at.isoformat()}
                 for number, status, at in due(now, years).values_list(
                     "number", "status", "updated_at")]
        return {"dry_run": True, "cutoff": cutoff(now, years).isoformat(),
                "would_anonymise": len(cases), "cases": cases}
    return {"dry_run": False, "cutoff": cutoff(now, years).isoformat(),
            "anonymised": run(now, years)}
