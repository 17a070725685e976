"""Reports in the console: the compliance report with its charts, the cases behind
each figure, CSV and XLSX exports, the live board, and the what-if simulator.

Who sees what: the report, its case lists, its exports and the live board are
for the vendor's staff (every console role: :func:`access.is_staff`; they are
read-only, and every figure is made of cases staff may open anyway); the
simulator is for the roles that lead the team and decide on the policy
(:data:`access.LEAD_ROLES`: supervisors, managers, executives,
administrators). Anyone else gets a 404, as for a page that does not exist.
Cases are always taken from :func:`access.cases_for`.

Periods and months are in the viewer's time zone
(``timezone.get_current_timezone()``). ``now`` is read once per request.
"""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import F, Q
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from slpdesk.console.views import staff_required
from slpdesk.desk import access, badges
from slpdesk.desk.models import Case, Organisation, PolicyVersion, User

from . import charts, compute, exports, facts
from .data import Period
from .forms import DraftForm, PeriodForm
from .simulate import simulate

PAGE_SIZE = 100
BOARD_LIMIT = 100
CHANGES_SHOWN = 500
OPEN_STATUSES = (Case.Status.NEW, Case.Status.OPEN, Case.Status.WAITING)


def can_simulate(user) -> bool:
    """The what-if simulator: those who lead the team and decide on the policy."""
    return access.is_staff(user) and user.role in access.LEAD_ROLES


def lead_required(view):
    @wraps(view)
    @login_required
    def wrapped(request, *args, **kwargs):
        if not can_simulate(request.user):
            raise Http404("not found")
        return view(request, *args, **kwargs)

    return wrapped


# ------------------------------------------------------------------ helpers
def _period(request, now, announce: bool = True) -> tuple[PeriodForm, Period]:
    tz = timezone.get_current_timezone()
    today = now.astimezone(tz).date()
    form = PeriodForm(request.GET if ("from" in request.GET or "to" in request.GET) else None,
                      today=today)
    first, last = form.period()
    if announce and form.is_bound and not form.is_valid():
        messages.error(request, " ".join([*period_errors(form), _(
            "Showing the default period, %(first)s to %(last)s, instead.") % {
                "first": first.isoformat(), "last": last.isoformat()}]))
    return form, Period(first, last, tz, timezone.get_current_timezone_name())


def period_errors(form: PeriodForm) -> list[str]:
    """A period form's errors, each field's prefixed with the field's label
    ("From: Enter a valid date.")."""
    return [str(e) if field == "__all__" else f"{form.fields[field].label}: {e}"
            for field, errs in form.errors.items() for e in errs]


def labels(policy, rows=()) -> dict[str, dict[str, str]]:
    """Names of the groups in the viewer's language: priorities, regions (the policy's
    calendar names), kinds of organisation, months, and "unassigned"."""
    lang = translation.get_language() or "en"
    out = {
        "priority": {code: f"{code} {p.name.get(lang)}" for code, p in policy.priorities.items()},
        "region": {name: text.get(lang) for name, text in policy.calendar_names.items()},
        "kind": {k: str(label) for k, label in Organisation.Kind.choices},
        "agent": {"": _("Unassigned")},
        "month": {},
    }
    for row in rows:
        month = compute.month_of(row.received_at, timezone.get_current_timezone())
        if month not in out["month"]:
            out["month"][month] = charts.month_label(month, "F Y")
    return out


def _month_labels(report: compute.Report, names: dict) -> None:
    for month in report.months:
        names["month"].setdefault(month, charts.month_label(month, "F Y"))


def _selected(request, period: Period, now, criteria: dict):
    """The cases behind the figure ``criteria`` names, selected in SQL from the stored
    facts, in the drill-down's order (received, then id)."""
    return facts.selected(access.cases_for(request.user), period, now, **criteria)


def _report(request, period: Period, now) -> compute.Report:
    return facts.report_from_facts(access.cases_for(request.user), period, now)


def _policy(now):
    return PolicyVersion.objects.in_force(now).load()


def _render(request, template: str, context: dict, **kw) -> HttpResponse:
    context = {"outcomes": compute.OUTCOMES, "can_simulate": can_simulate(request.user),
               **context}
    return render(request, template, context, **kw)


def _download(content: bytes, fmt: str, name: str) -> HttpResponse:
    types = {"csv": "text/csv; charset=utf-8",
             "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
    response = HttpResponse(content, content_type=types[fmt])
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


# ------------------------------------------------------------------- report
@staff_required
def report(request):
    """The compliance report of a period, with charts; every figure links to its cases."""
    now = timezone.now()
    form, period = _period(request, now)
    result = _report(request, period, now)
    names = labels(_policy(now))
    _month_labels(result, names)
    titles = exports.dimension_titles()
    sections = [{"dim": dim, "title": titles[dim], "buckets": [
        {"bucket": b, "label": names.get(dim, {}).get(b.key) or b.label or b.key}
        for b in result.dimensions[dim]]} for dim in compute.DIMENSIONS]
    return _render(request, "reports/report.html", {
        "form": form,
        "period": period,
        "query": {"from": period.first.isoformat(), "to": period.last.isoformat()},
        "report": result,
        "sections": sections,
        "priority_names": names["priority"],
        "charts": charts.all_charts(result),
        "can_simulate": can_simulate(request.user),
        "now": now,
    })


def _criteria(params) -> dict:
    dim = params.get("dim") or ""
    if dim not in (*compute.DIMENSIONS, "escalation"):
        dim = ""
    clock = params.get("clock") or ""
    outcome = params.get("outcome") or ""
    if clock not in compute.SELECTIONS or outcome not in compute.SELECTIONS[clock]:
        clock = outcome = ""
    return {"dimension": dim, "key": (params.get("key") or "")[:100] if dim else "",
            "clock": clock, "outcome": outcome}


def _describe(criteria: dict, names: dict) -> list[str]:
    """The selection in words, for the case list's heading."""
    out = []
    dim, key = criteria["dimension"], criteria["key"]
    titles = {"priority": _("Priority"), "month": _("Month"), "region": _("Region"),
              "organisation": _("Organisation"), "kind": _("Kind of organisation"),
              "agent": _("Agent"), "escalation": _("Escalation level")}
    if dim:
        value = names.get(dim, {}).get(key) or key
        if dim == "organisation":
            value = Organisation.objects.filter(pk=key if key.isdigit() else None).values_list(
                "name", flat=True).first() or key
        elif dim == "agent" and key:
            user = User.objects.filter(pk=key if key.isdigit() else None).first()
            value = (user.get_full_name() or user.username) if user else key
        out.append(f"{titles[dim]}: {value}")
    clock, outcome = criteria["clock"], criteria["outcome"]
    if clock:
        what = {"response": _("Response"), "resolution": _("Resolution"),
                "updates": _("Status updates")}[clock]
        how = {"met": _("met"), "breached": _("breached"), "not_applicable": _("not applicable"),
               "open": _("no verdict yet"), "measured": _("clock stopped with a verdict"),
               "owed": _("owed"), "on_time": _("given on time"), "missed": _("missed")}[outcome]
        out.append(f"{what}: {how}")
    return out


@staff_required
def case_list(request):
    """The cases behind one figure of the report (same period, same criteria)."""
    now = timezone.now()
    form, period = _period(request, now)
    criteria = _criteria(request.GET)
    # One page of rows from the facts: the count and the page's cases in SQL.
    page = Paginator(_selected(request, period, now, criteria).values_list("id", flat=True),
                     PAGE_SIZE).get_page(request.GET.get("page"))
    ids = list(page.object_list)
    order = {pk: n for n, pk in enumerate(ids)}
    rows = sorted(facts.fact_rows(access.cases_for(request.user).filter(pk__in=ids), None, now),
                  key=lambda r: order[r.id])
    page.object_list = rows
    names = labels(_policy(now), rows)
    return _render(request, "reports/cases.html", {
        "form": form,
        "period": period,
        "criteria": criteria,
        "described": _describe(criteria, names),
        "page": page,
        "names": names,
        "query": {"from": period.first.isoformat(), "to": period.last.isoformat()},
    })


@staff_required
def export(request, what: str, fmt: str):
    """The report (``what=report``) or the cases behind a figure (``what=cases``) as
    CSV or XLSX."""
    if what not in ("report", "cases") or fmt not in ("csv", "xlsx"):
        raise Http404("no such export")
    now = timezone.now()
    form, period = _period(request, now, announce=False)
    if form.is_bound and not form.is_valid():
        # A file of another period than the one asked for would mislead: refuse.
        return HttpResponse(" ".join(period_errors(form)), status=400,
                            content_type="text/plain; charset=utf-8")
    stamp = f"{period.first.isoformat()}_{period.last.isoformat()}"
    if what == "report":
        result = _report(request, period, now)
        names = labels(_policy(now))
        _month_labels(result, names)
        tables = exports.report_tables(result, names)
        name = f"sla-report_{stamp}"
    else:
        criteria = _criteria(request.GET)
        rows = facts.fact_rows(_selected(request, period, now, criteria).order_by("id"), None,
                               now)
        tables = [exports.case_table(rows, period.tz, period.zone_name, labels(_policy(now)))]
        name = f"sla-cases_{stamp}"
    content = exports.to_csv(tables) if fmt == "csv" else exports.to_xlsx(tables)
    return _download(content, fmt, name)


# -------------------------------------------------------------------- board
BOARD_REFRESH = 60  # seconds between the live board's updates
BOARD_REFRESH_MIN, BOARD_REFRESH_MAX = 2, 3600  # what ?every= may ask for

@staff_required
def board(request):
    """Now: cases breached and at risk, status updates owed, open escalations.
    The page's script (reports/board.js) fetches the page again every ``refresh``
    seconds (``?every=N``, default 60) and swaps the board in place, without a
    full-page reload; a Pause button stops it, remembered in the browser (issue 13)."""
    now = timezone.now()
    try:
        refresh = int(request.GET.get("every", BOARD_REFRESH))
    except ValueError:
        refresh = BOARD_REFRESH
    if not BOARD_REFRESH_MIN <= refresh <= BOARD_REFRESH_MAX:
        refresh = BOARD_REFRESH
    closed = badges.closures_by_calendar()
    cases = (access.cases_for(request.user).filter(status__in=OPEN_STATUSES)
             .filter(Q(response_due__isnull=False) | Q(resolution_due__isnull=False)
                     | Q(next_update_due__isnull=False))
             .select_related("organisation", "assignee")
             .defer("description", "system_details", "resolution_summary")
             .order_by(F("earliest_due").asc(nulls_last=True), "pk"))
    # Each policy version (and its text) once, not once per case.
    versions = {v.pk: v for v in PolicyVersion.objects.filter(
        pk__in=cases.values("policy_version_id"))}
    breached, at_risk, updates = [], [], []
    for case in cases:
        case.policy_version = versions[case.policy_version_id]
        response, resolution, update = badges.clock_badges(case, now, closed)
        targets = [b for b in (response, resolution) if b.is_live]
        worst = min(targets, key=lambda b: (b.state != "breached", b.due), default=None)
        if worst is not None and worst.state == "breached":
            breached.append({"case": case, "badge": worst})
        elif worst is not None and worst.state == "at_risk":
            at_risk.append({"case": case, "badge": worst})
        if update.is_live and update.state in ("breached", "at_risk"):
            updates.append({"case": case, "badge": update})
    escalations = list(
        access.escalations_for(request.user).filter(case__status__in=OPEN_STATUSES)
        .select_related("case", "case__organisation", "raised_by", "acknowledged_by")
        .order_by(F("acknowledged_at").asc(nulls_first=True), "-level", "raised_at", "pk"))
    breached.sort(key=lambda r: r["badge"].remaining)
    at_risk.sort(key=lambda r: r["badge"].remaining)
    updates.sort(key=lambda r: r["badge"].remaining)
    response = _render(request, "reports/board.html", {
        "now": now,
        "refresh": refresh,
        "sections": [
            {"id": "breached", "title": _("Breached now"), "rows": breached[:BOARD_LIMIT],
             "count": len(breached),
             "empty": _("No response or resolution target is breached.")},
            {"id": "at-risk", "title": _("At risk"), "rows": at_risk[:BOARD_LIMIT],
             "count": len(at_risk),
             "empty": _("No response or resolution target is at risk.")},
            {"id": "updates", "title": _("Status updates owed"), "rows": updates[:BOARD_LIMIT],
             "count": len(updates),
             "empty": _("No status update is overdue or due soon.")},
        ],
        "summary": _("Breached: %(breached)d, at risk: %(at_risk)d, status updates owed: "
                     "%(updates)d, open escalations: %(escalations)d.") % {
            "breached": len(breached), "at_risk": len(at_risk), "updates": len(updates),
            "escalations": len(escalations)},
        "escalations": escalations[:BOARD_LIMIT],
        "escalations_count": len(escalations),
        "unacknowledged": sum(1 for e in escalations if e.acknowledged_at is None),
    })
    return response


# --------------------------------------------------------------- simulator
@lead_required
@require_http_methods(["GET", "POST"])
def simulator(request):
    """Replay a period under a draft policy; current and draft side by side, and the
    cases whose outcome would change."""
    now = timezone.now()
    tz = timezone.get_current_timezone()
    first, last = PeriodForm(None, today=now.astimezone(tz).date()).period()
    if request.method != "POST":
        form = DraftForm(initial={"first": first, "last": last})
        return _render(request, "reports/simulate.html", {"form": form})
    form = DraftForm(request.POST, request.FILES)
    if not form.is_valid():
        return _render(request, "reports/simulate.html", {"form": form})
    d = form.cleaned_data
    period = Period(d["first"], d["last"], tz, timezone.get_current_timezone_name())
    # One process: a web server's threads are no place to fork from; the command line
    # (``slpdesk policy simulate``) uses every core.
    result = simulate(access.cases_for(request.user), period, d["draft"], now, processes=1)
    if request.POST.get("format") == "csv":
        return _download(exports.to_csv([_changes_table(result, period)]), "csv",
                         f"sla-simulation_{period.first.isoformat()}_{period.last.isoformat()}")
    names = labels(_policy(now))
    cur, new = result.current, result.proposed
    rows = _comparison(cur, new, names)
    return _render(request, "reports/simulate.html", {
        "form": form,
        "period": period,
        "result": result,
        "comparison": rows,
        "changes": result.changes[:CHANGES_SHOWN],
        "changes_count": len(result.changes),
        "source": d["source"],
    })


def _comparison(cur: compute.Report, new: compute.Report, names: dict) -> list[dict]:
    """Rows of the side-by-side table: one line per figure, current and draft."""
    def pair(label, a, b, kind="count", indent=False):
        delta = None if a is None or b is None else b - a
        return {"label": label, "current": a, "draft": b, "delta": delta, "kind": kind,
                "indent": indent}

    out = [
        pair(_("Cases"), cur.cases, new.cases),
        pair(_("Response compliance"), cur.totals.response.compliance,
             new.totals.response.compliance, "pct"),
        pair(_("Responses breached"), cur.totals.response.breached,
             new.totals.response.breached),
        pair(_("Resolution compliance"), cur.totals.resolution.compliance,
             new.totals.resolution.compliance, "pct"),
        pair(_("Resolutions breached"), cur.totals.resolution.breached,
             new.totals.resolution.breached),
        pair(_("Status updates owed"), cur.update_total().owed, new.update_total().owed),
        pair(_("Status updates missed"), cur.update_total().missed, new.update_total().missed),
        pair(_("Cases that cannot be replayed"), len(cur.errors), len(new.errors)),
    ]
    new_prio = {b.key: b for b in new.dimensions["priority"]}
    new_times = {t.priority: t for t in new.times}
    for b in cur.dimensions["priority"]:
        other = new_prio.get(b.key)
        if other is None:
            continue
        name = names["priority"].get(b.key, b.key)
        out.append(pair(_("%(priority)s: response compliance") % {"priority": name},
                        b.response.compliance, other.response.compliance, "pct", True))
        out.append(pair(_("%(priority)s: resolution compliance") % {"priority": name},
                        b.resolution.compliance, other.resolution.compliance, "pct", True))
    for t in cur.times:
        other = new_times.get(t.priority)
        if other is None:
            continue
        name = names["priority"].get(t.priority, t.priority)
        out.append(pair(_("%(priority)s: response target") % {"priority": name},
                        t.response.target, other.response.target, "time", True))
        out.append(pair(_("%(priority)s: median business time to resolution") % {
            "priority": name}, t.resolution.median, other.resolution.median, "time", True))
    return out


def _changes_table(result, period: Period) -> exports.Table:
    header = [_("Case"), _("Priority"), _("Changed"), _("Response now"), _("Response (draft)"),
              _("Response due (draft)") + f" ({period.zone_name})", _("Resolution now"),
              _("Resolution (draft)"), _("Resolution due (draft)") + f" ({period.zone_name})",
              _("Updates missed now"), _("Updates missed (draft)"), _("Draft cannot replay")]
    rows = []
    for c in result.changes:
        due_r = c.draft.response.due.astimezone(period.tz) if c.draft.response.due else None
        due_s = (c.draft.resolution.due.astimezone(period.tz) if c.draft.resolution.due
                 else None)
        rows.append([c.current.number, c.current.priority, " ".join(c.clocks),
                     c.current.response.outcome, c.draft.response.outcome, due_r,
                     c.current.resolution.outcome, c.draft.resolution.outcome, due_s,
                     c.current.updates_missed, c.draft.updates_missed, c.draft.error])
    return (_("Cases that would change"), header, rows)

