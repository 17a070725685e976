"""Retention: the personal data of cases resolved or closed longer ago than
``SLPDESK_RETENTION_YEARS`` is removed, their SLA record kept.

A case is due when it is resolved or closed and its last change
(``updated_at``: a resolved case that is reopened changes) lies before the cut-off,
``now`` minus that many calendar years, and it was not anonymised yet. Anonymising
it (:func:`anonymise`) redacts every text of the case (description, system
details, resolution summary, messages, event details, escalation reasons) to
:data:`~slpdesk.privacy.erasure.MARKER`, removes its contact's identifiers from
its title, deletes its files, removes the address and text of its mail and the
raw mail received for it, and marks it ``anonymised_at``. Times, types,
priorities, actors (opaque ids), SLA columns and facts stay: the reports and
``slpdesk sla audit`` are unchanged. Accounts are not touched (a person may have
newer cases); an account is erased on request (:func:`~.erasure.erase`).

The worker runs it at most once a day (:func:`handle_one_retention`: the day's
:class:`~slpdesk.privacy.models.RetentionRun` row is the claim);
``slpdesk privacy retention --dry-run`` shows what would go.
"""

from __future__ import annotations

from datetime import date, datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q

from slpdesk.desk.models import (
    Attachment,
    Case,
    Escalation,
    InboundMessage,
    Message,
    Outbox,
    User,
)

from .erasure import (
    MARKER,
    Identifiers,
    Scrubber,
    compact_sqlite,
    scrub,
    scrub_webhook_payloads,
    secure_sqlite,
)
from .models import RetentionRun

#: Cases anonymised per transaction.
BATCH = 100


def cutoff(now: datetime, years: int) -> datetime:
    """``now`` minus ``years`` calendar years (29 February becomes the 28th)."""
    try:
        return now.replace(year=now.year - years)
    except ValueError:
        return now.replace(year=now.year - years, day=28)


def due(now: datetime, years: int):
    """The cases retention would anonymise at ``now``, oldest change first."""
    return (Case.objects.filter(status__in=[Case.Status.RESOLVED, Case.Status.CLOSED],
                                updated_at__lt=cutoff(now, years), anonymised_at__isnull=True)
            .order_by("updated_at", "pk"))


def _redact(text: str) -> str:
    return MARKER if text else text


def anonymise(case_ids: list[int], now: datetime) -> int:
    """Remove the personal data of the cases ``case_ids`` (one transaction); returns
    how many were anonymised (a case reopened meanwhile is left alone)."""
    with transaction.atomic():
        cases = list(Case.objects.select_for_update().filter(
            pk__in=case_ids, status__in=[Case.Status.RESOLVED, Case.Status.CLOSED],
            anonymised_at__isnull=True).values_list("pk", "contact_id"))
        if not cases:
            return 0
        ids = [pk for pk, _contact in cases]
        contacts = {u.pk: Identifiers(u).own for u in User.objects.filter(
            pk__in={c for _pk, c in cases})}
        contact_of = dict(cases)
        work = Scrubber(now)
        work.messages(Message.objects.filter(case_id__in=ids),
                      lambda _case, _author, body: _redact(body))
        work.case_texts(Case.objects.filter(pk__in=ids), lambda row: {
            "title": scrub(row["title"], contacts.get(contact_of[row["pk"]])),
            "description": _redact(row["description"]),
            "system_details": _redact(row["system_details"]),
            "resolution_summary": _redact(row["resolution_summary"])})
        work.events(ids, lambda _case, _actor, _data, _key, text: MARKER)
        work.escalations(Escalation.objects.filter(case_id__in=ids),
                         lambda _case, _by, reason: _redact(reason))
        work.delete_files(Attachment.objects.filter(case_id__in=ids))
        work.mail_sent(Outbox.objects.filter(case_id__in=ids), to_person=True, pattern=None)
        work.mail_received(InboundMessage.objects.filter(case_id__in=ids), None)
        scrub_webhook_payloads(work, Q(case_id__in=ids),
                               lambda case_id: contacts.get(contact_of.get(case_id)))
        Case.objects.filter(pk__in=ids).update(anonymised_at=now)
        work.cases |= set(ids)
        work.finish()
    return len(ids)


def run(now: datetime, years: int) -> int:
    """Anonymise every case due at ``now``, :data:`BATCH` per transaction."""
    ids = list(due(now, years).values_list("pk", flat=True))
    done = 0
    if not ids:
        return 0
    secure_sqlite()
    for k in range(0, len(ids), BATCH):
        done += anonymise(ids[k:k + BATCH], now)
    compact_sqlite()
    return done


def handle_one_retention(now: datetime, ctx=None) -> bool:
    """The worker's step: with ``SLPDESK_RETENTION_YEARS`` set, run retention once a
    day (the first worker to create the day's run row does it)."""
    years = settings.SLPDESK_RETENTION_YEARS
    if years is None:
        return False
    day: date = now.date()
    if RetentionRun.objects.filter(day=day).exists():
        return False
    try:
        with transaction.atomic():
            row = RetentionRun.objects.create(day=day, started_at=now,
                                              cutoff=cutoff(now, years))
    except IntegrityError:  # another worker took today's run
        return False
    count = run(now, years)
    RetentionRun.objects.filter(pk=row.pk).update(cases=count, finished_at=now)
    if ctx is not None:
        ctx.say(f"retention: {count} cases anonymised (resolved or closed before "
                f"{row.cutoff:%Y-%m-%d})")
    return True
