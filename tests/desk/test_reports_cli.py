"""``slpdesk report`` and ``slpdesk policy simulate``: the same figures on the command
line, as JSON and text, with a progress bar on request."""

import json

import pytest

from desk.test_reports import NOW, build_july, halved_p3_response
from slpdesk import cli
from slpdesk.sla import shipped_policy_text

JULY = ["--from", "2026-07-01", "--to", "2026-07-31", "--tz", "America/New_York"]


@pytest.fixture
def july(cast, monkeypatch):
    monkeypatch.setattr("django.utils.timezone.now", lambda: NOW)
    return build_july(cast)


def run(capsys, *args):
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_report_as_json_has_the_reports_figures(july, capsys):
    code, out, err = run(capsys, "report", *JULY, "--format", "json")
    assert code == 0 and err == ""  # no progress bar: standard error is not a terminal
    doc = json.loads(out)
    assert doc["period"] == {"from": "2026-07-01", "to": "2026-07-31",
                             "time_zone": "America/New_York"}
    assert doc["cases"] == 13
    assert doc["totals"]["response"]["met"] == 9
    assert doc["totals"]["response"]["compliance"] == 75.0
    p3 = next(t for t in doc["business_time"] if t["priority"] == "P3")
    assert (p3["response"]["median_seconds"], p3["response"]["p90_seconds"]) == (23400, 90000)
    assert doc["status_updates"][-1] == {"key": "", "owed": 10, "on_time": 6, "missed": 4,
                                         "on_time_percent": 60.0}
    assert [e["level"] for e in doc["escalations"]] == [1, 2]
    assert [b["key"] for b in doc["by"]["month"]] == ["2026-07"]


def test_report_as_text(july, capsys):
    code, out, _ = run(capsys, "report", *JULY)
    assert code == 0
    assert out.startswith("SLA compliance report: cases received 2026-07-01 to 2026-07-31 "
                          "(America/New_York)")
    assert "All cases     13" in out and "75.0%" in out
    # Business time as hours:minutes: P3 responses median 6 h 30, p90 25 h; resolutions
    # median 26 h, p90 31.6 h = 31 h 36.
    assert "P3                6    6h30  25h00   24h00            3   26h00  31h36   48h00" in out


def test_a_progress_bar_on_request(july, capsys, tmp_path):
    draft = tmp_path / "draft.toml"
    draft.write_text(shipped_policy_text(), encoding="utf-8")
    code, _, err = run(capsys, "policy", "simulate", str(draft), *JULY, "--format", "json",
                       "--progress")
    assert code == 0 and "replaying" in err
    # The report replays nothing (it sums stored facts): no bar to show.
    code, _, err = run(capsys, "report", *JULY, "--format", "json", "--progress")
    assert code == 0 and "replaying" not in err


def test_policy_simulate_lists_the_changed_case(july, capsys, tmp_path):
    draft = tmp_path / "draft.toml"
    draft.write_text(halved_p3_response(), encoding="utf-8")
    code, out, _ = run(capsys, "policy", "simulate", str(draft), *JULY, "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert [c["case"] for c in doc["changed_cases"]] == july.number("C4")
    assert doc["changed_cases"][0]["current"]["response"] == "met"
    assert doc["changed_cases"][0]["draft"]["response"] == "breached"
    assert doc["draft"] == {"policy": "connect", "version": "2-draft"}
    code, out, _ = run(capsys, "policy", "simulate", str(draft), *JULY)
    assert "1 cases would change" in out and july.number("C4")[0] in out


@pytest.mark.parametrize("args, message", [
    (["report", "--from", "July", "--to", "2026-07-31"], "--from: 'July' is not a date"),
    (["report", "--from", "2026-07-31", "--to", "2026-07-01"], "ends before it starts"),
    (["report", "--from", "2026-07-01", "--to", "2026-07-31", "--tz", "Mars/Base"],
     "unknown time zone"),
    (["policy", "simulate", "/nonexistent.toml", "--from", "2026-07-01", "--to",
      "2026-07-31"], "cannot read"),
])
def test_bad_input_is_one_line_and_exit_2(july, capsys, args, message):
    code, out, err = run(capsys, *args)
    assert code == 2 and out == ""
    assert message in err and err.count("\n") == 1
