"""The simulator's pure parts: reading a draft, and what counts as a changed case."""

from datetime import UTC, datetime

import pytest

from slpdesk.reports.compute import CaseRow, Clock, compare
from slpdesk.reports.simulate import MAX_DRAFT_BYTES, parse_draft
from slpdesk.sla import PolicyError, shipped_policy_text


def test_a_draft_is_read_and_validated_like_a_policy_file():
    draft = parse_draft(shipped_policy_text().replace('response = "24h"', 'response = "12h"'))
    assert draft.target_seconds("P3", "response", "global") == 12 * 3600
    with pytest.raises(PolicyError, match=r"^draft: not valid TOML"):
        parse_draft("[policy")
    with pytest.raises(PolicyError, match=r"upload.toml: priorities.P2.response"):
        parse_draft(shipped_policy_text().replace('response = "8h"', 'response = "soon"'),
                    "upload.toml")
    with pytest.raises(PolicyError, match="larger than"):
        parse_draft("#" * (MAX_DRAFT_BYTES + 1))


def row(n: int, **kw) -> CaseRow:
    base = dict(id=n, number=f"SLP-{n:06d}", title="", time_zone="UTC", priority="P2",
                received_at=datetime(2026, 7, 1, 12, tzinfo=UTC), region="global",
                organisation_id=1, organisation="Acme", kind="customer", agent_id=None,
                agent="", status="resolved", response=Clock("met", 60, 3600),
                resolution=Clock("met", 600, 7200))
    return CaseRow(**{**base, **kw})


def test_only_verdicts_missed_updates_and_replay_failures_are_changes():
    current = [row(1), row(2), row(3), row(4), row(5)]
    draft = [
        row(1, response=Clock("met", 60, 1800)),          # a new target, the same verdict
        row(2, resolution=Clock("breached", 600, 300)),   # met -> breached
        row(3, updates_owed=1),                           # owed, none missed: the same
        row(4, updates_missed=1),                         # one more missed
        row(5, error="unknown priority 'P2'"),            # the draft cannot replay it
    ]
    assert [(c.current.id, c.clocks) for c in compare(current, draft)] == [
        (2, ["resolution"]), (4, ["updates"]), (5, ["replay"])]
    assert compare(current, current) == []


def test_running_at_risk_and_paused_are_all_no_verdict_yet():
    for state in ("pending", "running", "at_risk", "paused"):
        assert Clock(state).outcome == "open"
    assert Clock("breached").outcome == "breached" and not Clock("breached").measured
    stopped = Clock("breached", 10, 5, datetime(2026, 7, 1, tzinfo=UTC), None,
                    datetime(2026, 7, 2, tzinfo=UTC))
    assert stopped.measured
