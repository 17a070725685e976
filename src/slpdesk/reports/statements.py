"""Monthly SLA statements for customers (issue 15, item 3).

A statement shows one organisation, for one calendar month, what the vendor's
compliance report shows for it: the figures are **the report's own**,
:func:`slpdesk.reports.facts.report_from_facts` over the organisation's cases
(and :func:`~slpdesk.reports.facts.fact_rows` for the list of breached cases),
not a second computation. They are stored in a :class:`Statement` when first
generated, so the mail, a re-send and the portal always show the same thing.

Choices (documented in the README, "Statements"):

* **Who gets one**: an organisation that is a direct customer or partner (not
  an end user supported through a partner, E3), has not opted out, has a
  designated technical contact who can be mailed, and had a support agreement
  at one of its sites during the month.
* **Whose zone**: the month is taken in the technical contact's time zone (their
  own, else the organisation's *home site*'s); the statement is written in the
  contact's language.
* **Home site**: the organisation's oldest site (lowest id). Its support
  calendar (C3) and zone, with the closures in effect, decide the first business
  day of the month, when the statement is due.
* **Resolved** counts the month's cases whose status is "resolved" when the
  statement is generated.
* **How late** a breached clock was: for a clock that stopped, the business time it
  counted beyond its target; for one still running past its due time, the business
  time from the due time to the generation, on the case's own calendar.
"""

from __future__ import annotations

import calendar as pycal
import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.translation import gettext as _

from slpdesk.desk.models import (
    Agreement,
    CalendarClosure,
    Case,
    Organisation,
    PolicyVersion,
    Site,
    Statement,
    User,
)
from slpdesk.mail.outbound import deliverable, enqueue, first_zone, language_of
from slpdesk.sla import get_zone

from .data import Period
from .exports import neutralise
from .facts import fact_rows, report_from_facts

_MONTH_RE = re.compile(r"(\d{4})-(\d{2})")


class StatementError(ValueError):
    """Bad input (a month that is not YYYY-MM, an unknown organisation)."""


# ------------------------------------------------------------------ months
def parse_month(text: str) -> str:
    """``2026-11`` as given, checked; raises :class:`StatementError`."""
    m = _MONTH_RE.fullmatch((text or "").strip())
    if not m or not 1 <= int(m.group(2)) <= 12 or int(m.group(1)) < 1970:
        raise StatementError(_("%(value)s is not a month; write it as YYYY-MM, e.g. 2026-11.")
                             % {"value": repr(text)})
    return m.group(0)


def month_days(month: str) -> tuple[date, date]:
    y, m = map(int, month.split("-"))
    return date(y, m, 1), date(y, m, pycal.monthrange(y, m)[1])


def previous_month(day: date) -> str:
    last = day.replace(day=1) - timedelta(days=1)
    return f"{last.year:04d}-{last.month:02d}"


# ------------------------------------------------------------------ who, where
def home_site(org: Organisation) -> Site | None:
    """The organisation's oldest site: its calendar decides when statements are due."""
    return org.sites.order_by("pk").first()


def zone_for(org: Organisation, contact: User | None) -> str:
    """The contact's own zone, else the home site's, else UTC."""
    site = home_site(org)
    return first_zone(contact.time_zone if contact else "", site.time_zone if site else "")


def covered(month: str) -> QuerySet[Organisation]:
    """Organisations that get a statement for ``month`` (see the module's docstring)."""
    first, last = month_days(month)
    agreement = Agreement.objects.filter(site__organisation=OuterRef("pk"), starts__lte=last,
                                         ends__gte=first)
    return (Organisation.objects.filter(Exists(agreement), statements_opt_out=False,
                                        supported_by__isnull=True,
                                        technical_contact__isnull=False)
            .select_related("technical_contact").order_by("pk"))


def first_business_day(org: Organisation, month: str, now: datetime) -> date | None:
    """The first day of ``month`` its home site's support calendar is open (C3, with
    the closures in effect), in the site's zone; None without a site."""
    site = home_site(org)
    if site is None:
        return None
    policy = PolicyVersion.objects.in_force(now).load()
    name = site.calendar_name(policy)
    cal = CalendarClosure.compiled(policy, name, site.time_zone)
    tz = get_zone(cal.zone_name)
    start = datetime.combine(month_days(month)[0], time(0), tzinfo=tz)
    return cal.next_open(start).astimezone(tz).date()


# ------------------------------------------------------------------ figures
def _late(row, clock: str, calendars: dict, now: datetime) -> int:
    c = row.clock(clock)
    if c.measured and c.target is not None:
        return max(0, c.seconds - c.target)
    cal = calendars.get(row.id)
    if cal is None or c.due is None:
        return 0
    return cal.between(c.due, min(c.stopped or now, now)) if c.due < now else 0


def compute_figures(org: Organisation, month: str, zone: str, now: datetime) -> dict:
    """The statement's figures: the compliance report's over the organisation's cases
    received in ``month`` (in ``zone``), at ``now``."""
    first, last = month_days(month)
    period = Period(first, last, get_zone(zone), zone)
    cases = Case.objects.filter(organisation=org)
    report = report_from_facts(cases, period, now)
    rows = fact_rows(cases, period, now)
    breached = [r for r in rows if not r.error and "breached" in
                (r.response.outcome, r.resolution.outcome)]
    calendars = {c.pk: c.business_calendar() for c in Case.objects.filter(
        pk__in=[r.id for r in breached]).select_related("policy_version")}
    resolved: dict[str, int] = {}
    for r in rows:
        if not r.error and r.status == Case.Status.RESOLVED:
            resolved[r.priority] = resolved.get(r.priority, 0) + 1
    breaches = []
    for r in breached:
        for clock in ("response", "resolution"):
            c = r.clock(clock)
            if c.outcome == "breached":
                breaches.append({"case": r.number, "priority": r.priority, "clock": clock,
                                 "target_seconds": c.target,
                                 "late_seconds": _late(r, clock, calendars, now)})
    d = report.as_dict()
    priorities = []
    for bucket in d["by"]["priority"]:
        bucket.pop("label", None)
        priorities.append({**bucket, "resolved": resolved.get(bucket["key"], 0)})
    return {
        "organisation": org.name,
        "month": month,
        "time_zone": zone,
        "period": d["period"],
        "cases": d["cases"],
        "resolved": sum(resolved.values()),
        "totals": {k: d["totals"][k] for k in ("cases", "response", "resolution")},
        "priorities": priorities,
        "status_updates": d["status_updates"],
        "escalations": d["escalations"],
        "breaches": breaches,
        "not_computed": [n for n, _ in report.errors],
    }


# ------------------------------------------------------------------ storing, sending
def stored_or_new(org: Organisation, month: str, now: datetime, *, save: bool = True
                  ) -> Statement:
    """The stored statement of ``org`` for ``month``; else one generated at ``now``
    (saved unless ``save`` is False: a preview). Two processes generating the same
    one at once store one: the other's is dropped and the stored one returned."""
    found = Statement.objects.filter(organisation=org, month=month).first()
    if found is not None:
        return found
    contact = org.technical_contact
    zone = zone_for(org, contact)
    statement = Statement(organisation=org, month=month, generated_at=now,
                          language=language_of(contact) if contact else "en",
                          time_zone=zone, figures=compute_figures(org, month, zone, now))
    if save:
        try:
            with transaction.atomic():
                statement.save()
        except IntegrityError:  # stored by another process meanwhile (unique month)
            return Statement.objects.get(organisation=org, month=month)
    return statement


@dataclass(frozen=True)
class Outcome:
    organisation: Organisation
    month: str
    sent: bool
    reason: str  # why not, or to whom

    def as_dict(self) -> dict:
        return {"organisation": self.organisation.pk, "name": self.organisation.name,
                "month": self.month, "sent": self.sent, "detail": self.reason}


def send(org: Organisation, month: str, now: datetime, *, again: bool = False,
         dry_run: bool = False) -> Outcome:
    """Mail ``org``'s statement for ``month`` to its technical contact, once: a
    statement already sent goes again only with ``again`` (a re-send, the same stored
    figures). ``dry_run`` says what would happen and changes nothing."""
    contact = org.technical_contact
    if not deliverable(contact):
        return Outcome(org, month, False, "no technical contact who can be mailed")
    if dry_run:
        existing = Statement.objects.filter(organisation=org, month=month).first()
        if existing is not None and existing.sent_at is not None and not again:
            return Outcome(org, month, False, "sent before")
        return Outcome(org, month, False, f"would send to {contact.email}")
    with transaction.atomic():
        # Locked, so two workers or a worker and a re-send never mail it twice.
        statement = Statement.objects.select_for_update().get(
            pk=stored_or_new(org, month, now).pk)
        if statement.sent_at is not None and not again:
            return Outcome(org, month, False, "sent before")
        row = enqueue("statement", to=contact, now=now, context={
            "statement": statement, "figures": statement.figures,
            "month_start": month_days(month)[0]},
            key=f"{org.pk}-{month}-{statement.sends}")
        if row is None:
            return Outcome(org, month, False, "written to the outbox before")
        Statement.objects.filter(pk=statement.pk).update(sent_at=now,
                                                         sends=statement.sends + 1)
    return Outcome(org, month, True, f"sent to {contact.email}")


def send_month(month: str, now: datetime, *, organisation: int | None = None,
               dry_run: bool = False) -> list[Outcome]:
    """``slpdesk statements send``: every covered organisation's statement for
    ``month`` not sent yet (or only ``organisation``'s, which must exist)."""
    month = parse_month(month)
    orgs = covered(month)
    if organisation is not None:
        if not Organisation.objects.filter(pk=organisation).exists():
            raise StatementError(_("There is no organisation %(id)s.") % {"id": organisation})
        orgs = orgs.filter(pk=organisation)
    return [send(org, month, now, dry_run=dry_run) for org in orgs]


def send_due(now: datetime) -> list[Outcome]:
    """The worker's daily check: for each covered organisation, last month's statement
    once its home site's first business day of this month has begun."""
    out = []
    months: dict[str, QuerySet] = {}
    for org in Organisation.objects.filter(statements_opt_out=False).order_by("pk"):
        site = home_site(org)
        if site is None:
            continue
        today = now.astimezone(get_zone(site.time_zone)).date()
        month = previous_month(today)
        if month not in months:
            months[month] = covered(month).filter(
                ~Q(statements__month=month, statements__sent_at__isnull=False))
        if not months[month].filter(pk=org.pk).exists():
            continue
        this_month = f"{today.year:04d}-{today.month:02d}"
        due = first_business_day(org, this_month, now)
        if due is not None and today >= due:
            out.append(send(org, month, now))
    return out


# ------------------------------------------------------------------ CSV
class _Neutral:
    """A CSV writer whose text cells cannot start a formula (:func:`exports.neutralise`)."""

    def __init__(self, writer) -> None:
        self.writer = writer

    def writerow(self, row) -> None:
        self.writer.writerow([neutralise(v) for v in row])


def as_csv(statement: Statement) -> bytes:
    """The statement as CSV (UTF-8 with BOM, for spreadsheets): one section per table."""
    f = statement.figures
    buf = io.StringIO()
    w = _Neutral(csv.writer(buf))
    w.writerow([_("Organisation"), f["organisation"]])
    w.writerow([_("Month"), f["month"]])
    w.writerow([_("Time zone"), f["time_zone"]])
    w.writerow([])
    outcomes = ("met", "breached", "not_applicable", "open")
    w.writerow([_("Priority"), _("Cases opened"), _("Resolved")]
               + [f"{_('First response')}: {o}" for o in outcomes]
               + [f"{_('Resolution')}: {o}" for o in outcomes])
    for p in [*f["priorities"], {**f["totals"], "key": _("All"), "resolved": f["resolved"]}]:
        w.writerow([p["key"], p["cases"], p["resolved"]]
                   + [p["response"][o] for o in outcomes]
                   + [p["resolution"][o] for o in outcomes])
    w.writerow([])
    w.writerow([_("Priority"), _("Status updates owed"), _("On time"), _("Missed")])
    for u in f["status_updates"]:
        w.writerow([u["key"] or _("All"), u["owed"], u["on_time"], u["missed"]])
    w.writerow([])
    w.writerow([_("Escalation level"), _("Escalations"), _("Acknowledged"), _("Cases")])
    for e in f["escalations"]:
        w.writerow([e["level"], e["escalations"], e["acknowledged"], e["cases"]])
    w.writerow([])
    w.writerow([_("Case"), _("Priority"), _("Clock"), _("Target (business seconds)"),
                _("Late by (business seconds)")])
    for b in f["breaches"]:
        w.writerow([b["case"], b["priority"], b["clock"], b["target_seconds"],
                    b["late_seconds"]])
    return ("\ufeff" + buf.getvalue()).encode()
