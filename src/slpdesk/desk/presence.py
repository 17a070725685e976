"""Who else is on a case (issue 13 item 5): the case page records its viewer when it
is drawn and on each light poll, with the time the viewer last typed in a composer.
A row counts for :data:`VIEWING_SECONDS` (typing for :data:`TYPING_SECONDS`); every
poll deletes the rows gone past that, so the table holds only the viewers of now.
Staff only: the console's pages are."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction

from .models import Case, CasePresence, User

#: A viewer counts this long after their last poll (the page polls every 10 s).
VIEWING_SECONDS = 35
#: "is writing" this long after the last key pressed in a composer.
TYPING_SECONDS = 15


def record(case: Case, user: User, now: datetime, *, typing: bool = False) -> None:
    """``user`` has ``case`` open at ``now`` (and typed in its composer if ``typing``)."""
    fields = {"seen_at": now, **({"typing_at": now} if typing else {})}
    if CasePresence.objects.filter(case=case, user=user).update(**fields):
        return
    try:
        with transaction.atomic():
            CasePresence.objects.create(case=case, user=user, **fields)
    except IntegrityError:  # another request of the same viewer got there first
        CasePresence.objects.filter(case=case, user=user).update(**fields)


def others(case: Case, user: User, now: datetime) -> list[dict]:
    """The other people with ``case`` open, by name, with whether they are writing;
    forgets every viewer gone longer than the expiry (of any case)."""
    gone = now - timedelta(seconds=VIEWING_SECONDS)
    CasePresence.objects.filter(seen_at__lt=gone).delete()
    typing_since = now - timedelta(seconds=TYPING_SECONDS)
    rows = (CasePresence.objects.filter(case=case, seen_at__gte=gone).exclude(user=user)
            .select_related("user").order_by("user__first_name", "user__username"))
    return [{"name": row.user.get_full_name() or row.user.username,
             "typing": row.typing_at is not None and row.typing_at >= typing_since}
            for row in rows]
