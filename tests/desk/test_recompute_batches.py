"""The worker's batch recompute on a generated desk (issue 14, C4, K6, K7).

A desk of a few hundred cases from the bench's loader (:mod:`desk_load`), its
calendars' recompute handed to the worker, which recomputes them in batches
(events and notices read per batch, one bulk write): every stored SLA column
then equals a replay of the case (``slpdesk sla audit`` finds no difference),
and each SLA moment that came while the cases waited fires exactly once.
"""

from datetime import UTC, datetime, timedelta

from desk_load import load
from slpdesk.desk import audit, services
from slpdesk.desk.models import Case, SlaNotice
from slpdesk.worker import schedule
from slpdesk.worker.steps import Context, handle_one_recompute_batch

NOW = datetime(2026, 11, 18, 14, 7, tzinfo=UTC)


def run_worker(at: datetime) -> int:
    batches = 0
    while handle_one_recompute_batch(at, Context(name="w1"), size=15):
        batches += 1
    return batches


def due_moments(at: datetime) -> set[tuple]:
    """Every (case, kind, clock, due) whose moment has come by ``at``, from a replay of
    each open case one by one (what the worker must have fired)."""
    out = set()
    for case in Case.objects.open().select_related("policy_version"):
        state = services.sla_state(case, at)
        moments = schedule.moments(state, case.business_calendar(),
                                   case.policy().at_risk_fraction)
        breached = {(m.clock, m.due) for m in moments if m.breach and m.at <= at}
        for m in moments:
            if m.at <= at and (m.breach or (m.clock, m.due) not in breached):
                out.add((case.pk, m.kind, m.clock, m.due))
    return out


def test_batches_store_what_a_replay_gives_and_fire_each_moment_once(db):
    load(400, NOW, seed=3)
    assert not SlaNotice.objects.exists()  # the loader fires nothing
    open_cases = Case.objects.open().count()
    assert open_cases > 15  # more than one batch
    late = NOW + timedelta(hours=5)  # the worker comes five hours after the change
    for calendar in ("global", "uk"):
        services.request_recompute(calendar, NOW)
    assert Case.objects.filter(sla_computed_at__isnull=True).count() == open_cases
    assert run_worker(late) == -(-open_cases // 15)
    assert not Case.objects.filter(sla_computed_at__isnull=True).exists()
    result = audit.audit(late)
    assert (result.checked, result.differ) == (400, 0)
    fired = set(SlaNotice.objects.values_list("case_id", "kind", "clock", "due"))
    assert fired == due_moments(late)
    assert len(fired) == SlaNotice.objects.count()  # each once
    # Recomputed again later: what fired stays fired, nothing fires twice.
    for calendar in ("global", "uk"):
        services.request_recompute(calendar, late)
    run_worker(late)
    assert set(SlaNotice.objects.values_list("case_id", "kind", "clock", "due")) == fired
    assert audit.audit(late).differ == 0
