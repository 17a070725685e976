"""Publishing program updates (U1-U2) and new versions of the policy (V1-V2).

Like :mod:`slpdesk.desk.services`: each verb takes the acting user and
``now`` (read once by the caller), checks everything before it writes
(raising :class:`DeskError` with a translatable message), and writes the
change and the e-mails it causes (Outbox rows, through
:func:`slpdesk.mail.outbound.enqueue`) in one transaction.

Who is told: the designated technical contact
(:attr:`Organisation.technical_contact`) of every *covered* organisation,
one with a support agreement active today at one of its sites (the site's
local date) that is not supported through a partner (E3: the partner tells
its end users). Who may publish: managers and administrators
(:func:`can_publish`); every staff member sees what was published.

:func:`describe_changes` says in words, in English or Swedish, what a new
version of the policy changes; the notice, the console's preview, ``slpdesk
policy diff`` and the portal use it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import translation
from django.utils.dates import WEEKDAYS_ABBR
from django.utils.formats import number_format
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from slpdesk.sla import SITE_ZONE, Policy, PolicyError, policy_from_text
from slpdesk.sla.calendar import CalendarSpec
from slpdesk.sla.policy import Duration
from slpdesk.webhooks import events as hooks

from . import access
from .models import Organisation, PolicyVersion, ProgramUpdate, Release, Site, User
from .services import DeskError, _check_now

#: Roles that publish program updates and policy versions.
PUBLISHING_ROLES = frozenset({User.Role.MANAGER, User.Role.ADMIN})
LANGUAGES = tuple(code for code, _name in settings.LANGUAGES)


def can_publish(user) -> bool:
    """Managers and administrators publish updates and policy versions."""
    return access.is_staff(user) and user.role in PUBLISHING_ROLES


def _require_publisher(actor) -> None:
    if not can_publish(actor):
        raise DeskError("forbidden", _("Only support managers and administrators can "
                                       "publish."))


def utc_date(at: datetime) -> date:
    return at.astimezone(UTC).date()


# --------------------------------------------------------------- who is told
def covered_organisations(now: datetime) -> list[Organisation]:
    """Organisations with an agreement active today at a site (its local date), not
    supported through a partner; by name."""
    today = utc_date(now)
    sites = (Site.objects.filter(agreements__starts__lte=today + timedelta(days=1),
                                 agreements__ends__gte=today - timedelta(days=1),
                                 organisation__supported_by__isnull=True)
             .select_related("organisation", "organisation__technical_contact")
             .distinct().order_by("organisation__name", "pk"))
    found: dict[int, Organisation] = {}
    for site in sites:
        if site.organisation_id not in found and site.has_active_agreement(
                site.local_date(now)):
            found[site.organisation_id] = site.organisation
    return list(found.values())


def technical_contacts(now: datetime) -> list[User]:
    """The designated technical contacts of the covered organisations who can get
    mail (active, with an address), each once."""
    contacts: dict[int, User] = {}
    for organisation in covered_organisations(now):
        contact = organisation.technical_contact
        if contact is not None and contact.is_active and contact.email:
            contacts.setdefault(contact.pk, contact)
    return list(contacts.values())


def contact_language(user: User) -> str:
    return user.language or settings.LANGUAGE_CODE


def _portal_link(name: str) -> str:
    """A portal page's address for a mail, when the site's address is known."""
    base = getattr(settings, "SLPDESK_SITE_URL", "")
    return base + reverse(name) if base else ""


def _enqueue(kind: str, contact: User, *, context: dict, now: datetime, key: str,
             urgent: bool = False) -> None:
    from slpdesk.mail.outbound import enqueue

    enqueue(kind, to=contact, context=context, now=now, key=key, urgent=urgent)


# ----------------------------------------------------------- program updates
def supported_releases(now: datetime, policy: Policy | None = None) -> list[Release]:
    """The releases that may get updates today: the current and the previous (E4)."""
    policy = policy or PolicyVersion.objects.in_force(now).load()
    return list(Release.objects.supported(utc_date(now), policy.supported_releases))


def _check_releases(releases, now: datetime) -> None:
    if not releases:
        raise DeskError("releases", _("Choose the releases the update applies to."))
    allowed = {r.pk for r in supported_releases(now)}
    older = [r.name for r in releases if r.pk not in allowed]
    if older:
        raise DeskError("unsupported", _("Updates are published only for the current and "
                                         "the previous release; %(names)s is not one of "
                                         "them."), names=", ".join(older))


def create_update(*, name: str, released: date, kind: str, security: bool, notes: str,
                  releases, actor: User, now: datetime) -> ProgramUpdate:
    """Record a program update (not yet published) for ``releases`` (U1)."""
    _check_now(now)
    _require_publisher(actor)
    name = (name or "").strip()
    if not name:
        raise DeskError("empty", _("Please write %(what)s."), what=_("the update's name"))
    if kind not in ProgramUpdate.Kind.values:
        raise DeskError("kind", _("Unknown kind %(kind)s."), kind=kind)
    releases = list(releases)
    _check_releases(releases, now)
    with transaction.atomic():
        if ProgramUpdate.objects.filter(name=name).exists():
            raise DeskError("exists", _("An update called %(name)s exists already."),
                            name=name)
        update = ProgramUpdate.objects.create(name=name, released=released, kind=kind,
                                              security=security, notes=(notes or "").strip())
        update.applies_to.set(releases)
    return update


def publish_update(update: ProgramUpdate, *, actor: User, now: datetime) -> int:
    """Publish ``update`` and tell the technical contacts of every covered organisation
    (U2); an urgent update's mails go ahead of other mail. Returns how many were told."""
    _check_now(now)
    _require_publisher(actor)
    with transaction.atomic():
        update = ProgramUpdate.objects.select_for_update().get(pk=update.pk)
        if update.published_at is not None:
            raise DeskError("published", _("%(name)s is already published."),
                            name=update.name)
        releases = list(update.applies_to.order_by("-released"))
        _check_releases(releases, now)
        update.published_at = now
        update.published_by = actor
        update.save(update_fields=["published_at", "published_by"])
        vendor = PolicyVersion.objects.in_force(now).load().vendor
        contacts = technical_contacts(now)
        for contact in contacts:
            _enqueue("program_update", contact, now=now,
                     key=f"program-update-{update.pk}-{contact.pk}",
                     urgent=update.kind == ProgramUpdate.Kind.URGENT,
                     context={"update": update, "releases": releases,
                              "release_names": ", ".join(r.name for r in releases),
                              "vendor": vendor, "updates_link": _portal_link("portal:updates")})
        hooks.update_published(update, now=now)
    return len(contacts)


def published_updates():
    return ProgramUpdate.objects.filter(published_at__isnull=False)


def newest_updates(releases, now: datetime) -> list[dict]:
    """For each of ``releases``: its newest published update (R1), or None."""
    rows = []
    for release in releases:
        newest = (published_updates().filter(applies_to=release, published_at__lte=now)
                  .order_by("-released", "-published_at", "-pk").first())
        rows.append({"release": release, "update": newest})
    return rows


# -------------------------------------------------------------- policy changes
def effective_from(day: date) -> datetime:
    """A version takes effect at the start of its date in UTC (the policy is one for
    every region; the date is what the notice states)."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def parse_policy_text(text: str) -> Policy:
    try:
        return policy_from_text(text)
    except PolicyError as exc:
        raise DeskError("invalid", _("The policy file is not valid: %(error)s"),
                        error=str(exc)) from None


def latest_version(now: datetime) -> PolicyVersion:
    """The version the next one follows: the last to take effect (in force or coming)."""
    PolicyVersion.objects.in_force(now)  # the shipped policy is stored on first use
    return PolicyVersion.objects.order_by("-effective_at", "-id").first()


def earliest_effective(notice_days: int, now: datetime) -> datetime:
    """The first instant a version published at ``now`` may take effect: the first
    00:00 UTC at least ``notice_days`` whole days (of 24 hours) after ``now``."""
    at = now + timedelta(days=notice_days)
    start = effective_from(utc_date(at))
    return start if start == at else start + timedelta(days=1)


def check_notice(policy: Policy, effective_at: datetime, now: datetime) -> None:
    """Refuse less notice than the policy in force (or the new one) promises (V1).

    Whole days are counted as 24-hour periods from the instant of publication to
    the instant the version takes effect (00:00 UTC of its date): ``notice_days``
    (30) days is at least 30 × 24 hours, so 29 days 23 hours is refused. Published
    at 2026-03-01 00:00 UTC, the earliest date is 2026-03-31; at 00:01, 2026-04-01.
    """
    current = PolicyVersion.objects.in_force(now).load()
    notice = max(current.notice_days, policy.notice_days)
    if effective_at - now < timedelta(days=notice):
        raise DeskError("notice", _("A new version of the policy takes effect at least "
                                    "%(days)d days after it is published: on "
                                    "%(earliest)s or later, not %(given)s."),
                        days=notice,
                        earliest=utc_date(earliest_effective(notice, now)).isoformat(),
                        given=utc_date(effective_at).isoformat())


def publish_policy(text: str, *, effective_at: datetime, actor: User | None,
                   now: datetime) -> PolicyVersion:
    """Publish a new version of the policy from its TOML ``text``, taking effect at
    ``effective_at`` (V1), and send the written notice, in words and in each
    contact's language, to every covered organisation's technical contact. Cases
    keep the version they were received under (K8, V2). ``actor`` is None for the
    command line (the operator), else a manager or administrator."""
    _check_now(now)
    _check_now(effective_at)
    if actor is not None:
        _require_publisher(actor)
    policy = parse_policy_text(text)
    with transaction.atomic():
        if PolicyVersion.objects.filter(policy_id=policy.id, version=policy.version).exists():
            raise DeskError("exists", _("Version %(version)s of policy %(id)s is already "
                                        "published."), version=policy.version, id=policy.id)
        check_notice(policy, effective_at, now)
        previous = latest_version(now)
        if effective_at <= previous.effective_at:
            raise DeskError("order", _("Version %(version)s takes effect on %(date)s; a new "
                                       "version must take effect after it."),
                            version=previous.version,
                            date=utc_date(previous.effective_at).isoformat())
        old = previous.load()
        by_lang = {lang: describe_changes(old, policy, lang) for lang in LANGUAGES}
        changes = [{lang: by_lang[lang][k] for lang in LANGUAGES}
                   for k in range(len(by_lang[LANGUAGES[0]]))]
        version = PolicyVersion.objects.create(
            policy_id=policy.id, version=policy.version, toml=text, published_at=now,
            effective_at=effective_at, published_by=actor, changes=changes)
        for contact in technical_contacts(now):
            lang = contact_language(contact)
            _enqueue("policy_notice", contact, now=now,
                     key=f"policy-notice-{version.pk}-{contact.pk}",
                     context={"version": version, "policy": policy, "previous": previous,
                              "changes": by_lang.get(lang, by_lang[LANGUAGES[0]]),
                              "effective_date": utc_date(effective_at),
                              "vendor": policy.vendor,
                              "portal_link": _portal_link("portal:home")})
        hooks.policy_published(version, now=now)
    return version


def coming_versions(now: datetime) -> list[PolicyVersion]:
    """Published versions that have not taken effect yet, soonest first."""
    return list(PolicyVersion.objects.filter(published_at__lte=now, effective_at__gt=now)
                .order_by("effective_at", "id"))


def changes_in(version: PolicyVersion, lang: str) -> list[str]:
    """A published version's stored changes in ``lang`` (English when missing)."""
    out = []
    for item in version.changes or []:
        if isinstance(item, dict):
            out.append(item.get(lang[:2]) or item.get("en") or "")
        else:
            out.append(str(item))
    return [x for x in out if x]


# ---------------------------------------------------------------- in words
def describe_changes(old: Policy, new: Policy, lang: str = "en") -> list[str]:
    """What ``new`` changes compared with ``old``, one sentence each, in ``lang``:
    targets per priority (and per calendar where a business day's length matters),
    calendars (hours, zone, holidays, closed dates), which calendar a country's sites
    use, escalation levels and e-mail escalation, out-of-scope requests, exclusions,
    phone lines and the policy's own numbers. Empty when nothing that matters
    differs."""
    with translation.override(lang):
        return [str(s) for s in _Describer(old, new, lang).run()]


def _hours(seconds: int) -> str:
    """``2 business hours``, ``8.5 business hours`` (in the language's number format),
    ``45 business minutes``."""
    hours, rest = divmod(seconds, 3600)
    if rest and seconds < 3600:
        minutes = seconds // 60
        return ngettext("%(count)d business minute", "%(count)d business minutes",
                        minutes) % {"count": minutes}
    if rest:
        value = number_format(round(seconds / 3600, 2), decimal_pos=None)
        return gettext("%(count)s business hours") % {"count": value}
    return ngettext("%(count)d business hour", "%(count)d business hours", hours) % {
        "count": hours}


def _duration(d: Duration, spec: CalendarSpec) -> str:
    text = _hours(d.seconds(spec))
    if d.unit == "d":
        return ngettext("%(days)d business day (%(hours)s)",
                        "%(days)d business days (%(hours)s)", d.value) % {
            "days": d.value, "hours": text}
    return text


def _clock(at) -> str:
    return "24:00" if at.hour == at.minute == 0 else f"{at:%H:%M}"


def week_text(spec: CalendarSpec) -> str:
    """Weekly hours as ``Mon–Fri 08:00–17:00``, or "closed every day"."""
    parts = []
    day = 0
    while day < 7:
        spans = spec.hours[day]
        last = day
        while last + 1 < 7 and spec.hours[last + 1] == spans:
            last += 1
        if spans:
            days = str(WEEKDAYS_ABBR[day]) if day == last else (
                f"{WEEKDAYS_ABBR[day]}–{WEEKDAYS_ABBR[last]}")
            times = ", ".join(f"{a:%H:%M}–{_clock(b)}" for a, b in spans)
            parts.append(f"{days} {times}")
        day = last + 1
    return "; ".join(parts) or gettext("closed every day")


def _zone_text(spec: CalendarSpec) -> str:
    return gettext("the local time of each site") if spec.zone == SITE_ZONE else spec.zone


def _holiday_text(spec: CalendarSpec) -> str:
    if not spec.holiday_country:
        return gettext("no public holidays")
    where = spec.holiday_country + (f"-{spec.holiday_subdiv}" if spec.holiday_subdiv else "")
    if spec.holiday_categories:
        where += f" ({', '.join(spec.holiday_categories)})"
    return gettext("public holidays of %(where)s") % {"where": where}


def _role(code: str) -> str:
    return str(User.Role(code).label) if code in User.Role.values else code


def _list(items) -> str:
    return ", ".join(str(x) for x in items) or gettext("none")


class _Describer:
    TARGET_NAMES = {
        "response": _("response"),
        "resolution": _("resolution"),
        "update_interval": _("status-update interval"),
    }

    def __init__(self, old: Policy, new: Policy, lang: str):
        self.old, self.new, self.lang = old, new, lang
        self.out: list[str] = []

    def say(self, text: str) -> None:
        self.out.append(text)

    def cal_name(self, name: str) -> str:
        text = self.new.calendar_names.get(name) or self.old.calendar_names.get(name)
        return text.get(self.lang) if text else name

    def run(self) -> list[str]:
        self.head()
        self.priorities()
        self.calendars()
        self.calendar_rules()
        self.escalation()
        self.coded()
        self.phone_lines()
        return self.out

    def head(self) -> None:
        old, new = self.old, self.new
        if old.vendor != new.vendor:
            self.say(gettext("The vendor is %(new)s (before: %(old)s).") % {
                "new": new.vendor, "old": old.vendor})
        if old.name.get(self.lang) != new.name.get(self.lang):
            self.say(gettext("The policy is now called “%(new)s” (before: “%(old)s”).") % {
                "new": new.name.get(self.lang), "old": old.name.get(self.lang)})
        if old.notice_days != new.notice_days:
            self.say(gettext("Notice of a change to the policy: %(new)d days (before: %(old)d).")
                     % {"new": new.notice_days, "old": old.notice_days})
        if old.supported_releases != new.supported_releases:
            self.say(gettext("Releases supported at once: %(new)d (before: %(old)d).") % {
                "new": new.supported_releases, "old": old.supported_releases})
        if old.at_risk_fraction != new.at_risk_fraction:
            self.say(gettext("A target is marked at risk with less than %(new)s %% of its time "
                        "left (before: %(old)s %%).") % {
                "new": f"{new.at_risk_fraction * 100:g}",
                "old": f"{old.at_risk_fraction * 100:g}"})

    def priorities(self) -> None:
        old, new, lang = self.old, self.new, self.lang
        for code in [*old.priorities, *(c for c in new.priorities if c not in old.priorities)]:
            if code not in new.priorities:
                self.say(gettext("Priority %(code)s (%(name)s) is removed.") % {
                    "code": code, "name": old.priorities[code].name.get(lang)})
                continue
            p = new.priorities[code]
            if code not in old.priorities:
                spec = new.calendar(new.default_calendar)
                self.say(gettext("New priority %(code)s (%(name)s): response within %(response)s, "
                            "resolution within %(resolution)s, status updates every "
                            "%(update)s.") % {
                    "code": code, "name": p.name.get(lang),
                    "response": _duration(p.response, spec),
                    "resolution": _duration(p.resolution, spec),
                    "update": _duration(p.update_interval, spec)})
                continue
            q = old.priorities[code]
            if q.name.get(lang) != p.name.get(lang):
                self.say(gettext("Priority %(code)s is now called “%(new)s” (before: “%(old)s”).")
                         % {"code": code, "new": p.name.get(lang), "old": q.name.get(lang)})
            if q.summary.get(lang) != p.summary.get(lang) or q.examples(lang) != p.examples(lang):
                self.say(gettext("The description of priority %(code)s changes: %(summary)s") % {
                    "code": code, "summary": p.summary.get(lang)})
            for target in ("response", "resolution", "update_interval"):
                self.target(code, target, getattr(q, target), getattr(p, target))

    def target(self, code: str, target: str, was: Duration, now: Duration) -> None:
        common = [c for c in self.new.calendars if c in self.old.calendars]
        changed = [c for c in common if was.seconds(self.old.calendar(c))
                   != now.seconds(self.new.calendar(c))]
        if not changed:
            return
        what = self.TARGET_NAMES[target]
        if was.unit != "d" and now.unit != "d":  # the same on every calendar
            self.say(gettext("%(code)s %(target)s: %(new)s (before: %(old)s).") % {
                "code": code, "target": what,
                "new": _hours(now.seconds(self.new.calendar(changed[0]))),
                "old": _hours(was.seconds(self.old.calendar(changed[0])))})
            return
        for cal in changed:
            self.say(gettext("%(code)s %(target)s on the %(calendar)s calendar: %(new)s (before: "
                        "%(old)s).") % {
                "code": code, "target": what, "calendar": self.cal_name(cal),
                "new": _duration(now, self.new.calendar(cal)),
                "old": _duration(was, self.old.calendar(cal))})

    def calendars(self) -> None:
        old, new = self.old, self.new
        for name in [*old.calendars, *(c for c in new.calendars if c not in old.calendars)]:
            if name not in new.calendars:
                self.say(gettext("The support calendar %(name)s is removed.") % {
                    "name": self.cal_name(name)})
                continue
            b = new.calendars[name]
            if name not in old.calendars:
                self.say(gettext("New support calendar %(name)s: %(hours)s, %(zone)s, "
                            "%(holidays)s.") % {
                    "name": self.cal_name(name), "hours": week_text(b), "zone": _zone_text(b),
                    "holidays": _holiday_text(b)})
                continue
            a = old.calendars[name]
            label = self.cal_name(name)
            if a.hours != b.hours:
                self.say(gettext("%(name)s calendar hours: %(new)s (before: %(old)s).") % {
                    "name": label, "new": week_text(b), "old": week_text(a)})
            if a.zone != b.zone:
                self.say(gettext("%(name)s calendar time zone: %(new)s (before: %(old)s).") % {
                    "name": label, "new": _zone_text(b), "old": _zone_text(a)})
            if (a.holiday_country, a.holiday_subdiv, a.holiday_categories) != (
                    b.holiday_country, b.holiday_subdiv, b.holiday_categories):
                self.say(gettext("%(name)s calendar closes on %(new)s (before: %(old)s).") % {
                    "name": label, "new": _holiday_text(b), "old": _holiday_text(a)})
            added = sorted(b.closed_dates - a.closed_dates)
            removed = sorted(a.closed_dates - b.closed_dates)
            if added:
                self.say(gettext("%(name)s calendar is also closed on %(dates)s.") % {
                    "name": label, "dates": _list(d.isoformat() for d in added)})
            if removed:
                self.say(gettext("%(name)s calendar is no longer closed on %(dates)s.") % {
                    "name": label, "dates": _list(d.isoformat() for d in removed)})
            if a.business_day_seconds != b.business_day_seconds:
                self.say(gettext("A business day on the %(name)s calendar: %(new)s (before: "
                            "%(old)s).") % {
                    "name": label, "new": _hours(b.business_day_seconds),
                    "old": _hours(a.business_day_seconds)})

    def calendar_rules(self) -> None:
        old, new = self.old, self.new
        if old.default_calendar != new.default_calendar:
            self.say(gettext("Sites in countries no rule names use the %(new)s calendar (before: "
                        "%(old)s).") % {"new": self.cal_name(new.default_calendar),
                                        "old": self.cal_name(old.default_calendar)})
        countries = sorted({c for rule in (*old.calendar_rules, *new.calendar_rules)
                            for c in rule.countries})
        for country in countries:
            was, now = old.calendar_for_country(country), new.calendar_for_country(country)
            if was != now:
                self.say(gettext("Sites in %(country)s use the %(new)s calendar (before: %(old)s).")
                         % {"country": country, "new": self.cal_name(now),
                            "old": self.cal_name(was)})

    def escalation(self) -> None:
        old, new, lang = self.old, self.new, self.lang
        before = {lv.level: lv for lv in old.escalation_levels}
        after = {lv.level: lv for lv in new.escalation_levels}
        for level in sorted(set(before) | set(after)):
            if level not in after:
                self.say(gettext("Escalation level %(level)d is removed.") % {"level": level})
            elif level not in before:
                lv = after[level]
                self.say(gettext("New escalation level %(level)d: %(name)s (%(roles)s).") % {
                    "level": level, "name": lv.name.get(lang),
                    "roles": _list(_role(r) for r in lv.roles)})
            else:
                a, b = before[level], after[level]
                if a.name.get(lang) != b.name.get(lang):
                    self.say(gettext("Escalation level %(level)d is now: %(new)s "
                                     "(before: %(old)s).")
                             % {"level": level, "new": b.name.get(lang),
                                "old": a.name.get(lang)})
                if a.roles != b.roles:
                    self.say(gettext("Escalation level %(level)d is taken on by %(new)s (before: "
                                "%(old)s).") % {
                        "level": level, "new": _list(_role(r) for r in b.roles),
                        "old": _list(_role(r) for r in a.roles)})
        if old.escalation_subject != new.escalation_subject:
            self.say(gettext("To escalate by e-mail, write “%(new)s” and the case number in the "
                        "subject (before: “%(old)s”).") % {
                "new": new.escalation_subject, "old": old.escalation_subject})
        if old.escalation_direct_priorities != new.escalation_direct_priorities:
            self.say(gettext("An escalation by e-mail goes straight to the top level for %(new)s "
                        "(before: %(old)s).") % {
                "new": _list(new.escalation_direct_priorities),
                "old": _list(old.escalation_direct_priorities)})

    def coded(self) -> None:
        lang = self.lang
        pairs = (
            (self.old.out_of_scope, self.new.out_of_scope,
             _("Out of scope for support, handled by professional services: %(name)s."),
             _("No longer out of scope for support: %(name)s.")),
            (self.old.exclusions, self.new.exclusions,
             _("New exclusion from the service levels: %(name)s."),
             _("No longer an exclusion from the service levels: %(name)s.")),
        )
        for old, new, added_text, removed_text in pairs:
            before = {c.code: c for c in old}
            after = {c.code: c for c in new}
            for code, c in after.items():
                if code not in before:
                    self.say(str(added_text) % {"name": c.name.get(lang)})
            for code, c in before.items():
                if code not in after:
                    self.say(str(removed_text) % {"name": c.name.get(lang)})
        if self.old.out_of_scope_route.get(lang) != self.new.out_of_scope_route.get(lang):
            self.say(gettext("Where out-of-scope requests go: %(text)s") % {
                "text": self.new.out_of_scope_route.get(lang)})

    def phone_lines(self) -> None:
        before = {(line.region, line.number): line for line in self.old.phone_lines}
        after = {(line.region, line.number): line for line in self.new.phone_lines}
        for key, line in after.items():
            if key not in before:
                self.say(gettext("New phone line %(number)s (%(region)s), %(calendar)s hours.") % {
                    "number": line.number, "region": line.region,
                    "calendar": self.cal_name(line.calendar)})
            elif before[key].calendar != line.calendar:
                self.say(gettext("The phone line %(number)s (%(region)s) follows the %(calendar)s "
                            "hours.") % {"number": line.number, "region": line.region,
                                         "calendar": self.cal_name(line.calendar)})
        for key, line in before.items():
            if key not in after:
                self.say(gettext("The phone line %(number)s (%(region)s) is withdrawn.") % {
                    "number": line.number, "region": line.region})
