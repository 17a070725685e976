"""The portal's program updates (U2, R1) and the coming policy changes (V1).

:func:`updates` lists the published updates of the supported releases (the
current and the previous, E4), newest first, with each release's newest
update first. The boxes on the portal's home and new-case pages come from the
template tags in :mod:`slpdesk.portal.templatetags.portal_updates`, which use
:func:`release_boxes` and :func:`policy_changes` here.
"""

from __future__ import annotations

from datetime import datetime

from django.shortcuts import render
from django.utils import timezone, translation

from slpdesk.desk import access, publishing
from slpdesk.desk.models import PolicyVersion, Release

from .views import contact_required


def release_boxes(user, now: datetime) -> list[dict]:
    """Each supported release with its newest published update (R1); the releases the
    user's organisation has cases on are marked ``yours`` and come first."""
    releases = publishing.supported_releases(now)
    used = set(access.cases_for(user).filter(release__in=releases)
               .values_list("release_id", flat=True))
    rows = publishing.newest_updates(releases, now)
    for row in rows:
        row["yours"] = row["release"].pk in used
    rows.sort(key=lambda r: not r["yours"])
    return rows


def policy_changes(now: datetime) -> list[dict]:
    """The published versions of the policy that take effect later, with what differs
    in the active language (V1); shown until they take effect."""
    lang = translation.get_language() or "en"
    out = []
    for version in publishing.coming_versions(now):
        out.append({"version": version, "name": version.load().name,
                    # The date the notice states (00:00 UTC), not the viewer's local date.
                    "effective_date": publishing.utc_date(version.effective_at),
                    "changes": publishing.changes_in(version, lang)})
    return out


@contact_required
def updates(request):
    now = timezone.now()
    releases = publishing.supported_releases(now)
    listed = (publishing.published_updates().filter(published_at__lte=now,
                                                    applies_to__in=releases)
              .distinct().prefetch_related("applies_to").order_by("-released", "-pk"))
    older = list(Release.objects.exclude(pk__in=[r.pk for r in releases])
                 .order_by("-released")[:3])
    return render(request, "portal/updates.html", {
        "boxes": release_boxes(request.user, now),
        "updates": listed,
        "supported": releases,
        "older": older,
        "policy_changes": policy_changes(now),
        "in_force": PolicyVersion.objects.in_force(now),
    })
