"""A small django-helpdesk 2.6.1 database for the converter's test, made by
django-helpdesk itself: run with ``DJANGO_SETTINGS_MODULE=peer_settings`` (bench/)
and ``PEER_SQLITE`` or ``PEER_DATABASE_URL`` naming an empty database."""

from datetime import UTC, datetime


def at(day, hour, minute=0):
    return datetime(2026, 7, day, hour, minute, tzinfo=UTC)


def main() -> None:
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from helpdesk.models import FollowUp, Queue, Ticket, TicketChange

    call_command("migrate", interactive=False, verbosity=0)
    queue = Queue.objects.create(title="Acme Tooling", slug="acme")
    sam = User.objects.create_user("sam", "sam@example.com", is_staff=True)

    def ticket(**kw):
        t = Ticket.objects.create(queue=queue, secret_key=f"k{Ticket.objects.count()}", **kw)
        # its historic time (a follow-up saves the ticket again: the instance keeps it)
        Ticket.objects.filter(pk=t.pk).update(created=kw["created"])
        t.created = kw["created"]
        return t

    def followup(t, when, **kw):
        f = FollowUp.objects.create(ticket=t, date=when, title="x", **kw)
        FollowUp.objects.filter(pk=f.pk).update(date=when)
        return f

    # 1: Critical, answered, lowered to High, the customer writes, resolved.
    one = ticket(title="Licence server down", created=at(6, 13), priority=1,
                 submitter_email="alice@example.com", description="It stopped at nine.",
                 status=Ticket.RESOLVED_STATUS, resolution="Restarted the service.")
    followup(one, at(6, 14), comment="We are on it.", public=True, user=sam)
    change = followup(one, at(6, 15), comment="Not that urgent after all.", public=False,
                      user=sam)
    TicketChange.objects.create(followup=change, field="Priority", old_value="1",
                                new_value="2")
    followup(one, at(6, 16), comment="Thanks, still broken here.", public=True, user=None)
    followup(one, at(6, 19), comment="Fixed by a restart.", public=True, user=sam,
             new_status=Ticket.RESOLVED_STATUS)
    # 2: Normal, never answered, still open.
    ticket(title="Slow export", created=at(7, 14), priority=3,
           submitter_email="alice@example.com", description="Export takes an hour.",
           status=Ticket.OPEN_STATUS)
    # 3: closed as a duplicate, by a staff follow-up without a word.
    three = ticket(title="Same as before", created=at(7, 15), priority=4,
                   submitter_email="bob@example.com", description="Dup.",
                   status=Ticket.DUPLICATE_STATUS)
    followup(three, at(7, 16), comment="", public=False, user=sam,
             new_status=Ticket.DUPLICATE_STATUS)


if __name__ == "__main__":
    main()
