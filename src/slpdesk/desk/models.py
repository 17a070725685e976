"""The desk's domain: who is covered, what they run, and their cases.

Models hold data and the rules that read it (verb-named methods). Every
change of a case's state goes through :mod:`slpdesk.desk.services`, which
appends a :class:`CaseEvent` and recomputes the SLA columns.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, date, datetime
from functools import lru_cache

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import connections, models, router
from django.db.models import Q
from django.db.models.functions import Coalesce, NullIf
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from slpdesk.sla import (
    BusinessCalendar,
    CalendarError,
    Policy,
    PolicyError,
    compile_calendar,
    get_zone,
    policy_from_text,
    shipped_policy_text,
)


def read_rows(model: type[models.Model], sql: str, params: list) -> list[tuple]:
    """The rows of ``sql`` on ``model``'s database, for the few reads on every case's
    path that are written out in SQL because compiling the ORM's query cost more than
    running it. ``{table}`` in ``sql`` is ``model``'s table and ``{columns}`` its
    columns, in the order of its fields (for :meth:`~django.db.models.Model.from_db`);
    date-times in ``params`` go in as the backend stores them. Values come back as
    the ORM reads them (SQLite: :mod:`slpdesk.sqlite_times`, Django's converters)."""
    connection = connections[router.db_for_read(model)]
    qn = connection.ops.quote_name
    columns = ("{columns}" in sql
               and ", ".join(qn(f.column) for f in model._meta.concrete_fields))
    sql = sql.format(table=qn(model._meta.db_table), columns=columns)
    params = [connection.ops.adapt_datetimefield_value(p) if isinstance(p, datetime) else p
              for p in params]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


# ------------------------------------------------------------------ validators
def validate_time_zone(value: str) -> None:
    """An IANA time-zone name that zoneinfo knows (``Europe/Stockholm``)."""
    try:
        get_zone(value)
    except CalendarError:
        raise ValidationError(
            _("%(value)s is not a known time zone (use an IANA name like Europe/Stockholm)."),
            code="time_zone", params={"value": value},
        ) from None


validate_country = RegexValidator(
    r"^[A-Z]{2}\Z", _("Use the two-letter ISO 3166 country code, in capitals (SE, GB, US)."),
    code="country",
)


def validate_attachment_size(file) -> None:
    limit = settings.SLPDESK_MAX_ATTACHMENT_BYTES
    if file.size > limit:
        raise ValidationError(
            _("The file is too large: at most %(limit)s."),
            code="too_large", params={"limit": filesizeformat(limit)},
        )


#: What replaces erased personal data in stored texts (slpdesk.privacy); pages show it
#: in the reader's language (:func:`as_shown`).
ERASED_MARKER = "[erased]"


def as_shown(text: str) -> str:
    """A stored text as pages show it: the erasure marker in the reader's language."""
    if text and ERASED_MARKER in text:
        return text.replace(ERASED_MARKER, str(_("[erased]")))
    return text


# ------------------------------------------------------------------ choices
class Priority(models.TextChoices):
    P1 = "P1", _("P1 Urgent")
    P2 = "P2", _("P2 Critical")
    P3 = "P3", _("P3 Medium")
    P4 = "P4", _("P4 Low")


class ClockStateChoice(models.TextChoices):
    """The states of one SLA clock, as ``slpdesk.sla.ClockState.state`` names them."""

    PENDING = "pending", _("Not started")
    RUNNING = "running", _("Running")
    PAUSED = "paused", _("Paused")
    AT_RISK = "at_risk", _("At risk")
    MET = "met", _("Met")
    BREACHED = "breached", _("Breached")
    NOT_APPLICABLE = "not_applicable", _("Not applicable")


# ------------------------------------------------------------- organisations
#: A host name of at least two labels, as e-mail domains are (lower case).
_DOMAIN_RE = re.compile(r"(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+"
                        r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


class Organisation(models.Model):
    """A customer or partner that gets support (spec E1)."""

    class Kind(models.TextChoices):
        CUSTOMER = "customer", _("Customer")
        CHANNEL_PARTNER = "channel_partner", _("Channel partner")
        OEM_PARTNER = "oem_partner", _("OEM partner")
        OTHER_PARTNER = "other_partner", _("Other partner")

    name = models.CharField(_("name"), max_length=200, unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices,
                            default=Kind.CUSTOMER)
    supported_by = models.ForeignKey(
        "self", models.PROTECT, null=True, blank=True, related_name="end_customers",
        verbose_name=_("supported through partner"),
        help_text=_("Set for end users who get their support through a partner (spec E3)."),
    )
    technical_contact = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("designated technical contact"),
        help_text=_("One of the organisation's people. Gets the status updates of every "
                    "case of the organisation (K5), program updates and policy notices."),
    )
    sso_domains = models.CharField(
        _("single sign-on auto-join e-mail domains"), max_length=500, blank=True,
        help_text=_("Domains such as example.com, separated by commas. Someone who signs "
                    "in with single sign-on, has no account yet and has a verified e-mail "
                    "address at one of these domains gets a contact account of this "
                    "organisation. Empty: only people who already have an account."),
    )
    statements_opt_out = models.BooleanField(
        _("no monthly SLA statements"), default=False,
        help_text=_("Set when the organisation does not want the monthly SLA statement "
                    "mailed to its designated technical contact."),
    )

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        contact = self.technical_contact
        if contact is not None and (self.pk is None or contact.organisation_id != self.pk):
            raise ValidationError({"technical_contact": _(
                "The designated technical contact must be one of the organisation's people.")})
        domains = self.sso_domain_list()
        for domain in domains:
            if not _DOMAIN_RE.fullmatch(domain):
                raise ValidationError({"sso_domains": _(
                    "%(domain)s is not an e-mail domain (e.g. example.com).")
                    % {"domain": domain}})
        self.sso_domains = ", ".join(domains)
        for other in Organisation.objects.exclude(pk=self.pk).exclude(sso_domains=""):
            shared = sorted(set(domains) & set(other.sso_domain_list()))
            if shared:
                raise ValidationError({"sso_domains": _(
                    "%(domain)s already belongs to %(organisation)s.")
                    % {"domain": shared[0], "organisation": other.name}})

    def sso_domain_list(self) -> list[str]:
        """The auto-join domains, lower case, each once, in the order given."""
        domains: list[str] = []
        for part in self.sso_domains.replace(";", ",").replace(" ", ",").split(","):
            domain = part.strip().lower().lstrip("@")
            if domain and domain not in domains:
                domains.append(domain)
        return domains

    @classmethod
    def for_sso_email(cls, email: str) -> Organisation | None:
        """The one organisation whose auto-join domains include ``email``'s domain
        (exactly: sub-domains are not included), or None."""
        domain = email.rpartition("@")[2].strip().lower()
        found = [org for org in cls.objects.exclude(sso_domains="")
                 if domain and domain in org.sso_domain_list()]
        return found[0] if len(found) == 1 else None

    def is_supported_through_partner(self) -> bool:
        """True for end users who must ask their partner, not us (E3)."""
        return self.supported_by_id is not None


class Site(models.Model):
    """A place where an organisation uses its licences; its zone drives the calendar."""

    organisation = models.ForeignKey(Organisation, models.CASCADE, related_name="sites",
                                     verbose_name=_("organisation"))
    name = models.CharField(_("name"), max_length=200)
    country = models.CharField(_("country"), max_length=2, validators=[validate_country],
                               help_text=_("Two-letter ISO 3166 code, e.g. SE, GB, US."))
    time_zone = models.CharField(_("time zone"), max_length=64,
                                 validators=[validate_time_zone],
                                 help_text=_("IANA name, e.g. Europe/Stockholm."))

    class Meta:
        verbose_name = _("site")
        verbose_name_plural = _("sites")
        ordering = ["organisation__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "name"], name="site_unique_name"),
        ]

    def __str__(self) -> str:
        return f"{self.organisation} – {self.name}"

    def local_date(self, at: datetime) -> date:
        """The date at the site at the instant ``at``."""
        return at.astimezone(get_zone(self.time_zone)).date()

    def has_active_agreement(self, on: date) -> bool:
        """Whether a support agreement covers ``on`` (E2)."""
        # (written out: every case opened asks, and compiling the ORM's query took
        # two thirds of the time)
        return bool(read_rows(Agreement, "SELECT 1 FROM {table} WHERE site_id = %s "
                                         "AND starts <= %s AND ends >= %s LIMIT 1",
                              [self.pk, on, on]))

    def calendar_name(self, policy: Policy) -> str:
        """The support calendar a case at this site uses (C3)."""
        return policy.calendar_for_country(self.country)


class Agreement(models.Model):
    """A support agreement covering a site from ``starts`` to ``ends``, both included."""

    site = models.ForeignKey(Site, models.CASCADE, related_name="agreements",
                             verbose_name=_("site"))
    starts = models.DateField(_("starts"))
    ends = models.DateField(_("ends"))
    reference = models.CharField(_("reference"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("support agreement")
        verbose_name_plural = _("support agreements")
        ordering = ["site", "-starts"]
        constraints = [
            models.CheckConstraint(condition=models.Q(ends__gte=models.F("starts")),
                                   name="agreement_ends_after_start"),
        ]

    def __str__(self) -> str:
        return f"{self.site}: {self.starts}–{self.ends}"

    def is_active(self, on: date) -> bool:
        return self.starts <= on <= self.ends


class ReleaseQuerySet(models.QuerySet):
    def supported(self, on: date, count: int) -> ReleaseQuerySet:
        """The ``count`` newest releases out on ``on``: the current and previous (E4)."""
        newest = Release.objects.filter(released__lte=on).order_by("-released", "-id")
        return self.filter(id__in=newest.values_list("id", flat=True)[:count])


class Release(models.Model):
    """A release of the product; only the newest ``policy.supported_releases`` are supported."""

    name = models.CharField(_("name"), max_length=50, unique=True)
    released = models.DateField(_("release date"))

    objects = ReleaseQuerySet.as_manager()

    class Meta:
        verbose_name = _("release")
        verbose_name_plural = _("releases")
        ordering = ["-released"]

    def __str__(self) -> str:
        return self.name

    def is_supported(self, on: date, policy: Policy) -> bool:
        return Release.objects.supported(on, policy.supported_releases).filter(pk=self.pk).exists()


# ------------------------------------------------------------------- policy
@lru_cache(maxsize=32)
def _parse(text: str) -> Policy:
    """A stored version's policy; parsed once per distinct text."""
    return policy_from_text(text)


#: From when the shipped policy is in force: the first instant the clock covers
#: (:mod:`slpdesk.sla` works in the years 1900-2199), so a case received at any
#: time the desk can record, imported ones too, has a version in force (K8).
SHIPPED_EFFECTIVE_AT = datetime(1900, 1, 1, tzinfo=UTC)

#: What a published version keeps for ever (K8, V1).
POLICY_VERSION_FIXED = ("policy_id", "version", "toml", "published_at", "effective_at")


class ImmutableError(ValueError):
    """A change to a record that is never rewritten (a published policy version, a
    calendar closure)."""


class PolicyVersionQuerySet(models.QuerySet):
    def in_force(self, at: datetime) -> PolicyVersion:
        """The version in force at ``at``. The shipped policy is stored on first use, in
        force from :data:`SHIPPED_EFFECTIVE_AT`, whatever ``at`` the first caller asks
        about."""
        version = self._latest_from(at)  # one query on every call but the very first
        if version is None and not self.exists():
            shipped = PolicyVersion.from_toml(shipped_policy_text(),
                                              published_at=SHIPPED_EFFECTIVE_AT,
                                              effective_at=SHIPPED_EFFECTIVE_AT)
            self.get_or_create(policy_id=shipped.policy_id, version=shipped.version,
                               defaults={"toml": shipped.toml,
                                         "published_at": SHIPPED_EFFECTIVE_AT,
                                         "effective_at": SHIPPED_EFFECTIVE_AT})
            version = self._latest_from(at)
        if version is None:  # only before 1900, which the clock refuses anyway
            raise PolicyError(f"no policy version is in force at {at.isoformat()}")
        return version

    def _latest_from(self, at: datetime) -> PolicyVersion | None:
        # Every case opened reads this: written out, as Django would compile it but
        # without compiling it again on each call (two thirds of the time).
        rows = read_rows(PolicyVersion, "SELECT {columns} FROM {table} "
                         "WHERE effective_at <= %s ORDER BY effective_at DESC, id DESC "
                         "LIMIT 1", [at])
        fields = [f.attname for f in PolicyVersion._meta.concrete_fields]
        return PolicyVersion.from_db(self.db, fields, rows[0]) if rows else None

    def update(self, **kwargs) -> int:
        fixed = set(kwargs) & set(POLICY_VERSION_FIXED)
        if fixed:
            raise ImmutableError(f"a published policy version is never changed "
                                 f"({', '.join(sorted(fixed))})")
        return super().update(**kwargs)

    def bulk_update(self, objs, fields, *args, **kwargs) -> int:
        fixed = set(fields) & set(POLICY_VERSION_FIXED)
        if fixed:
            raise ImmutableError(f"a published policy version is never changed "
                                 f"({', '.join(sorted(fixed))})")
        return super().bulk_update(objs, fields, *args, **kwargs)

    def delete(self):
        raise ImmutableError("a published policy version is never deleted")


class PolicyVersion(models.Model):
    """One published version of the service level policy (V1); cases keep theirs (K8)."""

    policy_id = models.CharField(_("policy"), max_length=50)
    version = models.CharField(_("version"), max_length=50)
    toml = models.TextField(_("policy file (TOML)"))
    published_at = models.DateTimeField(_("published"))
    effective_at = models.DateTimeField(_("takes effect"))
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True,
                                     blank=True, related_name="+",
                                     verbose_name=_("published by"))
    changes = models.JSONField(_("changes from the previous version"), default=list,
                               blank=True)

    objects = PolicyVersionQuerySet.as_manager()

    class Meta:
        verbose_name = _("policy version")
        verbose_name_plural = _("policy versions")
        ordering = ["-effective_at"]
        constraints = [
            models.UniqueConstraint(fields=["policy_id", "version"],
                                    name="policy_version_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.policy_id} {self.version}"

    @classmethod
    def from_toml(cls, text: str, *, published_at: datetime,
                  effective_at: datetime) -> PolicyVersion:
        """An unsaved version from a policy file; raises PolicyError when it is not valid."""
        policy = _parse(text)
        return cls(policy_id=policy.id, version=policy.version, toml=text,
                   published_at=published_at, effective_at=effective_at)

    def load(self) -> Policy:
        """The parsed policy (cached by text)."""
        return _parse(self.toml)

    def save(self, *args, **kwargs) -> None:
        """A version is stored once; its text, number and dates never change (K8)."""
        if self.pk is not None and not self._state.adding:
            stored = PolicyVersion.objects.filter(pk=self.pk).values(*POLICY_VERSION_FIXED).first()
            if stored is not None:
                changed = [f for f in POLICY_VERSION_FIXED if stored[f] != getattr(self, f)]
                if changed:
                    raise ImmutableError(f"a published policy version is never changed "
                                         f"({', '.join(changed)})")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableError("a published policy version is never deleted")

    def clean(self) -> None:
        try:
            policy = self.load()
        except PolicyError as exc:
            raise ValidationError({"toml": str(exc)}) from None
        if (policy.id, policy.version) != (self.policy_id, self.version):
            raise ValidationError(
                _("The file says policy %(id)s version %(version)s."),
                params={"id": policy.id, "version": policy.version})


class CalendarClosureQuerySet(models.QuerySet):
    def in_effect(self) -> CalendarClosureQuerySet:
        """The closures every clock counts with: added and not removed."""
        return self.filter(removed_at__isnull=True)

    def update(self, **kwargs) -> int:
        raise ImmutableError("calendar closures are a dated record: add or remove one "
                             "through services.add_closure / remove_closure")

    def delete(self):
        raise ImmutableError("calendar closures are never deleted; a removal is recorded")


class CalendarClosure(models.Model):
    """An extra closed date of a support calendar (company closure, spec C4).

    An append-only, dated record: who added it, when and why; a removal records
    who, when and why and keeps the row. Only a date that has not begun yet can
    be added or removed (:func:`slpdesk.desk.services.add_closure`), so business
    time that has already elapsed never changes. Every clock (the stored columns,
    replays, reports, the simulator, the audit) counts with the closures in effect
    (:meth:`dates`).
    """

    calendar = models.CharField(_("calendar"), max_length=50)
    date = models.DateField(_("date"))
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    added_at = models.DateTimeField(_("added"), null=True, blank=True)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True,
                                 blank=True, related_name="+", verbose_name=_("added by"))
    removed_at = models.DateTimeField(_("removed"), null=True, blank=True)
    removed_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True,
                                   blank=True, related_name="+", verbose_name=_("removed by"))
    removal_reason = models.CharField(_("why removed"), max_length=200, blank=True)

    objects = CalendarClosureQuerySet.as_manager()

    #: What a removal writes, once; nothing else of a closure ever changes.
    REMOVAL_FIELDS = ("removed_at", "removed_by", "removal_reason")

    class Meta:
        verbose_name = _("calendar closure")
        verbose_name_plural = _("calendar closures")
        ordering = ["calendar", "date", "id"]
        constraints = [
            # One closure in effect per calendar and date; removed ones stay beside it.
            models.UniqueConstraint(fields=["calendar", "date"], name="closure_unique_date",
                                    condition=models.Q(removed_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"{self.calendar} {self.date}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None and not self._state.adding:
            fields = kwargs.get("update_fields")
            stored = CalendarClosure.objects.filter(pk=self.pk).values("removed_at").first()
            if (fields is None or not set(fields) <= set(self.REMOVAL_FIELDS)
                    or stored is None or stored["removed_at"] is not None):
                raise ImmutableError("a calendar closure is only ever removed, once "
                                     "(services.remove_closure)")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableError("calendar closures are never deleted; a removal is recorded")

    @staticmethod
    def dates(calendar: str) -> list[date]:
        """The extra closed dates in effect for ``calendar`` (the closures of
        :meth:`CalendarClosureQuerySet.in_effect`), written out: every case opened and
        every SLA refresh reads them."""
        return [day for (day,) in read_rows(
            CalendarClosure, "SELECT date FROM {table} WHERE removed_at IS NULL "
                             "AND calendar = %s", [calendar])]

    @staticmethod
    def compiled(policy: Policy, calendar: str, time_zone: str,
                 closed: list[date] | None = None) -> BusinessCalendar:
        """Calendar ``calendar`` of ``policy`` with the stored closures (or ``closed``,
        when the caller has read them already), for ``time_zone``."""
        if closed is None:
            closed = CalendarClosure.dates(calendar)
        spec = policy.calendar(calendar).with_closed_dates(closed)
        return compile_calendar(spec, time_zone)


# -------------------------------------------------------------------- users
class UserManager(DjangoUserManager):
    def create_superuser(self, username, email=None, password=None, **extra_fields):
        """``slpdesk manage createsuperuser``: the first administrator, who uses the
        console, the reports and the admin at once (a superuser with the default
        customer role would see no case)."""
        extra_fields.setdefault("role", User.Role.ADMIN)
        return super().create_superuser(username, email, password, **extra_fields)


class User(AbstractUser):
    """Anyone who logs in: customers and partners, and the vendor's staff."""

    class Role(models.TextChoices):
        CUSTOMER = "customer", _("Customer or partner contact")
        AGENT = "agent", _("Support agent")
        SUPERVISOR = "supervisor", _("Supervisor")
        MANAGER = "manager", _("Support manager")
        EXECUTIVE = "executive", _("Executive sponsor / customer success manager")
        ADMIN = "admin", _("Administrator")

    role = models.CharField(_("role"), max_length=20, choices=Role.choices,
                            default=Role.CUSTOMER)
    organisation = models.ForeignKey(Organisation, models.PROTECT, null=True, blank=True,
                                     related_name="users", verbose_name=_("organisation"))
    language = models.CharField(_("language"), max_length=10, blank=True,
                                choices=settings.LANGUAGES)
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True,
                                 validators=[validate_time_zone])
    phone = models.CharField(_("phone"), max_length=50, blank=True)
    # Set when the person's data was erased (slpdesk.privacy.erasure): the row stays as
    # an opaque tombstone that cases, messages and events still point to.
    erased_at = models.DateTimeField(_("personal data erased"), null=True, blank=True)

    objects = UserManager()

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def get_full_name(self) -> str:
        """The person's name; "erased contact" (in the reader's language) once their
        personal data was erased, wherever a name is shown."""
        if self.erased_at is not None:
            return str(_("erased contact"))
        return super().get_full_name()

    def is_support_staff(self) -> bool:
        """The vendor's people: everyone but customer and partner contacts (what each
        role may see and do is decided in :mod:`slpdesk.desk.access`)."""
        return self.role != self.Role.CUSTOMER


# -------------------------------------------------------------------- cases
class CaseQuerySet(models.QuerySet):
    DUE_COLUMNS = {
        "earliest": "earliest_due",
        "response": "response_due",
        "resolution": "resolution_due",
        "next_update": "next_update_due",
    }

    def open(self) -> CaseQuerySet:
        """Cases whose clocks can still change."""
        return self.exclude(status__in=[Case.Status.RESOLVED, Case.Status.CLOSED])

    def due_before(self, at: datetime, clock: str = "earliest") -> CaseQuerySet:
        """Cases with ``clock``'s due time before ``at``, soonest first (queues, worker)."""
        column = self.DUE_COLUMNS[clock]
        return self.filter(**{f"{column}__lt": at}).order_by(column)

    def next_id(self) -> int:
        """The id the next case inserted gets, taken now, so that the case's number and
        SLA columns go into its INSERT (no UPDATE of the row just written, which on
        PostgreSQL writes a second version of it into every index). PostgreSQL: the
        id sequence's next value, never handed out twice. SQLite: one more than the
        highest id ever given (AUTOINCREMENT's counter), which is safe because the
        caller holds the database's write lock (``BEGIN IMMEDIATE``) until it commits.
        Call it inside the transaction that inserts the case."""
        connection = connections[self.db]
        table = connection.ops.quote_name(Case._meta.db_table)
        if connection.vendor == "postgresql":
            sql = f"SELECT nextval(pg_get_serial_sequence('{Case._meta.db_table}', 'id'))"
        else:
            sql = (f"SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = "
                   f"'{Case._meta.db_table}'), 0), COALESCE((SELECT MAX(id) FROM {table}), 0))"
                   f" + 1")
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchone()[0]


#: The sort key of a case no clock makes due (after every due time).
QUEUE_LAST = datetime(9999, 12, 31, tzinfo=UTC)
#: The statuses of a case not yet resolved, as the queue and its indexes filter them.
OPEN_STATUSES = ("new", "open", "waiting")
QUEUE_OPEN = Q(status__in=OPEN_STATUSES)
#: The queue's priority order: the assigned priority, else the proposed one (P1). The
#: index below is on this expression; the queue orders by the same SQL, with the empty
#: string as a literal (SQLite matches an indexed expression only so).
SORT_PRIORITY = Coalesce(NullIf("priority", models.Value("")), "proposed_priority")


class Case(models.Model):
    """A support case. Its state changes only through :mod:`slpdesk.desk.services`."""

    class Channel(models.TextChoices):
        PORTAL = "portal", _("Portal")
        EMAIL = "email", _("E-mail")
        PHONE = "phone", _("Phone")

    class Status(models.TextChoices):
        NEW = "new", _("New")                      # received, priority not yet assigned
        OPEN = "open", _("Open")                   # triaged, support is working on it
        WAITING = "waiting", _("Waiting on customer")
        RESOLVED = "resolved", _("Resolved")
        CLOSED = "closed", _("Closed")             # not covered or excluded; no clock

    class Kind(models.TextChoices):
        INCIDENT = "incident", _("Incident")
        BUG = "bug", _("Bug")
        DEFECT = "defect", _("Defect")

    class Resolution(models.TextChoices):
        FIXED = "fixed", _("Fixed (or a workaround the customer accepts)")
        TIMELINE = "timeline", _("Timeline for a fix given")
        NO_DEFECT = "no-defect", _("Not a defect, or cannot be resolved")

    class Entitlement(models.TextChoices):
        ENTITLED = "entitled", _("Entitled")
        NOT_ENTITLED = "not_entitled", _("No active support agreement")
        VIA_PARTNER = "via_partner", _("Supported through a partner")
        UNSUPPORTED_VERSION = "unsupported_version", _("Release no longer supported")
        OUT_OF_SCOPE = "out_of_scope", _("Out of scope for support")
        EXCLUDED = "excluded", _("Excluded")

    number = models.CharField(_("case number"), max_length=20, unique=True, null=True,
                              editable=False)
    organisation = models.ForeignKey(Organisation, models.PROTECT, related_name="cases",
                                     verbose_name=_("organisation"))
    site = models.ForeignKey(Site, models.PROTECT, related_name="cases", verbose_name=_("site"))
    contact = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT,
                                related_name="contact_cases", verbose_name=_("contact"))
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    release = models.ForeignKey(Release, models.PROTECT, null=True, blank=True,
                                related_name="cases", verbose_name=_("release"))
    request_type = models.CharField(_("request type"), max_length=40, blank=True)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    system_details = models.TextField(_("operating system and hardware"), blank=True)
    proposed_priority = models.CharField(_("proposed priority"), max_length=16,
                                         choices=Priority.choices)
    priority = models.CharField(_("priority"), max_length=16, choices=Priority.choices,
                                blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices,
                              default=Status.NEW)
    information_complete = models.BooleanField(_("information complete"), default=False)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices,
                            default=Kind.INCIDENT)
    defect_reference = models.CharField(_("defect reference"), max_length=100, blank=True)
    resolution = models.CharField(_("resolution"), max_length=10, choices=Resolution.choices,
                                  blank=True)
    resolution_summary = models.TextField(_("resolution summary"), blank=True)
    entitlement = models.CharField(_("entitlement"), max_length=20,
                                   choices=Entitlement.choices, default=Entitlement.ENTITLED)
    exclusion_reason = models.CharField(_("exclusion reason"), max_length=40, blank=True)
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True,
                                 blank=True, related_name="assigned_cases",
                                 verbose_name=_("assigned to"))
    policy_version = models.ForeignKey(PolicyVersion, models.PROTECT, related_name="cases",
                                       verbose_name=_("policy version"))
    calendar = models.CharField(_("support calendar"), max_length=50)
    time_zone = models.CharField(_("time zone"), max_length=64, validators=[validate_time_zone])
    received_at = models.DateTimeField(_("received"))
    updated_at = models.DateTimeField(_("last change"))

    # Denormalised SLA state, written only by services.refresh_sla.
    response_due = models.DateTimeField(_("response due"), null=True, blank=True)
    resolution_due = models.DateTimeField(_("resolution due"), null=True, blank=True)
    next_update_due = models.DateTimeField(_("next update due"), null=True, blank=True)
    earliest_due = models.DateTimeField(_("next due"), null=True, blank=True)
    response_state = models.CharField(_("response"), max_length=16,
                                      choices=ClockStateChoice.choices,
                                      default=ClockStateChoice.PENDING)
    resolution_state = models.CharField(_("resolution"), max_length=16,
                                        choices=ClockStateChoice.choices,
                                        default=ClockStateChoice.PENDING)
    next_update_state = models.CharField(_("status update"), max_length=16,
                                         choices=ClockStateChoice.choices,
                                         default=ClockStateChoice.PENDING)
    # When each clock stopped (met, breached or not applicable), null while it runs.
    response_stopped = models.DateTimeField(_("response clock stopped"), null=True,
                                            blank=True)
    resolution_stopped = models.DateTimeField(_("resolution clock stopped"), null=True,
                                              blank=True)
    next_update_stopped = models.DateTimeField(_("update clock stopped"), null=True,
                                               blank=True)
    sla_computed_at = models.DateTimeField(_("SLA computed"), null=True, blank=True)
    # The next instant the worker has something to do for this case's SLA (a warning,
    # a breach, an update reminder); written with the due times, indexed for the worker.
    next_sla_event_at = models.DateTimeField(_("next SLA event"), null=True, blank=True,
                                             db_index=True)
    # SLA facts for the reports (K7), written with the due columns by
    # services.store_sla: the outcome of each clock as of the case's last SLA event
    # (met, breached, not_applicable, open; empty: not computed yet), the due time at
    # which a clock without a verdict turns breached (null when it cannot), the
    # business seconds of a clock that stopped with a verdict (null otherwise) and
    # its target; status-update intervals owed and missed so far, and the due time
    # of the interval owed now (one more owed and missed once it passes).
    sla_priority = models.CharField(_("SLA priority"), max_length=16, blank=True)
    response_outcome = models.CharField(_("response outcome"), max_length=16, blank=True)
    response_open_due = models.DateTimeField(_("response breaches after"), null=True,
                                             blank=True)
    response_started = models.DateTimeField(_("response clock started"), null=True,
                                            blank=True)
    response_seconds = models.IntegerField(_("business seconds to response"), null=True,
                                           blank=True)
    response_target = models.IntegerField(_("response target (seconds)"), null=True,
                                          blank=True)
    resolution_outcome = models.CharField(_("resolution outcome"), max_length=16,
                                          blank=True)
    resolution_open_due = models.DateTimeField(_("resolution breaches after"), null=True,
                                               blank=True)
    resolution_started = models.DateTimeField(_("resolution clock started"), null=True,
                                              blank=True)
    resolution_seconds = models.IntegerField(_("business seconds to resolution"), null=True,
                                             blank=True)
    resolution_target = models.IntegerField(_("resolution target (seconds)"), null=True,
                                            blank=True)
    # A response or resolution clock that started and has not stopped: the business
    # seconds it did not count (pauses) and, while paused, since when; the report
    # counts its business time at ``now`` as replay does (null for other clocks).
    response_paused = models.IntegerField(_("response clock paused (seconds)"), null=True,
                                          blank=True)
    response_paused_since = models.DateTimeField(_("response clock paused since"),
                                                 null=True, blank=True)
    resolution_paused = models.IntegerField(_("resolution clock paused (seconds)"),
                                            null=True, blank=True)
    resolution_paused_since = models.DateTimeField(_("resolution clock paused since"),
                                                   null=True, blank=True)
    updates_owed = models.PositiveIntegerField(_("status updates owed"), default=0)
    updates_missed = models.PositiveIntegerField(_("status updates missed"), default=0)
    update_open_due = models.DateTimeField(_("status update overdue after"), null=True,
                                           blank=True)
    # The queue's order: earliest_due, or QUEUE_LAST when no clock runs (nulls last
    # as a plain value, so an index gives the order). Written by services.store_sla.
    queue_due = models.DateTimeField(_("queue order"), default=QUEUE_LAST)
    # The highest escalation level reached (X2), 0 when never escalated.
    escalation_level = models.PositiveSmallIntegerField(_("escalation level"), default=0)
    # False for a case opened by an e-mail the desk's own mail server did not verify
    # (slpdesk.mail.auth): agents see "sender not verified" before they act.
    sender_verified = models.BooleanField(_("sender verified"), default=True)
    # The case's id in the system it was imported from (``slpdesk import``), unique so
    # that an import run again skips it; null for a case opened in this desk.
    external_id = models.CharField(_("external id"), max_length=100, unique=True, null=True,
                                   blank=True, editable=False)
    # Set when retention (slpdesk.privacy.retention) removed the personal data of this
    # case: its texts are redacted, its files deleted; its SLA record stays.
    anonymised_at = models.DateTimeField(_("personal data removed"), null=True, blank=True)

    objects = CaseQuerySet.as_manager()

    class Meta:
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        ordering = ["-received_at"]
        indexes = [
            # CaseQuerySet.due_before() (default clock): the agent queue's
            # "due soonest" order and the worker's "what falls due now".
            models.Index(fields=["earliest_due"], name="case_earliest_due"),
            # CaseQuerySet.due_before(clock="response" / "resolution" /
            # "next_update"): per-clock warnings and breach reports.
            models.Index(fields=["response_due"], name="case_response_due"),
            models.Index(fields=["resolution_due"], name="case_resolution_due"),
            models.Index(fields=["next_update_due"], name="case_next_update_due"),
            # services.recompute_calendar(): the open cases of one calendar (C4).
            models.Index(fields=["calendar", "status"], name="case_calendar_status"),
            # The console's queue (console.views.queue_ids), due soonest first: one
            # index per view of the cases not yet resolved, shaped to give the order
            # so no plan reads and sorts every case; then per status, and any status.
            models.Index(fields=["queue_due", "received_at", "id"], condition=QUEUE_OPEN,
                         name="case_queue_open"),
            # (mine, and unassigned: assignee IS NULL)
            models.Index(fields=["assignee", "queue_due", "received_at", "id"],
                         condition=QUEUE_OPEN, name="case_queue_mine"),
            models.Index(fields=["queue_due", "received_at", "id"],
                         condition=QUEUE_OPEN & Q(escalation_level__gt=0),
                         name="case_queue_escalated"),
            models.Index(fields=["status", "queue_due", "received_at", "id"],
                         name="case_queue_status"),
            models.Index(fields=["queue_due", "received_at", "id"], name="case_queue_any"),
            # (mine and unassigned over any status; the escalated over any status: a
            # partial index, so that no plan finds the escalated cases not yet
            # resolved through every escalated case and their rows)
            models.Index(fields=["assignee", "queue_due", "received_at", "id"],
                         name="case_queue_assignee"),
            models.Index(fields=["queue_due", "received_at", "id"],
                         condition=Q(escalation_level__gt=0),
                         name="case_queue_escalated_any"),
            # A priority filter or order over the cases not yet resolved: the cases of
            # one priority in the order due, and their number, from this index alone.
            models.Index(SORT_PRIORITY, "queue_due", "received_at", "id",
                         condition=QUEUE_OPEN, name="case_queue_open_priority"),
            # The queue's other orders (console.views.QUEUE_SORTS), read backwards for
            # the newest first, over any status: a view of a few cases (mine,
            # escalated, a status) sorts what its own index found; the rest read these
            # in order and stop after a page.
            models.Index(fields=["updated_at", "id"], name="case_queue_updated"),
            models.Index(fields=["received_at", "id"], name="case_queue_received"),
            models.Index(SORT_PRIORITY, "queue_due", "received_at", "id",
                         name="case_queue_priority"),
            # The queue's tab counts (console.views._tab_counts): read from this
            # index alone, never from the cases' rows.
            models.Index(fields=["status", "assignee", "escalation_level"],
                         name="case_queue_counts"),
            # The compliance report (reports.facts): a period's facts read from the
            # index alone, never the wide rows (SQLite would otherwise look every
            # case up from a queue index).
            models.Index(fields=["received_at", "sla_priority", "response_outcome",
                                 "response_open_due", "resolution_outcome",
                                 "resolution_open_due", "organisation", "calendar",
                                 "assignee", "updates_owed", "updates_missed",
                                 "update_open_due", "response_seconds", "response_target",
                                 "resolution_seconds", "resolution_target"],
                         name="case_report_facts"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    def is_open(self) -> bool:
        return self.status not in (self.Status.RESOLVED, self.Status.CLOSED)

    def active_status(self) -> str:
        """The status of a case support is working on: new until triaged, then open."""
        return self.Status.OPEN if self.priority else self.Status.NEW

    def effective_priority(self) -> str:
        """The assigned priority, or the customer's proposal until support assigns one (P1)."""
        return self.priority or self.proposed_priority

    def update_recipients(self) -> list[User]:
        """Who support's status updates reach (K5): the case's contact and the designated
        technical contact of the case's organisation, each once; only people who can be
        mailed (active, with an address). The mails and both case pages use this."""
        people = [self.contact]
        technical = self.organisation.technical_contact
        if technical is not None and technical.pk != self.contact_id:
            people.append(technical)
        return [u for u in people if u.is_active and (u.email or "").strip()]

    def policy(self) -> Policy:
        return self.policy_version.load()

    def business_calendar(self, closed: list[date] | None = None) -> BusinessCalendar:
        """The compiled support calendar of this case, with its closures (``closed``
        when the caller has read them already)."""
        return CalendarClosure.compiled(self.policy(), self.calendar, self.time_zone, closed)


class CaseEvent(models.Model):
    """One change in a case's history; append-only (K7).

    The SLA types carry the names of ``slpdesk.sla`` event types and feed
    ``replay``; the others are the desk's own record.
    """

    class Type(models.TextChoices):
        RECEIVED = "received", _("Received")
        PRIORITY_ASSIGNED = "priority_assigned", _("Priority assigned")
        INFO_COMPLETE = "info_complete", _("Information complete")
        INFO_REQUESTED = "info_requested", _("Information requested")
        CUSTOMER_REPLIED = "customer_replied", _("Customer replied")
        RESPONDED = "responded", _("First response")
        STATUS_UPDATE = "status_update", _("Status update")
        CLASSIFIED = "classified", _("Classified")
        RESOLVED = "resolved", _("Resolved")
        REOPENED = "reopened", _("Reopened")
        # The desk's own events.
        ASSIGNED = "assigned", _("Assigned")
        NOTE = "note", _("Internal note")
        EXCLUDED = "excluded", _("Not covered")  # E2-E6: closes the SLA
        ESCALATED = "escalated", _("Escalated")
        ESCALATION_ACKNOWLEDGED = "escalation_ack", _("Escalation acknowledged")
        ATTACHED = "attached", _("File added")

    SLA_TYPES = frozenset({
        "received", "priority_assigned", "info_complete", "info_requested",
        "customer_replied", "responded", "status_update", "classified", "resolved",
        "reopened", "excluded",
    })

    case = models.ForeignKey(Case, models.CASCADE, related_name="events",
                             verbose_name=_("case"))
    at = models.DateTimeField(_("time"))
    type = models.CharField(_("type"), max_length=20, choices=Type.choices)
    priority = models.CharField(_("priority"), max_length=16, blank=True)
    kind = models.CharField(_("kind"), max_length=10, blank=True)
    resolution = models.CharField(_("resolution"), max_length=10, blank=True)
    data = models.JSONField(_("details"), default=dict, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True,
                              blank=True, related_name="+", verbose_name=_("by"))

    class Meta:
        verbose_name = _("case event")
        verbose_name_plural = _("case events")
        ordering = ["at", "id"]
        indexes = [
            # services.refresh_sla(): a case's history in order.
            models.Index(fields=["case", "at", "id"], name="caseevent_case_at"),
        ]

    def __str__(self) -> str:
        return f"{self.case_id} {self.at:%Y-%m-%d %H:%M} {self.type}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None and not self._state.adding:
            raise ValueError("case events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("case events are append-only")


class Message(models.Model):
    """A public reply, an internal note or a logged phone call on a case."""

    class Kind(models.TextChoices):
        PUBLIC = "public", _("Reply")
        INTERNAL = "internal", _("Internal note")
        CALL = "call", _("Phone call")

    case = models.ForeignKey(Case, models.CASCADE, related_name="messages",
                             verbose_name=_("case"))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True,
                               blank=True, related_name="+", verbose_name=_("author"))
    body = models.TextField(_("text"))
    created_at = models.DateTimeField(_("time"))

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.case_id} {self.kind} {self.created_at:%Y-%m-%d %H:%M}"

    def is_visible_to_customer(self) -> bool:
        return self.kind != self.Kind.INTERNAL


class CaseSearch(models.Model):
    """A case's search document, rewritten by :func:`slpdesk.desk.search.reindex` in the
    transaction of every change; the engine indexes it (tsvector + GIN on PostgreSQL,
    FTS5 on SQLite, migration 0007)."""

    case = models.OneToOneField(Case, models.CASCADE, primary_key=True,
                                related_name="search_document", verbose_name=_("case"))
    head = models.TextField(_("number, title and names"))
    body = models.TextField(_("description and messages"))
    internal = models.TextField(_("internal notes"))

    class Meta:
        verbose_name = _("search document")
        verbose_name_plural = _("search documents")

    def __str__(self) -> str:
        return str(self.case_id)


def _attachment_path(instance: Attachment, filename: str) -> str:
    # A random folder per file: names never collide and cannot be guessed.
    return f"attachments/{instance.case_id}/{secrets.token_hex(8)}/{filename}"


class Attachment(models.Model):
    """A file on a case, size-limited; served only as a download, never inline."""

    case = models.ForeignKey(Case, models.CASCADE, related_name="attachments",
                             verbose_name=_("case"))
    message = models.ForeignKey(Message, models.SET_NULL, null=True, blank=True,
                                related_name="attachments", verbose_name=_("message"))
    file = models.FileField(_("file"), upload_to=_attachment_path, max_length=300,
                            validators=[validate_attachment_size])
    name = models.CharField(_("file name"), max_length=200)
    size = models.PositiveBigIntegerField(_("size"))
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True,
                                    blank=True, related_name="+",
                                    verbose_name=_("uploaded by"))
    uploaded_at = models.DateTimeField(_("uploaded"))
    internal = models.BooleanField(_("internal"), default=False,
                                   help_text=_("Visible to support staff only."))

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["uploaded_at", "id"]

    def __str__(self) -> str:
        return self.name


class Escalation(models.Model):
    """A case raised to a level of the escalation procedure (X1-X3), acknowledged by
    one of that level's owners."""

    class Channel(models.TextChoices):
        PORTAL = "portal", _("Portal")
        EMAIL = "email", _("E-mail")
        SUPPORT = "support", _("Through support")

    case = models.ForeignKey(Case, models.CASCADE, related_name="escalations",
                             verbose_name=_("case"))
    level = models.PositiveSmallIntegerField(_("level"))
    reason = models.TextField(_("reason"))
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    raised_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+",
                                  verbose_name=_("raised by"))
    raised_at = models.DateTimeField(_("raised"))
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True,
                                        blank=True, related_name="+",
                                        verbose_name=_("acknowledged by"))
    acknowledged_at = models.DateTimeField(_("acknowledged"), null=True, blank=True)

    class Meta:
        verbose_name = _("escalation")
        verbose_name_plural = _("escalations")
        ordering = ["raised_at", "id"]
        indexes = [models.Index(fields=["case", "raised_at"], name="escalation_case")]

    def __str__(self) -> str:
        return f"{self.case_id} level {self.level}"

    def is_acknowledged(self) -> bool:
        return self.acknowledged_at is not None


# ------------------------------------------------- things that happen on time
class ClaimableQuerySet(models.QuerySet):
    def due(self, now: datetime) -> ClaimableQuerySet:
        """Rows a worker may take now: waiting, their time come, and not leased to
        another worker (or leased to one that died)."""
        return self.filter(state=self.model.State.PENDING, next_attempt_at__lte=now).filter(
            models.Q(claimed_until__isnull=True) | models.Q(claimed_until__lt=now))


class Claimable(models.Model):
    """A row the worker claims with a lease (``claimed_until``), retries with backoff
    (``attempts``, ``next_attempt_at``) and finishes or fails."""

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")
        HELD = "held", _("Held for an agent")

    state = models.CharField(_("state"), max_length=10, choices=State.choices,
                             default=State.PENDING)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"))
    claimed_until = models.DateTimeField(_("claimed until"), null=True, blank=True)
    claimed_by = models.CharField(_("claimed by"), max_length=100, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created"))
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    objects = ClaimableQuerySet.as_manager()

    class Meta:
        abstract = True


class Outbox(Claimable):
    """An e-mail to send, written in the same transaction as the change that causes it;
    rendered in the recipient's language when written. ``message_id`` is
    deterministic, so a retry can never become a second, different mail."""

    class Kind(models.TextChoices):
        CASE_RECEIVED = "case_received", _("Case received")
        REPLY = "reply", _("Reply")
        INFO_REQUEST = "info_request", _("Information request")
        STATUS_UPDATE = "status_update", _("Status update")
        RESOLVED = "resolved", _("Case resolved")
        ESCALATION = "escalation", _("Escalation")
        AT_RISK = "at_risk", _("SLA at risk")
        BREACHED = "breached", _("SLA breached")
        UPDATE_OWED = "update_owed", _("Status update owed")
        UPDATE_OVERDUE = "update_overdue", _("Status update overdue")
        PROGRAM_UPDATE = "program_update", _("Program update")
        POLICY_NOTICE = "policy_notice", _("Policy change notice")
        ESCALATION_REQUEST = "escalation_request", _("Escalation to confirm")
        PASSWORD_RESET = "password_reset", _("Password reset")
        STATEMENT = "statement", _("Monthly SLA statement")
        WEBHOOK_DISABLED = "webhook_disabled", _("Webhook disabled")

    message_id = models.CharField(_("Message-ID"), max_length=255, unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    case = models.ForeignKey(Case, models.CASCADE, null=True, blank=True,
                             related_name="outbox", verbose_name=_("case"))
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True,
                                  blank=True, related_name="+", verbose_name=_("recipient"))
    to_address = models.EmailField(_("to"))
    reply_to = models.CharField(_("reply to"), max_length=255, blank=True)
    language = models.CharField(_("language"), max_length=10)
    subject = models.CharField(_("subject"), max_length=255)
    body_text = models.TextField(_("text"))
    body_html = models.TextField(_("HTML"), blank=True)
    urgent = models.BooleanField(_("urgent"), default=False,
                                 help_text=_("Sent ahead of other mail (urgent updates)."))

    class Meta:
        verbose_name = _("outgoing e-mail")
        verbose_name_plural = _("outgoing e-mails")
        ordering = ["-created_at"]
        indexes = [
            # The worker's "send one": waiting mail whose time has come, urgent first.
            models.Index(fields=["state", "next_attempt_at"], name="outbox_due"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} → {self.to_address}"


class InboundMessage(Claimable):
    """An e-mail received (``slpdesk mail receive|serve``), stored before anything is
    done with it; processed once (unique Message-ID), never dropped."""

    class Outcome(models.TextChoices):
        NEW_CASE = "new_case", _("New case")
        REPLY = "reply", _("Customer reply")
        ESCALATION = "escalation", _("Escalation request")
        UNKNOWN_SENDER = "unknown_sender", _("Unknown sender")
        BAD_TOKEN = "bad_token", _("Bad or foreign reply token")
        BROKEN = "broken", _("Could not be read")
        DUPLICATE = "duplicate", _("Duplicate")
        AUTO_REPLY = "auto_reply", _("Automatic reply")
        REFUSED = "refused", _("Refused by the desk")
        DISMISSED = "dismissed", _("Dismissed by an agent")
        UNCONFIRMED = "unconfirmed", _("Escalation awaiting the contact's confirmation")

    message_id = models.CharField(_("Message-ID"), max_length=255, unique=True)
    raw = models.BinaryField(_("message (RFC 822)"))
    sender = models.CharField(_("from"), max_length=255, blank=True)
    subject = models.CharField(_("subject"), max_length=255, blank=True)
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome.choices,
                               blank=True)
    case = models.ForeignKey(Case, models.SET_NULL, null=True, blank=True,
                             related_name="inbound", verbose_name=_("case"))
    flags = models.JSONField(_("problems found"), default=list, blank=True)
    # The agent who settled a held message from the console (attached, opened a case,
    # dismissed); null when the worker settled it by itself.
    handled_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True,
                                   blank=True, related_name="+",
                                   verbose_name=_("handled by"))

    class Meta:
        verbose_name = _("incoming e-mail")
        verbose_name_plural = _("incoming e-mails")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="inbound_due")]

    def __str__(self) -> str:
        return f"{self.sender}: {self.subject}"


class SlaNotice(models.Model):
    """An SLA moment already acted on (at risk, breached, update owed or overdue) for
    one due time of one clock: the worker fires each exactly once."""

    case = models.ForeignKey(Case, models.CASCADE, related_name="sla_notices",
                             verbose_name=_("case"))
    kind = models.CharField(_("kind"), max_length=20)
    clock = models.CharField(_("clock"), max_length=20)
    due = models.DateTimeField(_("due"))
    fired_at = models.DateTimeField(_("fired"))

    class Meta:
        verbose_name = _("SLA notice")
        verbose_name_plural = _("SLA notices")
        constraints = [models.UniqueConstraint(fields=["case", "kind", "clock", "due"],
                                               name="sla_notice_once")]


class RecomputeWaiting(models.Model):
    """A case whose SLA columns a calendar change made stale, waiting for the worker's
    recompute (C4; :func:`slpdesk.desk.services.request_recompute`). Kept apart from
    the case: marking a case by a change of one of its indexed columns (as
    ``next_sla_event_at`` was) writes a new entry in each of the case's indexes on
    PostgreSQL, twice (marked, then recomputed), where a change of unindexed columns
    alone (``sla_computed_at``) is a heap-only update that touches none."""

    case = models.OneToOneField(Case, models.CASCADE, primary_key=True, related_name="+",
                                verbose_name=_("case"))

    class Meta:
        verbose_name = _("case waiting for a recompute")
        verbose_name_plural = _("cases waiting for a recompute")


class ProgramUpdate(models.Model):
    """A published update of a release (U1)."""

    class Kind(models.TextChoices):
        PLANNED = "planned", _("Planned")
        URGENT = "urgent", _("Urgent")

    name = models.CharField(_("name"), max_length=100, unique=True)
    released = models.DateField(_("release date"))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices,
                            default=Kind.PLANNED)
    security = models.BooleanField(_("security fix"), default=False)
    notes = models.TextField(_("notes"), blank=True)
    applies_to = models.ManyToManyField(Release, related_name="updates",
                                        verbose_name=_("applies to releases"))
    published_at = models.DateTimeField(_("published"), null=True, blank=True)
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True,
                                     blank=True, related_name="+",
                                     verbose_name=_("published by"))

    class Meta:
        verbose_name = _("program update")
        verbose_name_plural = _("program updates")
        ordering = ["-released"]

    def __str__(self) -> str:
        return self.name


class WorkerHeartbeat(models.Model):
    """Each running worker's last sign of life (shown to agents and admins)."""

    name = models.CharField(_("worker"), max_length=100, unique=True)
    started_at = models.DateTimeField(_("started"))
    seen_at = models.DateTimeField(_("last seen"))

    class Meta:
        verbose_name = _("worker")
        verbose_name_plural = _("workers")


class FormSubmission(models.Model):
    """A one-time form token, used up: the portal's new-case form carries one, so a
    form sent twice (a double click, sending again after an error) opens one case
    and the second sending shows it."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="+",
                             verbose_name=_("user"))
    token = models.CharField(_("form token"), max_length=64)
    case = models.ForeignKey(Case, models.CASCADE, null=True, blank=True, related_name="+",
                             verbose_name=_("case"))
    created_at = models.DateTimeField(_("sent"))

    class Meta:
        verbose_name = _("form sent")
        verbose_name_plural = _("forms sent")
        constraints = [models.UniqueConstraint(fields=["user", "token"],
                                               name="formsubmission_once")]


# ------------------------------------------------------------- canned replies
class CannedReply(models.Model):
    """A canned reply (a macro, issue 13): a title, an English and a Swedish text with
    ``{placeholders}`` (see :mod:`slpdesk.desk.canned`), and optionally the action the
    composer offers first with it. Personal (its owner's only) or shared with all staff."""

    class Action(models.TextChoices):
        NONE = "", _("None: the agent chooses")
        REPLY = "reply", _("Send as a reply")
        REQUEST_INFO = "request_info", _("Send as a request for information")

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE,
                              related_name="canned_replies", verbose_name=_("owner"))
    shared = models.BooleanField(_("shared with all staff"), default=False)
    title = models.CharField(_("title"), max_length=120)
    body_en = models.TextField(_("text in English"))
    body_sv = models.TextField(_("text in Swedish"))
    action = models.CharField(_("action"), max_length=20, choices=Action.choices, blank=True,
                              default="")
    created_at = models.DateTimeField(_("created"))
    updated_at = models.DateTimeField(_("changed"))

    class Meta:
        verbose_name = _("canned reply")
        verbose_name_plural = _("canned replies")
        ordering = ["title", "id"]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        from .canned import check_placeholders  # the placeholder rules live there

        errors = {}
        for field in ("body_en", "body_sv"):
            try:
                check_placeholders(getattr(self, field))
            except ValidationError as err:
                errors[field] = err
        if errors:
            raise ValidationError(errors)

    def body(self, language: str) -> str:
        return self.body_sv if language == "sv" else self.body_en
class Statement(models.Model):
    """An organisation's monthly SLA statement as it was generated: the figures are
    stored, so a re-send and the portal show exactly what was mailed
    (:mod:`slpdesk.reports.statements`)."""

    organisation = models.ForeignKey(Organisation, models.CASCADE, related_name="statements",
                                     verbose_name=_("organisation"))
    month = models.CharField(_("month"), max_length=7, help_text="YYYY-MM")
    generated_at = models.DateTimeField(_("generated"))
    language = models.CharField(_("language"), max_length=10)
    time_zone = models.CharField(_("time zone"), max_length=64)
    figures = models.JSONField(_("figures"))
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    sends = models.PositiveIntegerField(_("times sent"), default=0)

    class Meta:
        verbose_name = _("SLA statement")
        verbose_name_plural = _("SLA statements")
        ordering = ["organisation__name", "-month"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "month"],
                                    name="statement_unique_month"),
        ]

    def __str__(self) -> str:
        return f"{self.organisation} {self.month}"


# ------------------------------------------------------------- the console
class SavedView(models.Model):
    """A queue an agent saved (issue 13): its filters, order and columns. A shared
    view is listed for all staff; only its owner, a supervisor or an administrator
    changes or deletes it (:func:`slpdesk.desk.access.can_edit_saved_view`)."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE,
                              related_name="saved_views", verbose_name=_("owner"))
    name = models.CharField(_("name"), max_length=60)
    shared = models.BooleanField(_("shared with all staff"), default=False)
    #: The queue's query parameters: view, status, priority, organisation, region,
    #: sort, q (each a string; checked when saved and again when used).
    filters = models.JSONField(_("filters"), default=dict)
    #: The queue's optional columns shown, in the queue's order; empty: all.
    columns = models.JSONField(_("columns"), default=list)
    created_at = models.DateTimeField(_("created"))
    updated_at = models.DateTimeField(_("last change"))

    class Meta:
        verbose_name = _("saved view")
        verbose_name_plural = _("saved views")
        constraints = [models.UniqueConstraint(fields=["owner", "name"],
                                               name="savedview_name_once")]

    def __str__(self) -> str:
        return self.name


class CasePresence(models.Model):
    """Who has a case open and who is writing on it (issue 13 item 5): the case page
    records its viewer on load and on each poll; a row older than the poll's
    expiry no longer counts and is deleted at the next poll of any case."""

    case = models.ForeignKey(Case, models.CASCADE, related_name="+", verbose_name=_("case"))
    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="+",
                             verbose_name=_("user"))
    seen_at = models.DateTimeField(_("last seen"))
    typing_at = models.DateTimeField(_("last typed"), null=True, blank=True)

    class Meta:
        verbose_name = _("case viewer")
        verbose_name_plural = _("case viewers")
        constraints = [models.UniqueConstraint(fields=["case", "user"],
                                               name="casepresence_once")]
