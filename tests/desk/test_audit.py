"""``slpdesk sla audit`` (issue 10): every stored SLA column equals a replay."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from desk.conftest import ny
from slpdesk import cli
from slpdesk.desk import audit, services
from slpdesk.desk.demo import load_demo
from slpdesk.desk.models import Case, CaseEvent


@pytest.fixture
def clock(monkeypatch):
    state = SimpleNamespace(now=ny(2026, 7, 6, 12, 0))
    monkeypatch.setattr("django.utils.timezone.now", lambda: state.now)
    return state


def run(capsys, *args):
    code = cli.main(["sla", "audit", *args])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


@pytest.mark.parametrize("now", [datetime(2026, 7, 7, 15, 0, tzinfo=UTC),
                                 datetime(2026, 11, 29, 19, 30, tzinfo=UTC)],
                         ids=["tuesday", "sunday-night"])
def test_the_demo_data_audits_with_no_difference(db, now):
    assert load_demo(now) is True
    result = audit.audit(now + timedelta(days=3))
    assert (result.checked, result.differ) == (Case.objects.count(), 0)


def p1_case(cast, now, triage=True, site=None, contact=None):
    case = services.receive_case(site or cast.hartford, contact=contact or cast.alice,
                                 channel="portal", proposed_priority="P1", title="Down",
                                 actor=contact or cast.alice, now=now)
    if triage:
        services.assign_priority(case, "P1", information_complete=True, actor=cast.sam,
                                 now=now)
    return case


def test_it_prints_each_case_that_differs_and_exits_1(cast, clock, capsys):
    # P1 at Monday 09:00 in New York, triaged complete: resolution due 8 business
    # hours later, 17:00 EDT = 21:00Z.
    case = p1_case(cast, ny(2026, 7, 6, 9, 0))
    other = p1_case(cast, ny(2026, 7, 6, 9, 0), triage=False)
    assert run(capsys) == (0, ["checked 2 cases: 0 differ"], "")
    Case.objects.filter(pk=case.pk).update(
        resolution_due=datetime(2026, 7, 7, 21, 0, tzinfo=UTC))
    line = (f"{case.number} resolution_due stored 2026-07-07T21:00:00Z replayed "
            "2026-07-06T21:00:00Z")
    assert run(capsys) == (1, [line, "checked 2 cases: 1 differ"], "")
    assert run(capsys, "--case", case.number) == (1, [line, "checked 1 cases: 1 differ"], "")
    assert run(capsys, "--case", other.number) == (0, ["checked 1 cases: 0 differ"], "")
    code, out, err = run(capsys, "--case", "SLP-999999")
    assert (code, out, err) == (2, [], "slpdesk: error: --case: there is no case SLP-999999\n")

    assert run(capsys, "--fix") == (0, [line, "checked 2 cases: 1 differ", "fixed 1 cases"],
                                    "")
    case.refresh_from_db()
    assert case.resolution_due == datetime(2026, 7, 6, 21, 0, tzinfo=UTC)
    assert case.sla_computed_at == clock.now  # recomputed by refresh_sla, now
    assert run(capsys) == (0, ["checked 2 cases: 0 differ"], "")


def test_several_differences_of_a_case_go_on_one_line(cast, clock, capsys):
    case = p1_case(cast, ny(2026, 7, 6, 9, 0))
    # Response due 11:00 EDT (15:00Z), running at 09:00.
    Case.objects.filter(pk=case.pk).update(response_due=None, response_state="met")
    assert run(capsys) == (1, [f"{case.number} response_due stored none replayed "
                               "2026-07-06T15:00:00Z; response_state stored met replayed "
                               "running", "checked 1 cases: 1 differ"], "")


def test_a_case_waiting_for_the_worker_differs(cast, clock, capsys):
    case = p1_case(cast, ny(2026, 7, 6, 9, 0))
    clock.now = ny(2026, 7, 6, 12, 0)
    assert services.request_recompute("global", clock.now) == 1
    assert run(capsys) == (1, [f"{case.number} sla_computed_at stored none replayed "
                               "2026-07-06T16:00:00Z", "checked 1 cases: 1 differ"], "")
    assert run(capsys, "--fix")[0] == 0
    assert run(capsys) == (0, ["checked 1 cases: 0 differ"], "")


def test_an_event_written_behind_the_services_back_is_found(cast, clock, capsys):
    case = p1_case(cast, ny(2026, 7, 6, 9, 0))
    CaseEvent.objects.create(case=case, at=ny(2026, 7, 6, 10, 0), type="responded")
    clock.now = ny(2026, 7, 6, 12, 0)
    # The response clock stopped at 10:00 EDT (14:00Z) and the first update (P1: every
    # 2 business hours) is owed at 12:00 EDT; the stored columns still say it runs.
    assert run(capsys) == (1, [
        f"{case.number} sla_computed_at stored 2026-07-06T13:00:00Z replayed "
        "2026-07-06T16:00:00Z; next_update_due stored none replayed 2026-07-06T16:00:00Z; "
        "earliest_due stored 2026-07-06T15:00:00Z replayed 2026-07-06T16:00:00Z; "
        "response_stopped stored none replayed 2026-07-06T14:00:00Z",
        "checked 1 cases: 1 differ"], "")


def test_progress_goes_to_standard_error(cast, clock, capsys):
    p1_case(cast, ny(2026, 7, 6, 9, 0))
    code, out, err = run(capsys, "--progress")
    assert (code, out) == (0, ["checked 1 cases: 0 differ"])
    assert "auditing:" in err and "/1 [" in err  # tqdm: done/total


def test_it_reads_in_batches(cast, clock):
    cases = [p1_case(cast, ny(2026, 7, 6, 9, 0), triage=False) for _ in range(5)]
    Case.objects.filter(pk=cases[3].pk).update(response_due=None)
    seen, progress = [], []
    result = audit.audit(clock.now, batch=2, report=seen.append, progress=progress.append)
    assert (result.checked, result.differ, progress) == (5, 1, [2, 2, 1])
    assert [a.number for a in seen] == [cases[3].number]
    assert seen[0].differences == (audit.Difference(
        "response_due", None, datetime(2026, 7, 6, 15, 0, tzinfo=UTC)),)
