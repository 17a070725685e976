"""The customer and partner portal: whether support is open, the organisation's
cases, opening a case, and following one (reply, files, escalation, reopening).

Every object comes from :mod:`slpdesk.desk.access`; every change goes through
:mod:`slpdesk.desk.services`, with ``now`` read once per request.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from slpdesk.desk import access, badges, conversation, search, services
from slpdesk.desk.models import (
    CalendarClosure,
    Case,
    Escalation,
    FormSubmission,
    PolicyVersion,
    Release,
)
from slpdesk.desk.publishing import week_text
from slpdesk.desk.services import DeskError
from slpdesk.mail import inbound
from slpdesk.reports.statements import as_csv, month_days
from slpdesk.sla import SITE_ZONE, CalendarSpec, Policy, get_zone, public_holidays
from slpdesk.web.views import start_page

from .forms import EscalateForm, NewCaseForm, ReopenForm, ReplyForm, UploadForm

PAGE_SIZE = 25
SHOW = ("open", "waiting", "all")


def contact_required(view: Callable) -> Callable:
    """Customers' and partners' people only: anonymous users go to the log-in page,
    the vendor's staff to the console, anyone else gets 403."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if access.is_staff(user):
            return redirect(start_page(user))
        if not access.is_contact(user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


# ------------------------------------------------------------------ helpers
def hours_text(spec: CalendarSpec) -> str:
    """A calendar's weekly hours, as ``Mon–Fri 08:00–17:00``."""
    return week_text(spec)


def holidays_text(spec: CalendarSpec) -> str:
    if not spec.holiday_country:
        return ""
    where = spec.holiday_country + (f"-{spec.holiday_subdiv}" if spec.holiday_subdiv else "")
    return _("closed on public holidays (%(where)s)") % {"where": where}


def duration_text(seconds: int) -> str:
    """A target's business time: in whole hours, or in minutes when not whole hours."""
    hours, rest = divmod(seconds, 3600)
    if rest:
        minutes = seconds // 60
        return ngettext("%(count)d business minute", "%(count)d business minutes",
                        minutes) % {"count": minutes}
    return ngettext("%(count)d business hour", "%(count)d business hours", hours) % {
        "count": hours}


def target_rows(policy: Policy, calendars: list[str]) -> list[dict]:
    """Each priority with its response and resolution targets on each of ``calendars``."""
    rows = []
    for code, priority in policy.priorities.items():
        targets = []
        for name in calendars:
            spec = policy.calendar(name)
            resolution = duration_text(priority.resolution.seconds(spec))
            if priority.resolution.unit == "d":
                days = priority.resolution.value
                resolution = ngettext("%(days)d business day (%(hours)s)",
                                      "%(days)d business days (%(hours)s)", days) % {
                    "days": days, "hours": resolution}
            targets.append({
                "calendar": policy.calendar_names.get(name),
                "response": duration_text(priority.response.seconds(spec)),
                "resolution": resolution,
            })
        rows.append({"code": code, "priority": priority, "targets": targets})
    return rows


def own_sites(user) -> list:
    """The sites of the user's own organisation (for a partner without sites of its own:
    the sites of the end users it supports)."""
    sites = access.sites_for(user).select_related("organisation")
    own = [s for s in sites if s.organisation_id == user.organisation_id]
    return own or list(sites)


CLOSED_AHEAD_DAYS = 45  # how far ahead the portal lists the days support is closed
CLOSED_AHEAD_MAX = 5


def closed_days_ahead(spec: CalendarSpec, zone: str, now: datetime, closed: list[date]
                      ) -> list[dict]:
    """The next working days on which support is closed (C1, C4): public holidays,
    named in the viewer's language where the holiday data has it (issue 13), and the
    calendar's extra closed dates, in the calendar's zone, at most CLOSED_AHEAD_MAX."""
    today = now.astimezone(get_zone(zone)).date()
    last = today + timedelta(days=CLOSED_AHEAD_DAYS)
    days = {d: _("Support is closed") for d in (*spec.closed_dates, *closed)}
    days.update(public_holidays(spec, range(today.year, last.year + 1),
                                translation.get_language()))
    ahead = sorted((d, name) for d, name in days.items()
                   if today <= d <= last and spec.hours[d.weekday()])
    return [{"date": d, "name": name} for d, name in ahead[:CLOSED_AHEAD_MAX]]


def support_regions(sites: list, policy: Policy, now: datetime, closed: dict) -> list[dict]:
    """Whether support is open now for each distinct calendar of ``sites`` (C6): until
    when, or when it opens again. Sites on the same calendar in the same zone share one."""
    groups: dict[tuple[str, str], list] = {}
    for site in sites:
        name = site.calendar_name(policy)
        groups.setdefault((name, policy.calendar(name).zone_for(site.time_zone)), []).append(site)
    regions = []
    for (name, zone), group in groups.items():
        spec = policy.calendar(name)
        calendar = CalendarClosure.compiled(policy, name, group[0].time_zone,
                                            closed.get(name, []))
        is_open = calendar.is_open(now)
        regions.append({
            "name": name,
            "feed": feed_link(name, group[0].time_zone),
            "calendar": policy.calendar_names.get(name),
            "sites": group,
            "site_zone": group[0].time_zone,
            "hours": hours_text(spec),
            "holidays": holidays_text(spec),
            "closed_ahead": closed_days_ahead(spec, zone, now, closed.get(name, [])),
            "is_open": is_open,
            "until": calendar.next_close(now) if is_open else None,
            "opens": None if is_open else calendar.next_open(now),
        })
    return regions


def feed_link(calendar: str, zone: str) -> str:
    """The calendar feed of a support calendar in a site's zone, in the viewer's language."""
    return reverse("calendar_feed", kwargs={"calendar": calendar}) + "?" + urlencode(
        {"zone": zone, "lang": translation.get_language() or settings.LANGUAGE_CODE})


# --------------------------------------------------------------------- home
@contact_required
def home(request):
    user = request.user
    now = timezone.now()
    policy = PolicyVersion.objects.in_force(now).load()
    closed = badges.closures_by_calendar()
    sites = own_sites(user)

    regions = support_regions(sites, policy, now, closed)

    # Phone hours are in the caller's local time (the licensed user's): the zone of a
    # site in the line's region; with none there, the hours are shown without a zone.
    phone_lines = []
    for line in policy.phone_lines:
        spec = policy.calendar(line.calendar)
        site = next((s for s in sites if s.country == line.region), None)
        zone = None
        if spec.zone != SITE_ZONE or site is not None:
            zone = spec.zone_for(site.time_zone if site else None)
        is_open = None
        if zone is not None:
            calendar = CalendarClosure.compiled(policy, line.calendar, zone,
                                                closed.get(line.calendar, []))
            is_open = calendar.is_open(now)
        phone_lines.append({"line": line, "hours": hours_text(spec), "zone": zone,
                            "holidays": holidays_text(spec), "is_open": is_open})

    cases = access.cases_for(user)
    calendars = list(dict.fromkeys(r["name"] for r in regions)) or [policy.default_calendar]
    return render(request, "portal/home.html", {
        "policy": policy,
        "regions": regions,
        "viewer_zone": timezone.get_current_timezone_name(),
        "phone_lines": phone_lines,
        "open_count": cases.open().count(),
        "waiting_count": cases.filter(status=Case.Status.WAITING).count(),
        "priorities": target_rows(policy, calendars),
        "storage_used": services.storage_used(user.organisation_id),
        "storage_quota": settings.SLPDESK_ORG_STORAGE_BYTES,
    })


# --------------------------------------------------------------- case list
def _due_label(clock: str) -> str:
    return {
        "response": _("Response due by"),
        "resolution": _("Resolution due by"),
        "next_update": _("Next update due by"),
    }.get(clock, "")


@contact_required
def cases(request):
    user = request.user
    now = timezone.now()
    show = request.GET.get("show", "open")
    if show not in SHOW:
        show = "open"
    visible = access.cases_for(user)
    q = (request.GET.get("q") or "").strip()[:200]
    if q:  # a customer's search: their own cases, never an internal note
        number = search.jump(visible, q)
        if number:
            return redirect("portal:case", number)
        show = request.GET.get("show", "all")
        if show not in SHOW:
            show = "all"
    qs = visible.select_related("site", "organisation", "policy_version")
    if show == "open":
        qs = qs.open()
    elif show == "waiting":
        qs = qs.filter(status=Case.Status.WAITING)
    if q:
        qs = search.ranked(search.search(qs, q, staff=False))
    else:
        qs = qs.order_by("-updated_at", "-id")
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    closed = badges.closures_by_calendar()
    found = search.snippets([c.pk for c in page], q, staff=False) if q else {}
    rows = []
    for case in page:
        badge = badges.case_badge(case, now, closed)
        rows.append({"case": case, "badge": badge, "due_label": _due_label(badge.clock),
                     "snippet": found.get(case.pk, "")})
    return render(request, "portal/cases.html", {
        "page": page, "rows": rows, "show": show, "q": q,
        "tabs": [("open", _("Open")), ("waiting", _("Waiting on you")), ("all", _("All"))],
    })


# ------------------------------------------------------------------ new case
@contact_required
def new_case(request):
    user = request.user
    now = timezone.now()
    policy = PolicyVersion.objects.in_force(now).load()
    bound = request.method == "POST"
    form = NewCaseForm(request.POST if bound else None, request.FILES if bound else None,
                       user=user, policy=policy, today=timezone.localdate(now))
    if bound and form.is_valid():
        data = form.cleaned_data
        token = data["form_token"]
        earlier = _sent_before(request, token)
        if earlier is not None:
            return earlier
        try:
            with transaction.atomic():  # the case and its form token, or neither
                sent = token and FormSubmission.objects.create(user=user, token=token,
                                                               created_at=now)
                case = services.receive_case(
                    data["site"], contact=user, channel=Case.Channel.PORTAL,
                    proposed_priority=data["proposed_priority"], title=data["title"],
                    description=data["description"], system_details=data["system_details"],
                    release=data["release"], request_type=data["request_type"],
                    files=data["attachments"], actor=user, now=now)
                if sent:
                    sent.case = case
                    sent.save(update_fields=["case"])
        except IntegrityError:  # the same form, sent twice at once: the other one won
            earlier = _sent_before(request, token)
            if earlier is None:
                raise
            return earlier
        except DeskError as err:
            form.add_error(None, str(err))
        else:
            messages.success(request, _("Case %(number)s is received.") % {
                "number": case.number})
            return redirect("portal:case", number=case.number)
    calendars = list(dict.fromkeys(s.calendar_name(policy) for s in form.sites)) or [
        policy.default_calendar]
    return render(request, "portal/new_case.html", {
        "form": form,
        "regions": support_regions(own_sites(user), policy, now,
                                   badges.closures_by_calendar()),
        "viewer_zone": timezone.get_current_timezone_name(),
        "policy": policy,
        "priorities": target_rows(policy, calendars),
        "supported_releases": [r.name for r in form.supported_releases],
        "out_of_scope": [c.name.get(translation.get_language() or "en")
                         for c in policy.out_of_scope],
        "selected_priority": form["proposed_priority"].value(),
    })


def _sent_before(request, token: str):
    """The answer to a new-case form sent again (its one-time token used up already):
    the case it opened."""
    if not token:
        return None
    sent = FormSubmission.objects.filter(user=request.user, token=token,
                                         case__isnull=False).select_related("case").first()
    if sent is None:
        return None
    messages.info(request, _("This form was sent already: it opened case %(number)s.") % {
        "number": sent.case.number})
    return redirect("portal:case", number=sent.case.number)


# --------------------------------------------------------------------- case
def _case_page(request, case: Case, now: datetime, **forms):
    user = request.user
    policy = case.policy()
    top = max(level.level for level in policy.escalation_levels)
    level_names = {level.level: level.name for level in policy.escalation_levels}

    story = conversation.build(user, case, level_names, translation.get_language() or "en")

    escalations = [
        {"escalation": e, "name": level_names.get(e.level)}
        for e in access.escalations_for(user).filter(case=case)
    ]
    can_escalate = access.can_escalate(user, case, top)
    next_level = services.next_escalation_level(case, policy, Escalation.Channel.PORTAL)
    exclusion = next((c.name for c in policy.exclusions if c.code == case.exclusion_reason),
                     None)
    request_type = next((c.name for c in policy.out_of_scope if c.code == case.request_type),
                        None)
    clock_badges = badges.clock_badges(case, now)
    context = {
        "case": case,
        "policy": policy,
        "proposed": policy.priorities.get(case.proposed_priority),
        "assigned": policy.priorities.get(case.priority),
        "calendar_name": policy.calendar_names.get(case.calendar),
        "badges": clock_badges,
        "has_targets": any(b.state != "not_applicable" for b in clock_badges),
        "resolution_passed": clock_badges[1].state == "breached",
        "viewer_zone": timezone.get_current_timezone_name(),
        "story": story,
        "resolution_name": conversation.customer_resolution(case.resolution),
        "escalations": escalations,
        "next_level": next_level,
        "next_level_name": level_names.get(next_level),
        "exclusion": exclusion,
        "request_type": request_type,
        "partner": case.organisation.supported_by if case.organisation.supported_by_id
        else None,
        "supported_releases": list(Release.objects.supported(
            case.site.local_date(now), policy.supported_releases)),
        "can_reply": access.can_reply_as_customer(user, case),
        "can_upload": access.can_upload(user, case),
        "can_escalate": can_escalate,
        "can_reopen": access.can_reopen(user, case),
        "reply_form": forms.get("reply_form") or ReplyForm(),
        "upload_form": forms.get("upload_form") or UploadForm(),
        "escalate_form": forms.get("escalate_form") or EscalateForm(),
        "reopen_form": forms.get("reopen_form") or ReopenForm(),
    }
    return render(request, "portal/case.html", context)


@contact_required
def case_detail(request, number: str):
    found = access.case_or_404(request.user, number)
    return _case_page(request, found, timezone.now())


def _action(request, number: str, form_class, form_key: str, perform, done: str):
    """Run one case action from its form and redirect to the case page: with what
    ``perform`` returned (else ``done``) on success, with the desk's refusal as an
    error message. An invalid form shows the case page again with its errors."""
    user = request.user
    found = access.case_or_404(user, number)
    now = timezone.now()
    form = form_class(request.POST, request.FILES)
    if not form.is_valid():
        return _case_page(request, found, now, **{form_key: form})
    try:
        said = perform(found, form.cleaned_data, user, now)
    except DeskError as err:
        messages.error(request, str(err))
    else:
        messages.success(request, said or done)
    return redirect("portal:case", number=number)


@contact_required
@require_POST
def reply(request, number: str):
    def perform(case, data, user, now):
        services.record_customer_reply(case, data["body"], actor=user, now=now)

    return _action(request, number, ReplyForm, "reply_form", perform,
                   _("Your message is sent."))


@contact_required
@require_POST
def upload(request, number: str):
    def perform(case, data, user, now):
        with transaction.atomic():  # all the files or none
            for file in data["files"]:
                services.attach_file(case, file, actor=user, now=now)

    return _action(request, number, UploadForm, "upload_form", perform,
                   _("Your files are added to the case."))


@contact_required
@require_POST
def escalate(request, number: str):
    def perform(case, data, user, now):
        escalation = services.escalate(case, data["reason"], channel=Escalation.Channel.PORTAL,
                                       actor=user, now=now)
        name = next((level.name for level in case.policy().escalation_levels
                     if level.level == escalation.level), None)
        return _("The case is escalated to level %(level)d: %(name)s.") % {
            "level": escalation.level, "name": name.get(translation.get_language() or "en")
            if name else ""}

    return _action(request, number, EscalateForm, "escalate_form", perform,
                   _("The case is escalated."))


@contact_required
def confirm_escalation(request, number: str, token: str):
    """The page a confirmation mail links to: the held escalation request, and one button
    (a POST) that escalates the case as the contact (X3). A link that is not ours, has
    expired, is for someone else or for a request already dealt with escalates nothing."""
    case = access.case_or_404(request.user, number)
    found = inbound.pending_confirmation(token, request.user)
    if found is None or found[1].pk != case.pk:
        messages.error(request, _("This confirmation link is not valid, has expired or was "
                                  "used already. You can escalate the case from this page."))
        return redirect("portal:case", number=case.number)
    row, _case = found
    if request.method == "POST":
        try:
            escalation = inbound.confirm_escalation(row, actor=request.user,
                                                    now=timezone.now())
        except DeskError as err:
            messages.error(request, str(err))
        else:
            messages.success(request, _("The case is escalated to level %(level)d.") % {
                "level": escalation.level})
        return redirect("portal:case", number=case.number)
    parsed = inbound.parse(bytes(row.raw))
    return render(request, "portal/confirm_escalation.html", {
        "case": case, "row": row,
        "reason": inbound.strip_quoted(parsed.text) or parsed.subject})


@contact_required
@require_POST
def reopen(request, number: str):
    def perform(case, data, user, now):
        services.reopen(case, data["reason"], actor=user, now=now)

    return _action(request, number, ReopenForm, "reopen_form", perform,
                   _("The case is reopened."))


def support_now(request) -> dict:
    """Template context for every portal page: is support open now for the viewer's
    region, and if not when it opens (C6). Nothing for anyone but contacts."""
    user = getattr(request, "user", None)
    match = getattr(request, "resolver_match", None)
    if not access.is_contact(user) or match is None or match.namespace != "portal" \
            or match.url_name in ("home", "new_case"):  # these say it at length
        return {}
    now = timezone.now()
    policy = PolicyVersion.objects.in_force(now).load()
    regions = support_regions(own_sites(user), policy, now, badges.closures_by_calendar())
    return {"support_now": regions, "viewer_zone": timezone.get_current_timezone_name()}


# ------------------------------------------------------------------ statements
@contact_required
def statements(request):
    """The monthly SLA statements of the user's own organisation, newest first."""
    rows = access.statements_for(request.user).filter(
        organisation_id=request.user.organisation_id).order_by("-month")
    return render(request, "portal/statements.html", {"statements": rows})


@contact_required
def statement(request, month: str):
    stmt = access.statement_or_404(request.user, month)
    return render(request, "portal/statement.html", {
        "statement": stmt, "figures": stmt.figures,
        "month_start": statement_month_start(stmt)})


@contact_required
def statement_csv(request, month: str):
    stmt = access.statement_or_404(request.user, month)
    response = HttpResponse(as_csv(stmt), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="sla-statement-{stmt.month}.csv"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


def statement_month_start(stmt):
    return month_days(stmt.month)[0]
