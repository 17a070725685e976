"""The demo data set of ``slpdesk demo``: :func:`load_demo`.

Organisations of every kind in the US (New York and Los Angeles time), the
UK, Sweden, Germany and India; active and expired agreements; the current,
previous and an unsupported release; users for every role; and about fifty
cases in every state. Cases are made only through the service verbs, so each
carries a real event history and real SLA columns.

Every time is derived from the ``now`` passed in. Running clocks are placed
in *business* time before ``now`` (a P1 received 1 h 40 business minutes
ago is at risk whatever the day), so each badge appears whether the demo is
loaded on a Tuesday morning or a Sunday night. At the end every case's SLA
is refreshed at ``now``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.contrib.auth.hashers import make_password
from django.db import transaction

from slpdesk.sla import BusinessCalendar

from . import canned, services
from .models import (
    Agreement,
    CalendarClosure,
    Case,
    Organisation,
    Outbox,
    PolicyVersion,
    Release,
    Site,
    User,
)

DEMO_PASSWORD = "slpdesk-demo"
#: The organisation whose presence means the demo is loaded.
MARKER = "Northwind Machining Inc."

Kind = Organisation.Kind
Role = User.Role

# name, kind, partner (supported through), e-mail domain,
# sites: (key, name, country, zone, agreement: "active" / "expired" / None)
ORGANISATIONS = [
    ("Northwind Machining Inc.", Kind.CUSTOMER, None, "northwind.example", [
        ("hartford", "Hartford, CT", "US", "America/New_York", "active"),
        ("sanjose", "San Jose, CA", "US", "America/Los_Angeles", "active"),
    ]),
    ("Pacific Mold & Die Co.", Kind.CUSTOMER, None, "pacificmold.example", [
        ("portland", "Portland, OR", "US", "America/Los_Angeles", "active"),
    ]),
    ("Sheffield Precision Ltd", Kind.CUSTOMER, None, "sheffieldprecision.example", [
        ("sheffield", "Sheffield", "GB", "Europe/London", "active"),
    ]),
    ("Göta Verktyg AB", Kind.CUSTOMER, None, "gotaverktyg.example", [
        ("goteborg", "Göteborg", "SE", "Europe/Stockholm", "active"),
    ]),
    ("Schwarzwald Fräsen GmbH", Kind.CUSTOMER, None, "schwarzwald-fraesen.example", [
        ("freiburg", "Freiburg", "DE", "Europe/Berlin", "active"),
    ]),
    ("Pune Precision Components Pvt Ltd", Kind.CUSTOMER, None, "puneprecision.example", [
        ("pune", "Pune", "IN", "Asia/Kolkata", "active"),
    ]),
    ("Nordic CAM Partners AB", Kind.CHANNEL_PARTNER, None, "nordiccam.example", [
        ("stockholm", "Stockholm", "SE", "Europe/Stockholm", "active"),
    ]),
    ("Småland Gjuteri AB", Kind.CUSTOMER, "Nordic CAM Partners AB", "smalandgjuteri.example", [
        ("jonkoping", "Jönköping", "SE", "Europe/Stockholm", "active"),
    ]),
    ("Rheinwerk Maschinenbau GmbH", Kind.OEM_PARTNER, None, "rheinwerk.example", [
        ("stuttgart", "Stuttgart", "DE", "Europe/Berlin", "active"),
    ]),
    ("Brightline Training Partners", Kind.OTHER_PARTNER, None, "brightline.example", [
        ("boston", "Boston, MA", "US", "America/New_York", "active"),
    ]),
    ("Kaveri CAM Services", Kind.CHANNEL_PARTNER, None, "kavericam.example", [
        ("bengaluru", "Bengaluru", "IN", "Asia/Kolkata", "active"),
    ]),
    ("Oldfield Fabrication LLC", Kind.CUSTOMER, None, "oldfieldfab.example", [
        ("sacramento", "Sacramento, CA", "US", "America/Los_Angeles", "expired"),
    ]),
]

# username, first, last, role, organisation (None: the vendor), language, zone
USERS = [
    ("admin", "Ada", "Admin", Role.ADMIN, None, "en", "Europe/Stockholm"),
    ("david.miller", "David", "Miller", Role.MANAGER, None, "en", "America/New_York"),
    ("sofia.berg", "Sofia", "Berg", Role.SUPERVISOR, None, "sv", "Europe/Stockholm"),
    ("helen.ward", "Helen", "Ward", Role.EXECUTIVE, None, "en", "Europe/London"),
    ("anna.lind", "Anna", "Lind", Role.AGENT, None, "sv", "Europe/Stockholm"),
    ("james.carter", "James", "Carter", Role.AGENT, None, "en", "America/New_York"),
    ("carlos.ruiz", "Carlos", "Ruiz", Role.AGENT, None, "en", "America/Los_Angeles"),
    ("priya.nair", "Priya", "Nair", Role.AGENT, None, "en", "Asia/Kolkata"),
    ("ellen.brooks", "Ellen", "Brooks", Role.CUSTOMER, "Northwind Machining Inc.", "en",
     "America/New_York"),
    ("mike.chen", "Mike", "Chen", Role.CUSTOMER, "Northwind Machining Inc.", "en",
     "America/Los_Angeles"),
    ("rosa.alvarez", "Rosa", "Alvarez", Role.CUSTOMER, "Pacific Mold & Die Co.", "en",
     "America/Los_Angeles"),
    ("tom.hughes", "Tom", "Hughes", Role.CUSTOMER, "Sheffield Precision Ltd", "en",
     "Europe/London"),
    ("karin.nilsson", "Karin", "Nilsson", Role.CUSTOMER, "Göta Verktyg AB", "sv",
     "Europe/Stockholm"),
    ("erik.johansson", "Erik", "Johansson", Role.CUSTOMER, "Göta Verktyg AB", "sv",
     "Europe/Stockholm"),
    ("lena.weber", "Lena", "Weber", Role.CUSTOMER, "Schwarzwald Fräsen GmbH", "en",
     "Europe/Berlin"),
    ("arjun.mehta", "Arjun", "Mehta", Role.CUSTOMER, "Pune Precision Components Pvt Ltd", "en",
     "Asia/Kolkata"),
    ("lars.svensson", "Lars", "Svensson", Role.CUSTOMER, "Nordic CAM Partners AB", "sv",
     "Europe/Stockholm"),
    ("ingrid.holm", "Ingrid", "Holm", Role.CUSTOMER, "Småland Gjuteri AB", "sv",
     "Europe/Stockholm"),
    ("jonas.keller", "Jonas", "Keller", Role.CUSTOMER, "Rheinwerk Maschinenbau GmbH", "en",
     "Europe/Berlin"),
    ("grace.kim", "Grace", "Kim", Role.CUSTOMER, "Brightline Training Partners", "en",
     "America/New_York"),
    ("ravi.iyer", "Ravi", "Iyer", Role.CUSTOMER, "Kaveri CAM Services", "en", "Asia/Kolkata"),
    ("dan.oldfield", "Dan", "Oldfield", Role.CUSTOMER, "Oldfield Fabrication LLC", "en",
     "America/Los_Angeles"),
]


def is_loaded() -> bool:
    return Organisation.objects.filter(name=MARKER).exists()


def logins_text() -> str:
    """The demo log-ins, one user a line, for the terminal."""
    lines = [f"Demo log-ins (password for all: {DEMO_PASSWORD}):"]
    for username, first, last, role, org, language, zone in USERS:
        where = org or "vendor staff"
        lines.append(f"  {username:<15} {first} {last}: {Role(role).label}, {where} "
                     f"({language}, {zone})")
    return "\n".join(lines)


def summary() -> str:
    counts = Counter(Case.objects.values_list("status", flat=True))
    parts = ", ".join(f"{n} {Case.Status(s).label.lower()}" for s, n in sorted(counts.items()))
    return f"{Organisation.objects.count()} organisations, {sum(counts.values())} cases: {parts}"


# ------------------------------------------------------------------ building
@dataclass
class _Demo:
    now: datetime
    policy_version: PolicyVersion
    sites: dict[str, Site] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    releases: dict[str, Release] = field(default_factory=dict)

    def calendar(self, site: Site) -> BusinessCalendar:
        policy = self.policy_version.load()
        return CalendarClosure.compiled(policy, site.calendar_name(policy), site.time_zone)

    def business_ago(self, site: Site, hours: float) -> datetime:
        """The instant ``hours`` business hours before ``now`` on the site's calendar."""
        cal = self.calendar(site)
        left = round(hours * 3600)
        for lo, hi in reversed(cal.intervals(self.now - timedelta(days=120), self.now)):
            span = int((hi - lo).total_seconds())
            if span >= left:
                return hi - timedelta(seconds=left)
            left -= span
        raise ValueError(f"{hours} business hours do not fit before {self.now}")

    def story(self, site: str, contact: str, priority: str, title: str, *,
              ago: float | None = None, days: float | None = None, agent: str = "james.carter",
              channel: str = Case.Channel.PORTAL, release: str = "current",
              request_type: str = "", description: str = "") -> _Story:
        """A case received ``ago`` business hours or ``days`` calendar days before now."""
        the_site = self.sites[site]
        if ago is not None:
            received = self.business_ago(the_site, ago)
        else:
            # In the last business hours on or before that day, early or late by the title.
            cal = self.calendar(the_site)
            before = self.now - timedelta(days=days)
            lo, hi = cal.intervals(before - timedelta(days=30), before)[-1]
            received = min(lo + timedelta(minutes=len(title) * 7 % 180),
                           hi - timedelta(minutes=1))
        contact_user = self.users[contact]
        staff = self.users[agent]
        actor = staff if channel == Case.Channel.PHONE else contact_user
        self._check(received)
        case = services.receive_case(
            the_site, contact=contact_user, channel=channel, proposed_priority=priority,
            title=title, description=description or title + ".",
            system_details="Windows 11 Pro 23H2, 64 GB RAM, NVIDIA RTX A2000",
            release=self.releases[release] if release else None, request_type=request_type,
            actor=actor, now=received)
        return _Story(self, case, self.calendar(the_site), received, staff)

    def _check(self, at: datetime) -> None:
        if at > self.now:
            raise ValueError(f"demo history runs past now: {at} > {self.now}")


class _Story:
    """One case's history; each step runs a service verb ``h`` business hours after receipt."""

    def __init__(self, demo: _Demo, case: Case, cal: BusinessCalendar, received: datetime,
                 agent: User):
        self.demo, self.case, self.cal, self.received, self.agent = (
            demo, case, cal, received, agent)

    def _at(self, hours: float) -> datetime:
        at = self.cal.add(self.received, round(hours * 3600))
        self.demo._check(at)
        return at

    def target_hours(self, clock: str) -> float:
        """The case's ``clock`` target (response, resolution, update_interval) in hours."""
        seconds = self.case.policy().target_seconds(self.case.effective_priority(), clock,
                                                    self.case.calendar)
        return seconds / 3600

    def _staff(self, by: str | None) -> User:
        return self.demo.users[by] if by else self.agent

    def assign(self, h: float, to: str | None = None) -> _Story:
        services.assign(self.case, self._staff(to), actor=self.agent, now=self._at(h))
        return self

    def triage(self, h: float, priority: str | None = None, complete: bool = True) -> _Story:
        services.assign_priority(self.case, priority or self.case.proposed_priority,
                                 information_complete=complete, actor=self.agent,
                                 now=self._at(h))
        return self

    def reply(self, h: float, body: str) -> _Story:
        services.reply(self.case, body, actor=self.agent, now=self._at(h))
        return self

    def call(self, h: float, body: str) -> _Story:
        services.log_call(self.case, body, actor=self.agent, now=self._at(h))
        return self

    def note(self, h: float, body: str) -> _Story:
        services.add_note(self.case, body, actor=self.agent, now=self._at(h))
        return self

    def ask(self, h: float, body: str) -> _Story:
        services.request_information(self.case, body, actor=self.agent, now=self._at(h))
        return self

    def answer(self, h: float, body: str) -> _Story:
        services.record_customer_reply(self.case, body, actor=self.case.contact,
                                       now=self._at(h))
        return self

    def complete(self, h: float) -> _Story:
        services.mark_information_complete(self.case, actor=self.agent, now=self._at(h))
        return self

    def classify(self, h: float, kind: str, reference: str) -> _Story:
        services.classify(self.case, kind, reference, actor=self.agent, now=self._at(h))
        return self

    def resolve(self, h: float, resolution: str, summary: str) -> _Story:
        services.resolve(self.case, resolution, summary, actor=self.agent, now=self._at(h))
        return self

    def reopen(self, h: float, reason: str) -> _Story:
        services.reopen(self.case, reason, actor=self.case.contact, now=self._at(h))
        return self

    def escalate(self, h: float, reason: str, by: str | None = None) -> _Story:
        """The contact (or ``by``) escalates the case from the portal (X1)."""
        actor = self.demo.users[by] if by else self.case.contact
        services.escalate(self.case, reason, channel="portal", actor=actor, now=self._at(h))
        return self

    def acknowledge(self, h: float, by: str) -> _Story:
        escalation = self.case.escalations.order_by("-raised_at").first()
        services.acknowledge_escalation(escalation, actor=self.demo.users[by], now=self._at(h))
        return self

    def exclude(self, h: float, reason: str, note: str = "") -> _Story:
        services.exclude(self.case, reason, note, actor=self.agent, now=self._at(h))
        return self


def _configuration(now: datetime) -> _Demo:
    """Organisations, sites, agreements, releases and users (plain configuration)."""
    today = now.date()
    version = PolicyVersion.objects.in_force(now - timedelta(days=120))
    demo = _Demo(now=now, policy_version=version)

    for released, key in [(today - timedelta(days=100), "current"),
                          (today - timedelta(days=465), "previous"),
                          (today - timedelta(days=830), "unsupported")]:
        demo.releases[key] = Release.objects.create(name=f"{released:%Y.%m}",
                                                    released=released)

    organisations: dict[str, Organisation] = {}
    for name, kind, partner, _domain, sites in ORGANISATIONS:
        org = Organisation.objects.create(
            name=name, kind=kind, supported_by=organisations[partner] if partner else None)
        organisations[name] = org
        for key, site_name, country, zone, agreement in sites:
            site = Site.objects.create(organisation=org, name=site_name, country=country,
                                       time_zone=zone)
            demo.sites[key] = site
            ref = f"CONNECT-{org.pk:03d}-{site.pk:03d}"
            if agreement == "active":
                Agreement.objects.create(site=site, starts=_d(today, -300),
                                         ends=_d(today, 65), reference=ref)
                Agreement.objects.create(site=site, starts=_d(today, -665),
                                         ends=_d(today, -301), reference=ref + "-prev")
            elif agreement == "expired":
                Agreement.objects.create(site=site, starts=_d(today, -410),
                                         ends=_d(today, -45), reference=ref)

    password = make_password(DEMO_PASSWORD)  # hashed once: the slow part of a user
    domains = {name: domain for name, _k, _p, domain, _s in ORGANISATIONS}
    for username, first, last, role, org_name, language, zone in USERS:
        domain = domains[org_name] if org_name else "slpdesk.example"
        user = User.objects.create(
            username=username, first_name=first, last_name=last, role=role,
            email=f"{username}@{domain}", password=password,
            organisation=organisations[org_name] if org_name else None,
            language=language, time_zone=zone, phone="+1 555 0100" if not org_name else "",
            is_staff=role == Role.ADMIN, is_superuser=role == Role.ADMIN)
        demo.users[username] = user
        org = user.organisation
        if org is not None and org.technical_contact_id is None:
            org.technical_contact = user
            org.save(update_fields=["technical_contact"])
    return demo


#: Shared canned replies (issue 13), owned by the supervisor: (title, action, English,
#: Swedish). Every placeholder is one :data:`canned.PLACEHOLDERS` knows.
CANNED_REPLIES = [
    ("Ask for the controller logs", "request_info",
     "Hello {contact_name},\n\nTo find out what is going on in {case_number} we need the "
     "controller's log files from the last day the fault happened. Please attach them to "
     "the case or answer this e-mail with them. While we wait for them the resolution "
     "clock is paused.\n\nBest regards,\n{agent_name}",
     "Hej {contact_name}!\n\nFör att förstå vad som händer i {case_number} behöver vi "
     "styrsystemets loggfiler från den senaste dagen då felet uppstod. Bifoga dem till "
     "ärendet eller svara på det här mejlet med dem. Medan vi väntar på dem står "
     "lösningsklockan still.\n\nVänliga hälsningar\n{agent_name}"),
    ("We are on it", "reply",
     "Hello {contact_name},\n\nThank you for reporting this. {case_number} is with our "
     "engineers now. You will hear from us again by {next_update_due}, and we aim to "
     "have it solved by {resolution_due}.\n\nBest regards,\n{agent_name}",
     "Hej {contact_name}!\n\nTack för att du hörde av dig. {case_number} ligger nu hos "
     "våra tekniker. Du hör av oss igen senast {next_update_due}, och vi siktar på att "
     "ha löst det senast {resolution_due}.\n\nVänliga hälsningar\n{agent_name}"),
    ("Status: still investigating", "",
     "Hello {contact_name},\n\nA short update on {case_number}: we are still working on "
     "it and have nothing final to report yet. The next update comes by "
     "{next_update_due} at the latest.\n\n{agent_name}",
     "Hej {contact_name}!\n\nEn kort lägesrapport om {case_number}: vi arbetar "
     "fortfarande med det och har inget slutligt besked ännu. Nästa rapport kommer "
     "senast {next_update_due}.\n\n{agent_name}"),
]


def _canned_replies(demo: _Demo) -> None:
    owner = demo.users["sofia.berg"]
    for title, action, english, swedish in CANNED_REPLIES:
        canned.save(None, {"title": title, "action": action, "shared": True,
                           "body_en": english, "body_sv": swedish},
                    actor=owner, now=demo.now)


def _d(today: date, days: int) -> date:
    return today + timedelta(days=days)


def _cases(d: _Demo) -> None:
    """The cases, grouped by the state they end in."""
    # -- new, not yet triaged: response clock running, at risk, breached
    d.story("hartford", "ellen.brooks", "P4",
            "How do I import a STEP assembly and keep its colours?", ago=0.5)
    d.story("goteborg", "erik.johansson", "P3",
            "Verktygsbiblioteket visar fel hållarlängd efter uppdatering", ago=1.5,
            agent="anna.lind", channel=Case.Channel.EMAIL)
    d.story("pune", "arjun.mehta", "P3", "Stock model not updated between operations",
            ago=3, agent="priya.nair")
    d.story("sanjose", "mike.chen", "P1",
            "Licence server down: no seat can start the software", ago=1.7, agent="carlos.ruiz")
    d.story("freiburg", "lena.weber", "P2",
            "Post processor stops with an error on every 5-axis program", ago=7)
    d.story("portland", "rosa.alvarez", "P3",
            "Verify crashes when the stock is larger than 2 m", ago=30, agent="carlos.ruiz")
    d.story("sheffield", "tom.hughes", "P2", "Toolpaths regenerate for hours after a save",
            ago=11, channel=Case.Channel.EMAIL)

    # -- open, being worked: resolution running, at risk, breached
    (d.story("hartford", "ellen.brooks", "P2", "Dynamic mill gouges the floor on pocket 3",
             ago=6)
     .triage(0.3).assign(0.3).reply(0.6, "We can reproduce it and are looking into it."))
    (d.story("stuttgart", "jonas.keller", "P3",
             "OEM build: machine definition not found after install", ago=14)
     .triage(1).assign(1, "priya.nair").reply(1.5, "Please try the attached machine file.")
     .note(2, "Looks like the OEM installer skips the machine folder."))
    (d.story("sanjose", "mike.chen", "P1", "All posted programs have wrong work offsets",
             ago=7, agent="carlos.ruiz", channel=Case.Channel.PHONE)
     .triage(0.1).assign(0.1).call(0.3, "Called Mike, collected the post and a sample part.")
     .reply(2.2, "Status: a fix for the post is being tested.")
     .reply(4.1, "Status: the fixed post works for two of three machines.")
     .reply(6, "Status: testing the last machine with Mike's team."))
    (d.story("freiburg", "lena.weber", "P2", "Simulation shows collisions that do not happen",
             ago=22)
     .triage(0.5).reply(1, "Thanks, we are checking your machine model.")
     .reply(8.5, "Status: the collision comes from the holder definition.")
     .escalate(9, "Our production planning depends on the simulation; we need a date.")
     .acknowledge(9.5, "sofia.berg")
     .reply(16, "Status: a corrected holder library is on its way."))
    (d.story("bengaluru", "ravi.iyer", "P1", "Reseller licence portal rejects every activation",
             ago=12, agent="priya.nair")
     .triage(0.2).assign(0.2).reply(0.5, "We are on it.")
     .reply(2.4, "Status: the activation service is being restarted.")
     .reply(4.3, "Status: partly working again; we keep monitoring.")
     .reply(6.2, "Status: a second fault found in the licence database.")
     .escalate(6.5, "None of our customers can activate; this is critical for us.")
     .escalate(7, "Still down after a full business day.", by="ravi.iyer"))
    (d.story("portland", "rosa.alvarez", "P2", "Mold base surface toolpath skips ribs",
             ago=30, agent="carlos.ruiz")
     .triage(0.5).reply(1, "We have your file and are testing it.")
     .reply(8, "Status: reproduced on the current release.")
     .reply(15, "Status: a workaround is being checked.")
     .reply(22, "Status: the workaround fails on two ribs; still working on it.")
     .reply(29, "Status: escalated to development."))
    (d.story("goteborg", "karin.nilsson", "P3", "Gängfräsning ger fel stigning i G-koden",
             ago=20, agent="anna.lind")
     .triage(2, complete=False).assign(2)
     .reply(3, "Tack, vi tittar på det. Kan du skicka din postprocessor?")
     .complete(5))

    # -- waiting on the customer (clocks paused), and back from waiting
    (d.story("hartford", "ellen.brooks", "P3", "Chip thinning values ignored in HST",
             ago=10)
     .triage(0.5).ask(1, "Could you send the part file and the tool library?"))
    (d.story("sheffield", "tom.hughes", "P4", "Setup sheet template loses the company logo",
             days=24)
     .triage(1).ask(2, "Which setup sheet template do you use? Please attach it."))
    (d.story("stockholm", "lars.svensson", "P2",
             "Kund hos återförsäljare: nätverkslicens tappar anslutning", ago=16,
             agent="anna.lind")
     .triage(0.5).ask(1, "Kan ni skicka loggfilen från licensservern?"))
    (d.story("boston", "grace.kim", "P3", "Training machine simulator freezes on tool change",
             ago=18)
     .triage(0.5).ask(1.5, "Which version of the simulator plugin is installed?")
     .answer(6, "Version 4.2, installed last week.")
     .reply(7, "Thanks, we are testing with 4.2 now."))
    (d.story("pune", "arjun.mehta", "P2", "Lathe post writes G96 without a speed limit",
             ago=20, agent="priya.nair")
     .triage(0.3).ask(1, "Please send the control model and the post file.")
     .answer(3, "Attached: Fanuc 0i-TF, our post.")
     .reply(4, "Reproduced: working on a fix."))

    # -- resolved: fixed, timeline, no defect (met and breached)
    resolved = [
        ("hartford", "ellen.brooks", "P3", "Drill cycle outputs G81 instead of G83", 8,
         "fixed", "Peck drilling option enabled in the post; G83 now output."),
        ("sanjose", "mike.chen", "P2", "Network licence not released after a crash", 6,
         "fixed", "Licence timeout lowered to 15 minutes on the server."),
        ("sheffield", "tom.hughes", "P3", "Tool numbers renumbered after import", 10,
         "fixed", "Import option 'keep tool numbers' switched on."),
        ("freiburg", "lena.weber", "P2", "Crash when opening very old part files", 17,
         "timeline", "A fix is scheduled for the next update in four weeks."),
        ("goteborg", "karin.nilsson", "P4", "Svensk översättning saknas i en dialogruta", 14,
         "timeline", "Översättningen kommer i nästa underhållsrelease."),
        ("pune", "arjun.mehta", "P3", "Wrong feed on arcs with cutter compensation", 20,
         "no-defect", "Feed is correct for the tool centre; explained the setting."),
        ("portland", "rosa.alvarez", "P4", "Question about perpetual licence renewal", 23,
         "no-defect", "Answered; no defect."),
        ("boston", "grace.kim", "P3", "Class licences expire a day early", 26,
         "fixed", "Licence server clock corrected."),
        ("stuttgart", "jonas.keller", "P2", "OEM post: axis limits not checked", 29,
         "timeline", "Limit checking will ship in the OEM kit due next quarter."),
        ("bengaluru", "ravi.iyer", "P4", "Documentation link broken in the installer", 33,
         "fixed", "Link fixed on the download server."),
    ]
    for n, (site, contact, prio, title, days, resolution, summary) in enumerate(resolved):
        late = n % 4 == 3  # every fourth one is resolved after its target
        agent = ["james.carter", "carlos.ruiz", "anna.lind", "priya.nair"][n % 4]
        story = (d.story(site, contact, prio, title, days=days, agent=agent)
                 .triage(0.5).assign(0.5).reply(1, "Thanks, we are looking into it."))
        hours = story.target_hours("resolution")
        done = hours + 6 if late else hours * 0.6
        if hours > 8:
            story.reply(min(hours / 3, 16), "Status: still investigating.")
        story.resolve(done, resolution, summary)
    (d.story("hartford", "ellen.brooks", "P1", "Production stopped: software will not start",
             days=12, channel=Case.Channel.PHONE)
     .triage(0).call(0.2, "Remote session: repaired the .NET runtime.")
     .resolve(1.5, "fixed", "Repaired the runtime; production running again."))
    (d.story("goteborg", "erik.johansson", "P4", "Hur ändrar jag standardmaterial?", days=8,
             agent="anna.lind")
     .resolve(2, "no-defect", "Instruktion skickad; ingen defekt."))  # never triaged

    # -- reopened after a resolution
    (d.story("sanjose", "mike.chen", "P3", "Toolpath display flickers on the second monitor",
             days=11, agent="carlos.ruiz")
     .triage(0.5).reply(1, "Please update the graphics driver.")
     .resolve(3, "fixed", "Graphics driver updated.")
     .reopen(20, "The flicker is back after a reboot."))
    (d.story("freiburg", "lena.weber", "P3", "Measured stock offsets are lost on save",
             days=16)
     .triage(0.5).reply(2, "We found a setting that explains it.")
     .resolve(5, "no-defect", "Offsets must be saved in the stock manager.")
     .reopen(30, "They are lost even when saved in the stock manager.")
     .reply(31, "Thanks: we can reproduce it now."))

    # -- bugs and defects: no resolution target (K4)
    (d.story("sheffield", "tom.hughes", "P2", "Slot mill leaves a step at the slot end",
             days=13)
     .triage(0.5).reply(1, "Reproduced.")
     .classify(3, Case.Kind.BUG, "BUG-41207").reply(10, "Status: the bug is scheduled."))
    (d.story("pune", "arjun.mehta", "P3", "Feature recognition misses blind holes",
             days=19, agent="priya.nair")
     .triage(1).reply(2, "Reproduced with your model.")
     .classify(4, Case.Kind.DEFECT, "DEF-2291")
     .resolve(12, "timeline", "Fix planned for the next service pack."))
    (d.story("stuttgart", "jonas.keller", "P2", "OEM kit: kinematics wrong for B-axis head",
             ago=28, agent="priya.nair")
     .triage(0.5).reply(1, "Reproduced with the OEM kit.")
     .classify(2, Case.Kind.DEFECT, "DEF-2310").reply(9, "Status: defect under repair."))
    (d.story("goteborg", "karin.nilsson", "P3", "Rapport visar fel bearbetningstid",
             days=6, agent="anna.lind")
     .triage(1).reply(2, "Vi har återskapat felet.")
     .classify(3, Case.Kind.BUG, "BUG-41388"))

    # -- excluded (E6) after triage
    (d.story("portland", "rosa.alvarez", "P2", "Crash after editing the installation files",
             days=9, agent="carlos.ruiz")
     .triage(0.5).reply(1, "The program files were changed by hand.")
     .exclude(2, "altered", "Program files edited by a third-party add-on."))
    (d.story("boston", "grace.kim", "P3", "Machines in the lab lose power during posting",
             days=15)
     .triage(1).exclude(3, "outside-control", "Power supply fault in the training lab."))
    (d.story("hartford", "ellen.brooks", "P3", "Software slow on Windows 7 workstation",
             days=20)
     .triage(1).reply(2, "Windows 7 is not a supported operating system.")
     .exclude(2.5, "unsupported-environment"))
    (d.story("freiburg", "lena.weber", "P4", "Please train our new programmers on-site",
             days=5)
     .triage(0.5).exclude(1, "services", "Referred to the training team."))

    # -- not covered at intake (E2-E5): recorded, closed, no clock
    d.story("sacramento", "dan.oldfield", "P2", "Licence expired message on start-up", days=4)
    d.story("sacramento", "dan.oldfield", "P3", "Posts for the new lathe", ago=2,
            channel=Case.Channel.EMAIL)
    d.story("jonkoping", "ingrid.holm", "P2", "Simuleringen kraschar vid start", days=7,
            agent="anna.lind")
    d.story("jonkoping", "ingrid.holm", "P4", "Fråga om licensflytt", ago=4, agent="anna.lind")
    # The partner opens the end user's case itself: covered (E3).
    (d.story("jonkoping", "lars.svensson", "P3", "Småland Gjuteri: efterbehandlaren saknar "
             "M-koder", ago=3, agent="anna.lind")
     .triage(0.5).assign(0.5).reply(1, "Tack, vi tittar på efterbehandlaren."))
    d.story("sheffield", "tom.hughes", "P3", "Crash in the 2-year-old release", days=10,
            release="unsupported")
    d.story("bengaluru", "ravi.iyer", "P3", "Old release: toolpath colours wrong", days=3,
            release="unsupported", agent="priya.nair")
    d.story("stuttgart", "jonas.keller", "P3", "How do I call the SDK from C#?", days=18,
            request_type="sdk")
    d.story("hartford", "ellen.brooks", "P4", "Please change our post to output comments",
            days=2, request_type="post-processor")
    d.story("sanjose", "mike.chen", "P3", "Write a custom trochoidal toolpath for us", days=22,
            request_type="custom-toolpath", agent="carlos.ruiz")


@transaction.atomic
def load_demo(now: datetime) -> bool:
    """Create the demo data set as of ``now``; nothing if it is there. True if created."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    if is_loaded():
        return False
    demo = _configuration(now)
    _canned_replies(demo)
    _cases(demo)
    for case in Case.objects.select_for_update().order_by("pk"):
        services.refresh_sla(case, now)
    # The mails of the made-up history are settled, never sent: the demo's worker mails
    # what happens from now on (and SLA moments), not 160 mails about the past.
    Outbox.objects.filter(state=Outbox.State.PENDING).update(
        state=Outbox.State.DONE, finished_at=now, last_error="demo history: not sent")
    return True
