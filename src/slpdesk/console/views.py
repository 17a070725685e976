"""The agent console: the queue, a case with its actions and SLA timeline, the
escalation board, the support calendars, and logging a case for a customer.

Every view is for the vendor's staff (:func:`access.is_staff`); anyone else
gets a 404, as for a page that does not exist. Actions that change a case
need :func:`access.can_work` (executives read, write internal notes and
acknowledge escalations of their level). ``now`` is read once per request;
every change goes through :mod:`slpdesk.desk.services`, and a refusal
(:class:`services.DeskError`) is shown with nothing changed.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Case as DbCase
from django.db.models import CharField, Count, F, Q, Value, When
from django.db.models.expressions import RawSQL
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import dateformat, timezone, translation
from django.utils.dates import WEEKDAYS
from django.utils.html import format_html_join
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from slpdesk.desk import access, badges, conversation, presence, search, services
from slpdesk.desk.models import (
    OPEN_STATUSES,
    CalendarClosure,
    Case,
    Escalation,
    InboundMessage,
    PolicyVersion,
    SavedView,
    User,
    validate_time_zone,
)
from slpdesk.sla import SITE_ZONE, compile_calendar, public_holidays
from slpdesk.sla.policy import Text
from slpdesk.web.templatetags.slpdesk import in_zone, iso, local

from . import forms
from .timeline import KINDS, build_timeline

PAGE_SIZE = 50
QUEUE_VIEWS = ("focus", "mine", "unassigned", "all", "escalated")
#: The queue's orders: next due (the default), priority, last change, received. The
#: default order is the one the partial indexes give (see ``Case.Meta.indexes``).
QUEUE_SORTS = {
    "due": ("queue_due", "received_at", "pk"),
    "priority": ("sort_priority", "queue_due", "received_at", "pk"),
    "updated": ("-updated_at", "-pk"),
    "received": ("-received_at", "-pk"),
}
#: Clock states that put a case first in "Needs me".
URGENT_STATES = ("at_risk", "breached")
#: The queue's status filter: "open" is every status support still works on; the
#: status "open" alone (triaged) is "triaged", so the two cannot be confused.
STATUS_FILTERS = {
    "open": OPEN_STATUSES,
    "new": (Case.Status.NEW,),
    "triaged": (Case.Status.OPEN,),
    "waiting": (Case.Status.WAITING,),
    "resolved": (Case.Status.RESOLVED,),
    "closed": (Case.Status.CLOSED,),
    "any": None,
}


def staff_required(view):
    """Logged in and one of the vendor's staff; anyone else gets a 404."""

    @wraps(view)
    @login_required
    def wrapped(request, *args, **kwargs):
        if not access.is_staff(request.user):
            raise Http404("not found")
        return view(request, *args, **kwargs)

    return wrapped


def _lang() -> str:
    return translation.get_language() or "en"


def _plain(value: str) -> Text:
    """A code shown as it is, in every language (a name the policy does not give)."""
    return Text(en=value, sv=value)


def _id(value) -> int | None:
    """A primary key from a request parameter, or None when it is not one."""
    value = (value or "").strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 18 else None


def _errors(form) -> str:
    """A form's errors as one line for messages.error."""
    parts = []
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else ""
        text = " ".join(str(e) for e in errors)
        parts.append(f"{label}: {text}" if label else text)
    return " ".join(parts)


# ---------------------------------------------------------------------- queue
def _default_view(user) -> str:
    return "all" if user.role in access.LEAD_ROLES else "focus"


def _urgent(now) -> Q:
    """Breached or at risk: a clock in one of those states, or the next due time past."""
    return (Q(earliest_due__lte=now) | Q(response_state__in=URGENT_STATES)
            | Q(resolution_state__in=URGENT_STATES) | Q(next_update_state__in=URGENT_STATES))


def _tab_counts(user) -> dict[str, int]:
    """Each view's number of cases not yet resolved, in one query."""
    mine, unassigned = Q(assignee=user), Q(assignee__isnull=True)
    # (read from the index case_queue_counts alone, never from the cases' rows:
    # the count of a column of it, never null: the id is none on PostgreSQL)
    return Case.objects.filter(status__in=OPEN_STATUSES).aggregate(
        focus=Count("status", filter=mine | unassigned), mine=Count("status", filter=mine),
        unassigned=Count("status", filter=unassigned), all=Count("status"),
        escalated=Count("status", filter=Q(escalation_level__gt=0)))


def _column(name: str) -> str:
    return f"{connection.ops.quote_name(Case._meta.db_table)}.{connection.ops.quote_name(name)}"


def _open_literal() -> str:
    """The condition of the open cases' partial indexes, its constants written out."""
    return f"{_column('status')} IN ({', '.join(repr(s) for s in OPEN_STATUSES)})"


def _sort_priority_sql() -> str:
    """The SQL of the index expression models.SORT_PRIORITY, '' written as a literal."""
    return f"COALESCE(NULLIF({_column('priority')}, ''), {_column('proposed_priority')})"


def queue_ids(user, view: str, status: str, priority: str = "", organisation: int | None = None,
              region: str = "", *, sort: str = "", q: str = "", now=None, page: bool = False,
              urgent: bool | None = None):
    """The ids of the queue's cases in its order (by default due soonest first, then
    received), from the cases table alone; each view and status filter has an index
    that gives the default order (see ``Case.Meta.indexes``). ``q`` narrows to the
    cases the words find (ranked best first unless ``sort`` is given); "focus" puts
    the cases breached or at risk first.

    ``page``: the query reads a page only (never counted): on SQLite, whose planner
    knows no skew, the unassigned cases (a fifth of the desk, which it takes for a
    twentieth) are then not looked up through an assignee index and sorted, but
    read off the sort's index in order (the condition written ``+assignee_id``, which
    no index serves).

    ``urgent`` (focus only): the cases breached or at risk alone (True) or the rest
    alone (False), each in the sort's order; :class:`FocusList` reads a page of
    "Needs me" as the two."""
    sqlite = connection.vendor == "sqlite"
    cases = Case.objects.all()
    # The conditions of the partial indexes are written as literals: SQLite uses a
    # partial index only when the query states its condition with the same constants
    # (a bound parameter is not one).
    literal = []
    if view == "focus":  # mine and unassigned; those breached or at risk first
        if page and sqlite and urgent is not None and (status == "any" or sort in ("", "due")):
            # A page of them (a fifth of the desk or more) over any status, or of one
            # status in the order due, comes off the sort's index in order on SQLite,
            # not found through an assignee index, every one of them, and sorted.
            column = _column("assignee_id")
            literal.append(f"(+{column} = {int(user.pk)} OR +{column} IS NULL)")
        else:
            cases = cases.filter(Q(assignee=user) | Q(assignee__isnull=True))
        if urgent is None:
            cases = cases.annotate(needs_me=DbCase(
                When(_urgent(now or timezone.now()), then=Value(0)), default=Value(1)))
        elif urgent:
            cases = cases.filter(_urgent(now or timezone.now()))
        else:
            cases = cases.exclude(_urgent(now or timezone.now()))
    elif view == "mine":
        cases = cases.filter(assignee=user)
    elif view == "unassigned":
        if page and sqlite and status == "any" and sort:
            literal.append(f"+{_column('assignee_id')} IS NULL")
        else:
            cases = cases.filter(assignee__isnull=True)
    elif view == "escalated":
        literal.append(f"{_column('escalation_level')} > 0")
    # On SQLite a page of all the cases not yet resolved in another order than due
    # reads that order's index (they are a good part of the cases, and the recent
    # ones), and a page of the escalated of one status reads the escalated cases'
    # index in order: the status is then written ``+status``, which no index serves,
    # so the planner cannot find them all through a status index and sort them.
    unindexed = page and sqlite and (
        (view == "all" and status == "open" and sort not in ("", "due"))
        or (view == "escalated" and status not in ("open", "any")))
    if unindexed and STATUS_FILTERS[status] is not None:
        literal.append(f"+{_column('status')} IN "
                       f"({', '.join(repr(str(s)) for s in STATUS_FILTERS[status])})")
    elif status == "open":
        literal.append(_open_literal())
    elif STATUS_FILTERS[status] is not None:
        cases = cases.filter(status__in=STATUS_FILTERS[status])
    if literal:
        cases = cases.extra(where=literal)  # constants of ours, never input
    if priority:  # the assigned priority, else the proposed one: the expression of the
        # index case_queue_open_priority (models.SORT_PRIORITY), so that the cases of
        # one priority are found, counted and ordered from that index alone
        cases = cases.extra(where=[f"{_sort_priority_sql()} = %s"], params=[priority])
    if organisation is not None:
        cases = cases.filter(organisation_id=organisation)
    if region:
        cases = cases.filter(calendar=region)
    if q:
        cases = search.search(cases, q, staff=True)
        if not sort:
            return search.ranked(cases).values_list("pk", flat=True)
    # The few cases of the escalated and of one's own are found through their own
    # index and sorted; SQLite (which knows no skew) would rather read a sort's index
    # over every case in order until a page of them turned up. Written ``+column``,
    # an order no index gives (a no-op on any value), on SQLite only.
    few = sqlite and sort not in ("", "due") and view in ("escalated", "mine")
    plus = "+" if few else ""
    if sort == "priority":  # the assigned priority, else the proposed one (P1 first),
        # as the SQL of the index case_queue_priority (models.SORT_PRIORITY), '' literal
        cases = cases.annotate(sort_priority=RawSQL(
            plus + _sort_priority_sql(), (), output_field=CharField()))
    order = QUEUE_SORTS[sort or "due"]
    if few:
        order = [RawSQL(f"+{_column(name.lstrip('-').replace('pk', 'id'))}", ()).desc()
                 if name.startswith("-") else name for name in order]
    if view == "focus" and urgent is None:
        order = ("needs_me", *order)
    return cases.order_by(*order).values_list("pk", flat=True)


def due_texts(due, zone: str) -> dict[str, str] | None:
    """A due time as the queue's cells show it: ``iso`` (UTC), and for the viewer's
    zone and the customer's ``zone`` the full time (a title), the date and the time,
    as the filters ``iso``, ``local``, ``local_date`` and ``local_time`` write them."""
    if due is None:
        return None
    out = {"iso": iso(due)}
    full, day, clock = _("D j M Y H:i T"), _("D j M Y"), _("H:i T")
    for key, where in (("you", None), ("customer", zone)):
        formatter = dateformat.DateFormat(in_zone(due, where))
        out[key] = (formatter.format(full), formatter.format(day), formatter.format(clock))
    return out


def queue_filters(params, user, policy) -> dict[str, str]:
    """The queue's filters from a query string, each one the queue offers (anything
    else falls back to the default): view, status, priority, organisation, region,
    sort, q. The queue, its poll for changes and saved views read them alike."""
    q = (params.get("q") or "").strip()[:200]
    default = "all" if q else _default_view(user)  # the header's search: every case
    view = params.get("view") or default
    if view not in QUEUE_VIEWS:
        view = default
    status = params.get("status") or "open"
    if status not in STATUS_FILTERS:
        status = "open"
    priority = params.get("priority") or ""
    if priority not in policy.priorities:
        priority = ""
    organisation = params.get("organisation") or ""
    if _id(organisation) is None:
        organisation = ""
    sort = params.get("sort") or ""
    if sort not in QUEUE_SORTS:
        sort = ""
    return {"view": view, "status": status, "priority": priority,
            "organisation": organisation, "region": params.get("region") or "",
            "sort": sort, "q": q}


def filtered_ids(user, f: dict[str, str], now, page: bool = False,
                 urgent: bool | None = None):
    """:func:`queue_ids` for the filters of :func:`queue_filters`."""
    return queue_ids(user, f["view"], f["status"], f["priority"], _id(f["organisation"]),
                     f["region"], sort=f["sort"], q=f["q"], now=now, page=page,
                     urgent=urgent)


class QueueList:
    """The queue's cases for the paginator: counted by one query, a page read by
    another (``queue_ids(page=True)``), each with the plan that suits it."""

    def __init__(self, counted, paged):
        self.counted, self.paged = counted, paged

    def count(self) -> int:
        return self.counted.count()

    def __getitem__(self, index):
        return list(self.paged[index])


class FocusList(QueueList):
    """"Needs me": the cases breached or at risk first, then the rest, each in the
    sort's order, read as two queries (the urgent ones of the page, then as many of
    the rest as the page has room for). Each reads the sort's index in order and
    stops after a page: one query ordered by the urgency first would read every case
    of the view, a fifth of the desk or more, and sort them."""

    def __init__(self, counted, urgent, rest):
        super().__init__(counted, None)
        self.urgent, self.rest = urgent, rest

    def count(self) -> int:
        # ``counted``: mine and unassigned, counted apart (they never overlap): each is
        # a range of an index, where the two at once (assignee = me OR assignee IS
        # NULL) make PostgreSQL read the whole index, a million entries at that size.
        return sum(cases.count() for cases in self.counted)

    def __getitem__(self, index):
        start, stop = index.start or 0, index.stop
        first = list(self.urgent[start:stop])
        if len(first) == stop - start:
            return first
        # The urgent cases end on this page, or before it (then counted: a third query
        # on the pages past them alone).
        before = start + len(first) if first or not start else self.urgent.count()
        return first + list(self.rest[start + len(first) - before:stop - before])


def queue_list(user, f: dict[str, str], now) -> QueueList:
    """The queue's cases for the paginator (see :class:`QueueList`)."""
    if f["view"] == "focus" and not f["q"]:
        return FocusList([filtered_ids(user, {**f, "view": view}, now)
                          for view in ("mine", "unassigned")],
                         filtered_ids(user, f, now, page=True, urgent=True),
                         filtered_ids(user, f, now, page=True, urgent=False))
    return QueueList(filtered_ids(user, f, now), filtered_ids(user, f, now, page=True))


#: Seconds between the queue's and the case page's light polls (issue 13); the
#: browser tests make them short.
def poll_seconds() -> dict[str, int]:
    return {"queue": getattr(settings, "SLPDESK_QUEUE_POLL_SECONDS", 20),
            "case": getattr(settings, "SLPDESK_CASE_POLL_SECONDS", 10)}


def saved_query(saved: SavedView) -> str:
    """The queue's query string of a saved view (its filters, columns and itself)."""
    pairs = [(k, v) for k, v in (saved.filters or {}).items() if v]
    pairs += [("col", c) for c in saved.columns or []]
    return urlencode([*pairs, ("saved", saved.pk)])


def _queue_extras(request, f: dict[str, str], now) -> dict:
    """What the queue shows beside its rows: saved views, columns, bulk actions and
    the stamp its poll for changes starts from."""
    user = request.user
    codes = [code for code, _label in forms.QUEUE_COLUMNS]
    chosen = [c for c in request.GET.getlist("col") if c in codes]
    saved = list(access.saved_views_for(user).select_related("owner").order_by(
        "-shared", "name", "pk"))
    current = next((v for v in saved if v.pk == _id(request.GET.get("saved"))), None)
    return {
        "saved_views": [{"view": v, "query": saved_query(v),
                         "editable": access.can_edit_saved_view(user, v)} for v in saved],
        "current_saved": current,
        "can_edit_current": current is not None and access.can_edit_saved_view(user, current),
        "shown": set(chosen or codes),
        "chosen": chosen,
        "column_choices": forms.QUEUE_COLUMNS,
        "since": now.isoformat(),
        "poll": poll_seconds()["queue"],
        "can_work": access.can_work(user),
        "assignees": access.staff_users().order_by("first_name", "last_name", "username"),
        "here": request.get_full_path(),
    }


@staff_required
def queue(request):
    """Cases due soonest first, 50 a page, in a fixed number of queries."""
    now = timezone.now()
    user = request.user
    params = request.GET
    policy = PolicyVersion.objects.in_force(now).load()
    f = queue_filters(params, user, policy)
    view, status, priority, organisation, region, sort, q = (
        f["view"], f["status"], f["priority"], f["organisation"], f["region"], f["sort"],
        f["q"])
    if q:
        number = search.jump(Case.objects.all(), q)
        if number:
            return redirect("console:case", number)
    ids = queue_list(user, f, now)
    page = Paginator(ids, PAGE_SIZE).get_page(params.get("page"))
    # The page's rows with their organisation, assignee and policy, by id: the
    # ordered query above reads the cases table alone, so no plan can start from
    # a joined table.
    by_id = Case.objects.select_related("organisation", "assignee", "policy_version").defer(
        "description", "system_details", "resolution_summary").in_bulk(list(page.object_list))
    page.object_list = [by_id[pk] for pk in page.object_list if pk in by_id]

    closed = badges.closures_by_calendar()  # once per page
    cases = page.object_list
    found = search.snippets([c.pk for c in cases], q, staff=True) if q else {}
    # What each row shows, worked out here once rather than by template filters per
    # cell (a page of 50 rows renders in a few milliseconds): its link, status label
    # and due times in the viewer's and in the customer's zone.
    link = reverse("console:case", args=["NUMBER"])
    status_labels = dict(Case.Status.choices)
    rows = []
    for case in cases:
        names = case.policy().calendar_names
        rows.append({
            "case": case,
            "url": link.replace("NUMBER", case.number or ""),
            "status": status_labels.get(case.status, case.status),
            "due": due_texts(case.earliest_due, case.time_zone),
            "badge": badges.case_badge(case, now, closed),
            "calendar": names.get(case.calendar) or _plain(case.calendar),
            "snippet": found.get(case.pk, ""),
        })

    statuses = [
        ("open", _("Not yet resolved (new, open, waiting)")),
        ("new", Case.Status.NEW.label),
        ("triaged", _("Open (triaged)")),
        ("waiting", Case.Status.WAITING.label),
        ("resolved", Case.Status.RESOLVED.label),
        ("closed", Case.Status.CLOSED.label),
        ("any", _("Any status")),
    ]
    counts = _tab_counts(user)
    return render(request, "console/queue.html", {
        "page": page,
        "rows": rows,
        "view": view,
        "views": [(code, label, counts[code]) for code, label in (
            ("focus", _("Needs me")), ("mine", _("Mine")), ("unassigned", _("Unassigned")),
            ("all", _("All")), ("escalated", _("Escalated")))],
        "sort": sort,
        "sorts": [("", _("Best match")), ("due", _("Next due"))] if q else [
            ("", _("Next due"))] + [
            ("priority", _("Priority")), ("updated", _("Last change")),
            ("received", _("Received"))],
        "status": status,
        "statuses": statuses,
        "priority": priority,
        "priorities": forms.priority_choices(policy),
        "organisation": organisation,
        # (the options written here: a desk has hundreds of organisations)
        "organisation_options": format_html_join(
            "", '<option value="{}"{}>{}</option>',
            ((pk, mark_safe(" selected") if str(pk) == organisation else "", name)
             for pk, name in access.organisations_for(user).order_by("name")
             .values_list("pk", "name"))),
        "region": region,
        "regions": [(name, policy.calendar_names[name]) for name in policy.calendars],
        "q": q,
        "now": now,
        **_queue_extras(request, f, now),
    })


# ----------------------------------------------------------------------- case
ACTION_FORMS = {
    "triage": forms.TriageForm,
    "info_complete": forms.EmptyForm,
    "message": forms.MessageForm,
    "note": forms.MessageForm,
    "assign": forms.AssignForm,
    "classify": forms.ClassifyForm,
    "resolve": forms.ResolveForm,
    "exclude": forms.ExcludeForm,
    "reopen": forms.ReasonForm,
    "escalate": forms.ReasonForm,
    "upload": forms.UploadForm,
}


def _event_details(ev, case: Case, users: dict[int, User], lang: str) -> list[str]:
    """What an event says, in words (user text stays plain: it is escaped)."""
    d = ev.data or {}
    policy = case.policy()
    out = []
    if ev.type == "received":
        out.append(_("Channel: %(channel)s") % {
            "channel": Case.Channel(d["channel"]).label if d.get("channel") in
            Case.Channel.values else d.get("channel", "")})
        if ev.priority:
            out.append(_("Proposed priority: %(priority)s") % {"priority": ev.priority})
        if d.get("sender_verified") is False:
            out.append(_("Sender not verified"))
    elif ev.type == "priority_assigned":
        out.append(_("Priority: %(priority)s") % {"priority": ev.priority})
        if d.get("previous"):
            out.append(_("was %(priority)s") % {"priority": d["previous"]})
    elif ev.type == "assigned":
        who = users.get(d.get("assignee"))
        out.append(_("To: %(name)s") % {"name": (who.get_full_name() or who.username)
                                        if who else _("nobody")})
    elif ev.type == "classified":
        out.append(Case.Kind(ev.kind).label if ev.kind in Case.Kind.values else ev.kind)
        if d.get("defect_reference"):
            out.append(d["defect_reference"])
    elif ev.type == "resolved":
        if ev.resolution in Case.Resolution.values:
            out.append(str(Case.Resolution(ev.resolution).label))
        if d.get("summary"):
            out.append(d["summary"])
    elif ev.type == "reopened":
        out.append(d.get("reason", ""))
    elif ev.type == "excluded":
        reason = d.get("reason")
        names = {c.code: c.name.get(lang) for c in policy.exclusions}
        if reason:
            out.append(names.get(reason, reason))
        elif d.get("entitlement") in Case.Entitlement.values:
            out.append(str(Case.Entitlement(d["entitlement"]).label))
        if d.get("note"):
            out.append(d["note"])
    elif ev.type in ("escalated", "escalation_ack"):
        out.append(_("Level %(level)s") % {"level": d.get("level", "")})
        if d.get("channel") in Escalation.Channel.values:
            out.append(str(Escalation.Channel(d["channel"]).label))
    elif ev.type == "attached":
        out.append(d.get("name", ""))
        if d.get("internal"):
            out.append(_("internal"))
    return [str(x) for x in out if x]


def _answered_info_request(events, case: Case) -> bool:
    """The customer answered a request for information and the information is not yet
    marked complete: the agent is asked to mark it (one click)."""
    if case.information_complete:
        return False
    waits = [ev.type for ev in events if ev.type in ("info_requested", "customer_replied")]
    return "info_requested" in waits and waits[-1] == "customer_replied"


def _case_context(request, case: Case, now, bound: dict | None = None) -> dict:
    user = request.user
    lang = _lang()
    policy = case.policy()
    bound = bound or {}
    can_work = access.can_work(user)
    is_open = case.is_open()

    closed = CalendarClosure.dates(case.calendar)
    calendar = case.business_calendar(closed)
    # Another machine's clock may be a little behind the case's last change: the
    # replay must not see events after its ``now``.
    sla_now = max(now, case.updated_at)
    state = services.sla_state(case, sla_now, closed)
    clock_badges = badges.clock_badges(case, now, {case.calendar: closed})
    clocks = [
        {"name": name, "badge": b, "state": getattr(state, name)}
        for name, b in zip(("response", "resolution", "next_update"), clock_badges,
                           strict=True)
    ]

    events = list(access.events_for(user, case).select_related("actor").order_by("at", "id"))
    timeline = None
    if events and events[0].type == "received":
        timeline = build_timeline(
            events, state, calendar, sla_now, tz=timezone.get_current_timezone(),
            update_target=lambda p: policy.target_seconds(p, "update_interval", case.calendar))
    user_ids = {ev.data.get("assignee") for ev in events if ev.type == "assigned"} - {None}
    users = {u.pk: u for u in User.objects.filter(pk__in=user_ids)} if user_ids else {}
    event_rows = [{"event": ev, "details": _event_details(ev, case, users, lang)}
                  for ev in events]

    attachments = list(access.attachments_for(user).filter(case=case)
                       .select_related("uploaded_by", "message"))
    top = max(level.level for level in policy.escalation_levels)
    level_names = {lvl.level: lvl.name for lvl in policy.escalation_levels}
    story = conversation.build(user, case, level_names, lang)
    level_roles = {lvl.level: lvl.roles for lvl in policy.escalation_levels}
    escalations = list(access.escalations_for(user).filter(case=case)
                       .select_related("raised_by", "acknowledged_by"))
    for esc in escalations:
        esc.level_name = level_names.get(esc.level)
        esc.can_ack = access.can_acknowledge(user, esc, level_roles.get(esc.level, ()))

    # Entitlement (E1-E5, K8).
    site = case.site
    today = site.local_date(now)
    agreements = list(site.agreements.all())
    active = next((a for a in agreements if a.is_active(today)), None)
    release_supported = case.release.is_supported(today, policy) if case.release else None
    in_force = PolicyVersion.objects.in_force(now)
    exclusion = next((c.name for c in policy.exclusions if c.code == case.exclusion_reason),
                     _plain(case.exclusion_reason))

    # Canned replies (issue 13): the picker, and a chosen one filling the composer.
    from .canned_views import composer  # canned_views imports this module

    pick = composer(request, case)
    if pick["canned_text"] is not None and "message" not in bound:
        bound = {**bound, "message": ACTION_FORMS["message"](
            case=case, auto_id="id_message_%s", initial={"body": pick["canned_text"]})}

    def form(name: str):
        if name in bound:
            return bound[name]
        return ACTION_FORMS[name](case=case, auto_id=f"id_{name}_%s")

    show = {
        "triage": can_work and is_open,
        "info_complete": can_work and is_open and (
            not case.information_complete or case.status == Case.Status.WAITING),
        "request_info": can_work and is_open and case.status != Case.Status.WAITING,
        "reply": can_work and is_open,
        "call": can_work and is_open,
        "note": access.can_add_note(user),
        "assign": can_work and case.status != Case.Status.CLOSED,
        "classify": can_work and case.status != Case.Status.CLOSED,
        "resolve": can_work and is_open,
        "exclude": can_work and is_open,
        "reopen": access.can_reopen(user, case),
        "escalate": access.can_escalate(user, case, top),
        "upload": access.can_upload(user, case),
    }
    others = presence.others(case, user, now)
    return {
        **pick,
        "case": case,
        "policy": policy,
        "now": now,
        "others": others,
        "presence_text": presence_text(others),
        "poll": poll_seconds()["case"],
        "stamp": forms.case_stamp(case),
        "clocks": clocks,
        "case_badge": badges.case_badge(case, now, {case.calendar: closed}),
        "timeline": timeline,
        "legend": KINDS,
        "events": event_rows,
        "story": story,
        "prompt_info_complete": can_work and is_open and _answered_info_request(events,
                                                                             case),
        "attachments": attachments,
        "escalations": escalations,
        # Escalation requests by unverified e-mail, held until the contact confirms them.
        "unconfirmed": list(InboundMessage.objects.filter(
            case=case, state=InboundMessage.State.HELD,
            outcome=InboundMessage.Outcome.UNCONFIRMED).order_by("created_at")),
        "site": site,
        "calendar_name": policy.calendar_names.get(case.calendar) or _plain(case.calendar),
        "agreement": active or (agreements[0] if agreements else None),
        "agreement_active": active is not None,
        "release_supported": release_supported,
        "in_force": in_force,
        "exclusion": exclusion,
        "show": show,
        "can_work": can_work,
        "forms": {
            "triage": form("triage"),
            "info_complete": form("info_complete"),
            "message": form("message"),
            "note": form("note"),
            "assign": form("assign"),
            "classify": form("classify"),
            "resolve": form("resolve"),
            "exclude": form("exclude"),
            "reopen": form("reopen"),
            "escalate": form("escalate"),
            "upload": form("upload"),
        },
    }


def presence_text(people: list[dict]) -> str:
    """Who else is on the case, in words ("" when nobody)."""
    parts = []
    writing = [p["name"] for p in people if p["typing"]]
    viewing = [p["name"] for p in people if not p["typing"]]
    if writing:
        parts.append(ngettext("%(names)s is writing on this case.",
                              "%(names)s are writing on this case.", len(writing))
                     % {"names": ", ".join(writing)})
    if viewing:
        parts.append(ngettext("%(names)s has this case open.",
                              "%(names)s have this case open.", len(viewing))
                     % {"names": ", ".join(viewing)})
    return " ".join(parts)


def changed_since(user, case: Case, stamp) -> list:
    """What others did to ``case`` after ``stamp`` (its last change when the page was
    drawn), oldest first: the events a message written since then has not seen."""
    if stamp is None:
        return []
    return list(access.events_for(user, case).filter(at__gt=stamp).exclude(actor=user)
                .select_related("actor").order_by("at", "pk"))


def describe_changes(events) -> str:
    """``Reply by Sue (Wed 8 Jul 2026 10:03 EDT); …``."""
    return "; ".join(
        _("%(what)s by %(who)s (%(when)s)") % {
            "what": ev.get_type_display(),
            "who": (ev.actor.get_full_name() or ev.actor.username) if ev.actor else _("the desk"),
            "when": local(ev.at)}
        for ev in events)


@staff_required
def case_detail(request, number: str):
    now = timezone.now()
    case = access.case_or_404(request.user, number)
    presence.record(case, request.user, now)
    return render(request, "console/case.html", _case_context(request, case, now))


def _act(request, number: str, form_name: str, run, success: str, *, work: bool = True):
    """Run one action on a case: parse the form, call the service, redirect on
    success; on a refusal show the case again with the error and the form as
    posted (nothing changed)."""
    now = timezone.now()
    user = request.user
    case = access.case_or_404(user, number)
    if work and not access.can_work(user):
        raise PermissionDenied(_("Only support staff who work cases can do this."))
    form = ACTION_FORMS[form_name](request.POST, request.FILES, case=case,
                                   auto_id=f"id_{form_name}_%s")
    stale = form.is_valid() and "stamp" in form.fields and changed_since(
        user, case, form.cleaned_data["stamp"])
    if stale:
        # Written against an older state of the case: held once, with what changed;
        # the text is kept and sending it again sends it (issue 13 item 5).
        messages.warning(request, _(
            "The case changed after you opened it: %(changes)s. Your text is kept below: "
            "read the changes, then send it again to send it anyway.") % {
            "changes": describe_changes(stale)})
        data = request.POST.copy()
        data["stamp"] = forms.case_stamp(case)
        form = ACTION_FORMS[form_name](data, case=case, auto_id=f"id_{form_name}_%s")
        context = _case_context(request, case, now, bound={form_name: form})
        return render(request, "console/case.html", context, status=409)
    if form.is_valid():
        try:
            run(case, form.cleaned_data, user, now)
        except services.DeskError as err:
            messages.error(request, str(err))
        else:
            messages.success(request, success)
            return redirect("console:case", number=case.number)
    else:
        messages.error(request, _errors(form))
    case = access.case_or_404(user, number)  # as stored: the refusal changed nothing
    context = _case_context(request, case, now, bound={form_name: form})
    return render(request, "console/case.html", context)


@staff_required
@require_POST
def triage(request, number):
    return _act(request, number, "triage", lambda c, d, u, now: services.assign_priority(
        c, d["priority"], information_complete=d["information_complete"], actor=u, now=now),
        _("The priority is set."))


@staff_required
@require_POST
def info_complete(request, number):
    return _act(request, number, "info_complete",
                lambda c, d, u, now: services.mark_information_complete(c, actor=u, now=now),
                _("The information is marked complete."))


@staff_required
@require_POST
def request_info(request, number):
    return _act(request, number, "message", lambda c, d, u, now: services.request_information(
        c, d["body"], actor=u, now=now),
        _("The request for information is sent; the case waits on the customer."))


@staff_required
@require_POST
def reply(request, number):
    return _act(request, number, "message",
                lambda c, d, u, now: services.reply(c, d["body"], actor=u, now=now),
                _("The reply is sent."))


@staff_required
@require_POST
def note(request, number):
    return _act(request, number, "note",
                lambda c, d, u, now: services.add_note(c, d["body"], actor=u, now=now),
                _("The internal note is added."), work=False)


@staff_required
@require_POST
def call(request, number):
    return _act(request, number, "message",
                lambda c, d, u, now: services.log_call(c, d["body"], actor=u, now=now),
                _("The call is logged."))


@staff_required
@require_POST
def assign(request, number):
    return _act(request, number, "assign",
                lambda c, d, u, now: services.assign(c, d["assignee"], actor=u, now=now),
                _("The assignment is changed."))


@staff_required
@require_POST
def classify(request, number):
    return _act(request, number, "classify", lambda c, d, u, now: services.classify(
        c, d["kind"], d["defect_reference"], actor=u, now=now), _("The case is classified."))


@staff_required
@require_POST
def resolve(request, number):
    return _act(request, number, "resolve", lambda c, d, u, now: services.resolve(
        c, d["resolution"], d["summary"], actor=u, now=now), _("The case is resolved."))


@staff_required
@require_POST
def exclude(request, number):
    return _act(request, number, "exclude", lambda c, d, u, now: services.exclude(
        c, d["reason"], d["note"], actor=u, now=now),
        _("The case is excluded from the service levels and closed."))


@staff_required
@require_POST
def reopen(request, number):
    return _act(request, number, "reopen",
                lambda c, d, u, now: services.reopen(c, d["reason"], actor=u, now=now),
                _("The case is reopened."))


@staff_required
@require_POST
def escalate(request, number):
    return _act(request, number, "escalate", lambda c, d, u, now: services.escalate(
        c, d["reason"], channel=Escalation.Channel.SUPPORT, actor=u, now=now),
        _("The case is escalated."))


@staff_required
@require_POST
def upload(request, number):
    return _act(request, number, "upload", lambda c, d, u, now: services.attach_file(
        c, d["file"], actor=u, now=now, internal=d["internal"]), _("The file is added."))


@staff_required
@require_POST
def acknowledge(request, pk: int):
    """An owner of the escalation's level takes it on (X2); back to where it was
    asked from (the board or the case)."""
    now = timezone.now()
    escalation = get_object_or_404(access.escalations_for(request.user).select_related(
        "case", "case__policy_version"), pk=pk)
    try:
        services.acknowledge_escalation(escalation, actor=request.user, now=now)
    except services.DeskError as err:
        messages.error(request, str(err))
    else:
        messages.success(request, _("Escalation of %(number)s to level %(level)d is "
                                    "acknowledged.") % {"number": escalation.case.number,
                                                        "level": escalation.level})
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        target = reverse("console:case", args=[escalation.case.number])
    return redirect(target)


# ---------------------------------------------------------------- escalations
@staff_required
def escalations(request):
    """Open cases' escalations by level; unacknowledged first, oldest first."""
    now = timezone.now()
    user = request.user
    policy = PolicyVersion.objects.in_force(now).load()
    rows = (access.escalations_for(user)
            .filter(case__status__in=OPEN_STATUSES)
            .select_related("case", "case__organisation", "case__policy_version",
                            "case__assignee", "raised_by", "acknowledged_by")
            .order_by("level", F("acknowledged_at").asc(nulls_first=True), "raised_at", "pk"))
    closed = badges.closures_by_calendar()
    rows = list(rows)
    levels = {lvl.level: {"level": lvl.level, "name": lvl.name, "roles": [
        str(User.Role(r).label) if r in User.Role.values else r for r in lvl.roles],
        "rows": []} for lvl in policy.escalation_levels}
    for esc in rows:
        case_levels = {lvl.level: lvl.roles for lvl in esc.case.policy().escalation_levels}
        group = levels.setdefault(esc.level, {"level": esc.level, "name": None, "roles": [],
                                              "rows": []})
        group["rows"].append({
            "escalation": esc,
            "badge": badges.case_badge(esc.case, now, closed),
            "can_ack": access.can_acknowledge(user, esc, case_levels.get(esc.level, ())),
        })
    return render(request, "console/escalations.html", {
        "levels": [levels[k] for k in sorted(levels)],
        "now": now,
    })


# ------------------------------------------------------------------ calendars
def _calendar_rows(policy, year: int, zone: str, now, closures) -> list[dict]:
    rows = []
    by_calendar = defaultdict(list)
    for c in closures:
        by_calendar[c.calendar].append(c)
    for name, spec in policy.calendars.items():
        hours = []
        for wd, spans in enumerate(spec.hours):
            hours.append((WEEKDAYS[wd], [(a.strftime("%H:%M"), "24:00" if b.hour == 0 and
                                          b.minute == 0 else b.strftime("%H:%M"))
                                         for a, b in spans]))
        # As the engine compiles them, named in the viewer's language where the
        # holiday data has it (issue 13).
        public = public_holidays(spec, year, translation.get_language())
        stored = [c for c in by_calendar.get(name, []) if c.date.year == year]
        in_effect = [c.date for c in by_calendar.get(name, []) if c.removed_at is None]
        site_zone = spec.zone == SITE_ZONE
        calc_zone = zone if site_zone else spec.zone
        business = compile_calendar(
            spec.with_closed_dates(in_effect), calc_zone)
        is_open = business.is_open(now)
        rows.append({
            "name": name,
            "title": policy.calendar_names[name],
            "spec": spec,
            "site_zone": site_zone,
            "zone": calc_zone,
            "hours": hours,
            "business_day_hours": spec.business_day_seconds / 3600,
            "holidays": [{"date": d, "name": n, "weekend": d.weekday() >= 5} for d, n in public],
            "policy_closed": sorted(d for d in spec.closed_dates if d.year == year),
            "closures": sorted(stored, key=lambda c: c.date),
            "open_now": is_open,
            "next_change": business.next_close(now) if is_open else business.next_open(now),
            "phone_lines": [line for line in policy.phone_lines if line.calendar == name],
        })
    return rows


def _calendars_page(request, now, add_form=None, status=200):
    user = request.user
    policy = PolicyVersion.objects.in_force(now).load()
    local_today = timezone.localtime(now).date()
    try:
        year = int(request.GET.get("year", local_today.year))
    except ValueError:
        year = local_today.year
    year = min(max(year, 1901), 2198)
    zone = request.GET.get("zone") or timezone.get_current_timezone_name()
    zone_error = ""
    try:
        validate_time_zone(zone)
    except ValidationError as exc:
        zone_error, zone = exc.messages[0], "UTC"
    closures = list(CalendarClosure.objects.filter(calendar__in=list(policy.calendars))
                    .select_related("added_by", "removed_by"))
    rows = _calendar_rows(policy, year, zone, now, closures)
    can_work = access.can_work(user)
    for row in rows:
        if add_form is not None and add_form.data.get("calendar") == row["name"]:
            row["add_form"] = add_form
        else:
            row["add_form"] = forms.ClosureForm(calendars=list(policy.calendars),
                                                initial={"calendar": row["name"]})
    return render(request, "console/calendars.html", {
        "calendars": rows,
        "year": year,
        "years": [year - 1, year + 1],
        "zone": zone,
        "zone_error": zone_error,
        "can_work": can_work,
        "now": now,
        "today": now.astimezone(UTC).date(),
    }, status=status)


def _say_if_no_worker(request, now) -> None:
    """A calendar change's recompute is the worker's (C4): say so when none is alive."""
    if not services.worker_running(now):
        messages.warning(request, _("The recompute is waiting for a worker: none is running. "
                                    "Start one with “slpdesk worker”."))


@staff_required
def calendars(request):
    """Each calendar of the policy in force: hours, zone rule, the public holidays
    of a year as the engine compiles them, and extra closed dates (C4). Staff who
    work cases add or remove closures; the open cases are recomputed."""
    now = timezone.now()
    if request.method != "POST":
        return _calendars_page(request, now)
    if not access.can_work(request.user):
        raise PermissionDenied(_("Only support staff who work cases can change calendars."))
    policy = PolicyVersion.objects.in_force(now).load()
    if request.POST.get("action") == "remove":
        closure = get_object_or_404(CalendarClosure.objects.in_effect(),
                                    pk=_id(request.POST.get("closure")) or 0)
        try:
            services.remove_closure(closure, request.POST.get("reason", "")[:200],
                                    actor=request.user, now=now)
        except services.DeskError as err:
            messages.error(request, str(err))
        else:
            messages.success(request, _("%(calendar)s is open again on %(day)s; its open cases "
                                        "are recomputed by the worker.") % {
                "calendar": closure.calendar, "day": closure.date.isoformat()})
            _say_if_no_worker(request, now)
        return redirect(f"{reverse('console:calendars')}?year={closure.date.year}")
    form = forms.ClosureForm(request.POST, calendars=list(policy.calendars))
    if form.is_valid():
        d = form.cleaned_data
        try:
            services.add_closure(d["calendar"], d["date"], d["reason"], actor=request.user,
                                 now=now)
        except services.DeskError as err:
            messages.error(request, str(err))
        else:
            messages.success(request, _("%(calendar)s is closed on %(day)s; its open cases are "
                                        "recomputed by the worker.") % {
                "calendar": d["calendar"], "day": d["date"].isoformat()})
            _say_if_no_worker(request, now)
            return redirect(f"{reverse('console:calendars')}?year={d['date'].year}")
    else:
        messages.error(request, _errors(form))
    return _calendars_page(request, now, add_form=form)


# ------------------------------------------------------------------- new case
@staff_required
def new_case(request):
    """An agent logs a case received by phone or e-mail for a customer's contact."""
    now = timezone.now()
    user = request.user
    policy = PolicyVersion.objects.in_force(now).load()
    organisations = access.organisations_for(user).order_by("name")
    organisation = None
    org_id = _id(request.GET.get("organisation"))
    if org_id is not None:
        organisation = organisations.filter(pk=org_id).first()
    can_open = access.can_work(user) and access.can_open_case(user)
    form = forms.NewCaseForm(request.POST or None, user=user, policy=policy,
                             organisation=organisation)
    if request.method == "POST":
        if not can_open:
            raise PermissionDenied(_("Only support staff who work cases can log one."))
        if form.is_valid():
            d = form.cleaned_data
            try:
                case = services.receive_case(
                    d["site"], contact=d["contact"], channel=d["channel"],
                    proposed_priority=d["proposed_priority"], title=d["title"],
                    description=d["description"], system_details=d["system_details"],
                    release=d["release"], request_type=d["request_type"], actor=user,
                    now=now)
            except services.DeskError as err:
                messages.error(request, str(err))
            else:
                messages.success(request, _("Case %(number)s is logged.") % {
                    "number": case.number})
                if case.entitlement != Case.Entitlement.ENTITLED:
                    messages.warning(request, _("It is recorded without an SLA clock: "
                                                "%(reason)s.") % {
                        "reason": case.get_entitlement_display()})
                return redirect("console:case", number=case.number)
        else:
            messages.error(request, _errors(form))
    return render(request, "console/new_case.html", {
        "form": form,
        "can_open": can_open,
        "organisations": organisations.only("id", "name"),
        "organisation": organisation,
    })

