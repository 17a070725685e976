"""Program updates (U1-U2) and policy versions (V1-V2): who may publish, who is told
(in their language, urgent ones first), what the portal shows, the changes in
words, the notice period, and cases keeping their version (K8)."""

from datetime import date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from desk.conftest import ny
from slpdesk import cli
from slpdesk.desk import publishing, services
from slpdesk.desk.models import ImmutableError, Outbox, PolicyVersion, ProgramUpdate, User
from slpdesk.desk.publishing import describe_changes
from slpdesk.desk.services import DeskError
from slpdesk.sla import policy_from_text, shipped_policy_text

UTC = ZoneInfo("UTC")
#: Wednesday 8 July 2026, 10:00 in New York.
NOW = ny(2026, 7, 8, 10, 0)
SHIPPED = shipped_policy_text()


def edited(*replacements, version="2") -> str:
    """The shipped policy file with each (old, new) text replaced once, as ``version``."""
    text = SHIPPED.replace('version = "1"', f'version = "{version}"', 1)
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def policy(*replacements):
    return policy_from_text(edited(*replacements))


@pytest.fixture
def clock(monkeypatch):
    state = SimpleNamespace(now=NOW)
    monkeypatch.setattr("django.utils.timezone.now", lambda: state.now)
    return state


@pytest.fixture
def people(cast, clock):
    """Technical contacts: Alice (Acme, English), Bea (Brit Mill, Swedish), Olga (Other
    Co), Edgar (Endco, supported through a partner), Nora (Noagree, agreement ended).
    Max is a manager, Sam an agent."""
    cast.bea.language = "sv"
    cast.bea.save()
    for org, contact in ((cast.acme, cast.alice), (cast.brit, cast.bea),
                         (cast.other, cast.olga), (cast.endco_site.organisation, cast.edgar),
                         (cast.noagree_site.organisation, cast.nora)):
        org.technical_contact = contact
        org.save()
    PolicyVersion.objects.in_force(ny(2026, 1, 1))  # the shipped policy, from New Year
    return SimpleNamespace(max=User.objects.create_user(
        "max", "max@vendor.example", "pw", role=User.Role.MANAGER), sam=cast.sam)


def recipients(kind) -> set[str]:
    return set(Outbox.objects.filter(kind=kind).values_list("to_address", flat=True))


# -------------------------------------------------------------- in words
def test_the_same_policy_changes_nothing():
    shipped = policy_from_text(SHIPPED)
    assert describe_changes(shipped, shipped) == []
    assert describe_changes(shipped, policy()) == []  # only the version differs


def test_changed_targets_are_described_per_priority_and_where_it_matters_per_calendar():
    shipped = policy_from_text(SHIPPED)
    new = policy(('response = "2h"', 'response = "4h"'),
                 ('resolution = "10d"', 'resolution = "8d"'))
    assert describe_changes(shipped, new) == [
        "P1 response: 4 business hours (before: 2 business hours).",
        "P4 resolution on the Global (local time of the site) calendar: 8 business days "
        "(72 business hours) (before: 10 business days (90 business hours)).",
        "P4 resolution on the United Kingdom (UTC) calendar: 8 business days "
        "(64 business hours) (before: 10 business days (80 business hours)).",
        "P4 resolution on the US phone support (local time) calendar: 8 business days "
        "(72 business hours) (before: 10 business days (90 business hours)).",
    ]


def test_calendars_rules_escalation_scope_and_phone_lines_are_described():
    shipped = policy_from_text(SHIPPED)
    new = policy(
        ('hours = { mon = ["09:00-17:00"], tue = ["09:00-17:00"], wed = ["09:00-17:00"], '
         'thu = ["09:00-17:00"], fri = ["09:00-17:00"] }',
         'hours = { mon = ["09:00-17:30"], tue = ["09:00-17:30"], wed = ["09:00-17:30"], '
         'thu = ["09:00-17:30"], fri = ["09:00-16:00"] }'),
        ('zone = "UTC"', 'zone = "Europe/London"'),
        ('holidays = { country = "GB", subdiv = "ENG" }',
         'holidays = { country = "GB", subdiv = "SCT" }'),
        ("closed_dates = []", "closed_dates = [2026-12-24]"),
        ('countries = ["GB"]', 'countries = ["GB", "IE"]'),
        ('roles = ["manager"]', 'roles = ["manager", "admin"]'),
        ('email_subject = "Escalation Request"', 'email_subject = "ESCALATE"'),
        ('direct_to_top_priorities = ["P1", "P2"]', 'direct_to_top_priorities = ["P1"]'),
        ('[[out_of_scope]]\ncode = "sdk"\nname = { en = "SDK questions", sv = "Frågor om SDK" }'
         '\n\n', ""),
        ('number = "+1 800 228 2877"', 'number = "+1 800 555 0100"'),
        ("at_risk_fraction = 0.25", "at_risk_fraction = 0.2"),
    )
    said = describe_changes(shipped, new)
    assert said == [
        "A target is marked at risk with less than 20 % of its time left (before: 25 %).",
        # P4's "10d" follows the UK calendar's business day, which grows to 8.5 hours.
        "P4 resolution on the United Kingdom (UTC) calendar: 10 business days (85 business "
        "hours) (before: 10 business days (80 business hours)).",
        "Global (local time of the site) calendar is also closed on 2026-12-24.",
        "United Kingdom (UTC) calendar hours: Mon–Thu 09:00–17:30; Fri 09:00–16:00 "
        "(before: Mon–Fri 09:00–17:00).",
        "United Kingdom (UTC) calendar time zone: Europe/London (before: UTC).",
        "United Kingdom (UTC) calendar closes on public holidays of GB-SCT (before: public "
        "holidays of GB-ENG).",
        "A business day on the United Kingdom (UTC) calendar: 8.5 business hours (before: "
        "8 business hours).",
        "Sites in IE use the United Kingdom (UTC) calendar (before: Global (local time of "
        "the site)).",
        "Escalation level 2 is taken on by Support manager, Administrator (before: Support "
        "manager).",
        "To escalate by e-mail, write “ESCALATE” and the case number in the subject "
        "(before: “Escalation Request”).",
        "An escalation by e-mail goes straight to the top level for P1 (before: P1, P2).",
        "No longer out of scope for support: SDK questions.",
        "New phone line +1 800 555 0100 (US), US phone support (local time) hours.",
        "The phone line +1 800 228 2877 (US) is withdrawn.",
    ]


def test_the_changes_use_the_policys_own_names_in_swedish():
    shipped = policy_from_text(SHIPPED)
    new = policy(('resolution = "10d"', 'resolution = "9d"'))
    said = describe_changes(shipped, new, "sv")
    assert any("Storbritannien (UTC)" in line for line in said)
    assert all("United Kingdom" not in line for line in said)


# ----------------------------------------------------------- program updates
def test_publishing_an_update_tells_every_covered_organisations_technical_contact(
        cast, people):
    update = publishing.create_update(
        name="2026 SP1", released=date(2026, 7, 1), kind=ProgramUpdate.Kind.PLANNED,
        security=True, notes="Fixes the G3 arcs.", releases=[cast.r2026, cast.r2025],
        actor=people.max, now=NOW)
    assert Outbox.objects.count() == 0  # recorded, nobody told yet
    told = publishing.publish_update(update, actor=people.max, now=NOW)
    # Endco is supported through its partner (E3); Noagree's agreement has ended.
    assert told == 3
    assert recipients("program_update") == {"alice@example.com", "bea@example.com",
                                            "olga@example.com"}
    assert not Outbox.objects.filter(urgent=True).exists()
    mail = Outbox.objects.get(to_address="alice@example.com")
    assert "2026 SP1" in mail.subject and "Fixes the G3 arcs." in mail.body_text
    assert Outbox.objects.get(to_address="bea@example.com").language == "sv"
    update.refresh_from_db()
    assert (update.published_at, update.published_by) == (NOW, people.max)
    with pytest.raises(DeskError, match="already published"):
        publishing.publish_update(update, actor=people.max, now=NOW)
    assert Outbox.objects.count() == 3


def test_an_urgent_update_goes_ahead_of_other_mail(cast, people):
    update = publishing.create_update(
        name="2026 HF1", released=date(2026, 7, 8), kind=ProgramUpdate.Kind.URGENT,
        security=False, notes="", releases=[cast.r2026], actor=people.max, now=NOW)
    publishing.publish_update(update, actor=people.max, now=NOW)
    assert set(Outbox.objects.values_list("urgent", flat=True)) == {True}
    assert Outbox.objects.filter(kind="program_update").first().subject.startswith("[Urgent]")


def test_updates_only_for_supported_releases_and_only_by_managers(cast, people):
    args = {"released": date(2026, 7, 1), "kind": "planned", "security": False, "notes": ""}
    with pytest.raises(DeskError, match="2024 is not one of them"):
        publishing.create_update(name="2024 SP9", releases=[cast.r2024], actor=people.max,
                                 now=NOW, **args)
    with pytest.raises(DeskError, match="managers"):
        publishing.create_update(name="2026 SP1", releases=[cast.r2026], actor=people.sam,
                                 now=NOW, **args)
    # One recorded in the admin for an old release is refused when published.
    update = ProgramUpdate.objects.create(name="2024 SP9", released=date(2026, 7, 1))
    update.applies_to.set([cast.r2024])
    with pytest.raises(DeskError, match="2024"):
        publishing.publish_update(update, actor=people.max, now=NOW)
    assert ProgramUpdate.objects.get().published_at is None
    assert Outbox.objects.count() == 0


def test_the_portal_lists_updates_and_says_when_a_release_has_a_newer_one(
        cast, people, client):
    services.receive_case(cast.hartford, contact=cast.alice, channel="portal",
                          proposed_priority="P3", title="Posts", release=cast.r2025,
                          actor=cast.alice, now=ny(2026, 7, 6, 9))
    client.force_login(cast.alice)
    home = client.get(reverse("portal:home")).content.decode()
    assert "A newer update exists" not in home
    update = publishing.create_update(
        name="2025 SP4", released=date(2026, 7, 2), kind="planned", security=True,
        notes="Faster <b>simulation</b>.", releases=[cast.r2025], actor=people.max, now=NOW)
    hidden = client.get(reverse("portal:updates")).content.decode()
    assert "2025 SP4" not in hidden  # not published yet
    publishing.publish_update(update, actor=people.max, now=NOW)
    home = client.get(reverse("portal:home")).content.decode()
    assert "A newer update exists for release 2025: 2025 SP4" in home
    assert "Your cases use this release." in home
    intake = client.get(reverse("portal:new_case")).content.decode()
    assert "Apply the latest update first" in intake and "2025 SP4" in intake
    page = client.get(reverse("portal:updates")).content.decode()
    assert "2025 SP4" in page and "Faster &lt;b&gt;simulation&lt;/b&gt;." in page
    client.force_login(cast.sam)
    assert client.get(reverse("portal:updates")).status_code == 302  # staff: the console


def test_managers_record_and_publish_updates_in_the_console(cast, people, client):
    client.force_login(people.sam)
    assert client.get(reverse("console:updates")).status_code == 200
    form = {"name": "2026 SP1", "released": "2026-07-01", "kind": "urgent",
            "releases": [cast.r2026.pk], "notes": "Arcs."}
    assert client.post(reverse("console:updates"), form).status_code == 403
    client.force_login(people.max)
    assert client.post(reverse("console:updates"), form).status_code == 302
    update = ProgramUpdate.objects.get()
    page = client.get(reverse("console:updates")).content.decode()
    assert "Publish and notify" in page
    client.post(reverse("console:publish_update", args=[update.pk]))
    update.refresh_from_db()
    assert update.published_at == NOW and Outbox.objects.filter(urgent=True).count() == 3


def test_the_admin_publishes_updates_with_an_action(cast, people, admin_client):
    update = ProgramUpdate.objects.create(name="2026 SP2", released=date(2026, 7, 3))
    update.applies_to.set([cast.r2026])
    url = reverse("admin:desk_programupdate_changelist")
    assert admin_client.get(url).status_code == 200
    # A superuser given no desk role (here: made a customer afterwards) may not publish.
    user = User.objects.get(username="admin")
    user.role = User.Role.CUSTOMER
    user.save()
    admin_client.post(url, {"action": "publish", "_selected_action": [update.pk]})
    update.refresh_from_db()
    assert update.published_at is None
    # A superuser as createsuperuser makes one is an administrator (issue 12): it may.
    user.role = User.Role.ADMIN
    user.save()
    admin_client.post(url, {"action": "publish", "_selected_action": [update.pk]})
    update.refresh_from_db()
    assert update.published_at is not None
    assert admin_client.get(reverse("admin:desk_inboundmessage_changelist")).status_code == 200


# ------------------------------------------------------------ policy changes
def at(day: date) -> datetime:
    return publishing.effective_from(day)


def test_a_version_with_less_than_30_days_notice_is_refused(cast, people):
    text = edited(('response = "2h"', 'response = "3h"'))
    today = NOW.astimezone(UTC).date()  # 2026-07-08
    with pytest.raises(DeskError, match="at least 30 days") as refused:
        publishing.publish_policy(text, effective_at=at(today + timedelta(days=29)),
                                  actor=people.max, now=NOW)
    assert "on 2026-08-08 or later, not 2026-08-06" in str(refused.value)
    assert PolicyVersion.objects.count() == 1 and Outbox.objects.count() == 0
    with pytest.raises(DeskError, match="managers"):
        publishing.publish_policy(text, effective_at=at(today + timedelta(days=30)),
                                  actor=people.sam, now=NOW)
    with pytest.raises(DeskError, match="not valid"):
        publishing.publish_policy("[policy]\nid = 1", effective_at=at(date(2026, 9, 1)),
                                  actor=people.max, now=NOW)


def test_the_notice_counts_whole_days_of_24_hours_from_the_instant_of_publication(
        cast, people):
    """V1: 30 days are 30 × 24 h from publication to 00:00 UTC of the effective date."""
    text = edited(('response = "2h"', 'response = "3h"'))
    published = datetime(2026, 7, 9, 0, 0, tzinfo=UTC) + timedelta(hours=1)
    # 2026-08-08 00:00 UTC is 29 days 23 hours after 2026-07-09 01:00 UTC.
    with pytest.raises(DeskError) as refused:
        publishing.publish_policy(text, effective_at=at(date(2026, 8, 8)), actor=people.max,
                                  now=published)
    assert str(refused.value) == ("A new version of the policy takes effect at least 30 days "
                                  "after it is published: on 2026-08-09 or later, not "
                                  "2026-08-08.")
    assert PolicyVersion.objects.count() == 1
    # Exactly 30 days: published at 00:00 UTC, in force 30 × 24 h later.
    version = publishing.publish_policy(text, effective_at=at(date(2026, 8, 8)),
                                        actor=people.max, now=datetime(2026, 7, 9, tzinfo=UTC))
    assert version.effective_at == datetime(2026, 8, 8, tzinfo=UTC)
    assert publishing.earliest_effective(30, published) == datetime(2026, 8, 9, tzinfo=UTC)


def test_a_published_version_is_never_changed_or_deleted(cast, people):
    """K8: no path through the models changes the text, number or dates of a version."""
    version = publishing.publish_policy(edited(), effective_at=at(date(2026, 9, 1)),
                                        actor=people.max, now=NOW)
    stored = PolicyVersion.objects.filter(pk=version.pk).values().get()
    changes = {"toml": edited(('response = "2h"', 'response = "6h"')), "version": "9",
               "policy_id": "other", "effective_at": at(date(2026, 8, 1)),
               "published_at": NOW - timedelta(days=60)}
    for field, value in changes.items():
        obj = PolicyVersion.objects.get(pk=version.pk)
        setattr(obj, field, value)
        with pytest.raises(ImmutableError):
            obj.save()
        with pytest.raises(ImmutableError):
            PolicyVersion.objects.filter(pk=version.pk).update(**{field: value})
        with pytest.raises(ImmutableError):
            PolicyVersion.objects.bulk_update([obj], [field])
    with pytest.raises(ImmutableError):
        version.delete()
    with pytest.raises(ImmutableError):
        PolicyVersion.objects.filter(pk=version.pk).delete()
    assert PolicyVersion.objects.filter(pk=version.pk).values().get() == stored
    # What is not the record may change: the publisher's account may go (SET_NULL).
    PolicyVersion.objects.filter(pk=version.pk).update(published_by=None)


def test_publishing_sends_the_written_notice_and_the_portal_shows_the_change(
        cast, people, client, clock):
    text = edited(('response = "2h"', 'response = "3h"'))
    version = publishing.publish_policy(text, effective_at=at(date(2026, 8, 8)),
                                        actor=people.max, now=NOW)
    assert (version.version, version.published_by, version.effective_at) == (
        "2", people.max, datetime(2026, 8, 8, tzinfo=UTC))
    assert version.changes == [{"en": "P1 response: 3 business hours (before: 2 business "
                                      "hours).", "sv": version.changes[0]["sv"]}]
    assert recipients("policy_notice") == {"alice@example.com", "bea@example.com",
                                           "olga@example.com"}
    notice = Outbox.objects.get(kind="policy_notice", to_address="alice@example.com")
    assert "8 August 2026" in notice.subject
    assert "P1 response: 3 business hours (before: 2 business hours)." in notice.body_text
    swedish = Outbox.objects.get(kind="policy_notice", to_address="bea@example.com")
    assert swedish.language == "sv" and "augusti 2026" in swedish.subject
    with pytest.raises(DeskError, match="already published"):
        publishing.publish_policy(text, effective_at=at(date(2026, 9, 7)),
                                  actor=people.max, now=NOW)

    cast.alice.time_zone = "America/New_York"  # the change is dated as the notice says
    cast.alice.save()
    client.force_login(cast.alice)
    for name in ("portal:home", "portal:new_case", "portal:updates"):
        page = client.get(reverse(name)).content.decode()
        assert "The service level policy changes on 8 Aug 2026" in page, name
        assert "P1 response: 3 business hours (before: 2 business hours)." in page
    clock.now = datetime(2026, 8, 8, 0, 0, 1, tzinfo=UTC)  # in force: no longer "coming"
    assert "The service level policy changes" not in client.get(
        reverse("portal:home")).content.decode()


def test_versions_take_effect_in_order(cast, people):
    publishing.publish_policy(edited(), effective_at=at(date(2026, 9, 1)), actor=people.max,
                              now=NOW)
    with pytest.raises(DeskError, match="must take effect after it"):
        publishing.publish_policy(edited(version="3"), effective_at=at(date(2026, 8, 20)),
                                  actor=people.max, now=NOW)
    v3 = publishing.publish_policy(edited(('response = "2h"', 'response = "1h"'),
                                          version="3"),
                                   effective_at=at(date(2026, 10, 1)), actor=people.max,
                                   now=NOW)
    # Described against the version it follows (2), not the one in force (1).
    assert [c["en"] for c in v3.changes] == ["P1 response: 1 business hour (before: 2 "
                                             "business hours)."]


def test_cases_keep_the_version_they_were_received_under(cast, people):
    """K8, V2."""
    publishing.publish_policy(edited(('response = "2h"', 'response = "4h"')),
                              effective_at=at(date(2026, 8, 8)), actor=people.max, now=NOW)
    before = services.receive_case(cast.hartford, contact=cast.alice, channel="portal",
                                   proposed_priority="P1", title="Before",
                                   actor=cast.alice, now=ny(2026, 8, 6, 9))
    after = services.receive_case(cast.hartford, contact=cast.alice, channel="portal",
                                  proposed_priority="P1", title="After",
                                  actor=cast.alice, now=ny(2026, 8, 10, 9))
    assert (before.policy_version.version, after.policy_version.version) == ("1", "2")
    assert before.response_due == ny(2026, 8, 6, 11)
    assert after.response_due == ny(2026, 8, 10, 13)
    # A change to the old case after the new version took effect still counts 2 hours.
    services.assign_priority(before, "P1", actor=cast.sam, now=ny(2026, 8, 10, 10))
    before.refresh_from_db()
    assert before.policy_version.version == "1" and before.response_due == ny(2026, 8, 6, 11)


def test_managers_preview_and_publish_a_version_in_the_console(cast, people, client):
    text = edited(('resolution = "8h"', 'resolution = "6h"'))
    client.force_login(people.sam)
    assert client.get(reverse("console:policy")).status_code == 200
    assert client.post(reverse("console:policy"), {
        "toml": text, "effective": "2026-09-01", "action": "publish"}).status_code == 403
    client.force_login(people.max)
    page = client.post(reverse("console:policy"), {
        "toml": text, "effective": "2026-07-20", "action": "preview"}).content.decode()
    assert "P1 resolution: 6 business hours (before: 8 business hours)." in page
    assert "at least 30 days" in page
    assert PolicyVersion.objects.count() == 1
    refused = client.post(reverse("console:policy"), {
        "toml": text, "effective": "2026-07-20", "action": "publish"})
    assert refused.status_code == 200 and PolicyVersion.objects.count() == 1
    from django.core.files.uploadedfile import SimpleUploadedFile

    done = client.post(reverse("console:policy"), {
        "file": SimpleUploadedFile("connect-2.toml", text.encode()), "effective": "2026-09-01",
        "action": "publish"})
    assert done.status_code == 302
    version = PolicyVersion.objects.get(version="2")
    assert version.published_by == people.max
    page = client.get(reverse("console:policy")).content.decode()
    assert "coming" in page and "P1 resolution: 6 business hours" in page


# ------------------------------------------------------------- the command
def test_policy_publish_on_the_command_line(cast, people, tmp_path, capsys):
    path = Path(tmp_path, "connect-2.toml")
    path.write_text(edited(('update_interval = "2h"', 'update_interval = "1h"')), "utf-8")
    assert cli.main(["policy", "publish", str(path), "--effective", "2026-08-06",
                     "--now", "2026-07-08T14:00:00+00:00"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("slpdesk: error: A new version of the policy takes effect at least "
                          "30 days after it is published")
    assert cli.main(["policy", "publish", str(path), "--effective", "2026-08-08",
                     "--now", "2026-07-08T14:00:00+00:00", "--by", "max"]) == 0
    out = capsys.readouterr().out
    assert '"published": "connect 2"' in out and "P1 status-update interval: 1 business hour" \
        in out
    assert PolicyVersion.objects.get(version="2").published_by == people.max
    assert recipients("policy_notice") == {"alice@example.com", "bea@example.com",
                                           "olga@example.com"}
    assert cli.main(["policy", "diff", str(path), "--against", "current"]) == 0
    assert "connect 1 (in force) -> connect 2" in capsys.readouterr().out


def test_the_pages_and_notices_render_in_both_languages(cast, people, client):
    update = publishing.create_update(
        name="2026 SP1", released=date(2026, 7, 1), kind="urgent", security=True,
        notes="Arcs.", releases=[cast.r2026], actor=people.max, now=NOW)
    publishing.publish_update(update, actor=people.max, now=NOW)
    publishing.publish_policy(edited(('response = "2h"', 'response = "3h"')),
                              effective_at=at(date(2026, 8, 8)), actor=people.max, now=NOW)
    for mail in Outbox.objects.all():
        assert mail.subject and mail.body_text and "<html" in mail.body_html, mail.kind
        assert "{%" not in mail.body_text and "{{" not in mail.body_html
    assert set(Outbox.objects.values_list("language", flat=True)) == {"en", "sv"}
    for lang in ("en", "sv"):
        for user, names in ((cast.alice, ["portal:home", "portal:new_case", "portal:updates"]),
                            (people.max, ["console:updates", "console:policy",
                                          "console:inbound"])):
            user.language = lang
            user.save()
            client.force_login(user)
            for name in names:
                response = client.get(reverse(name))
                assert response.status_code == 200, (lang, name)
                assert f'<html lang="{lang}">' in response.content.decode()
