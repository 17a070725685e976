"""The ``slpdesk sla`` command line (exact contract: other tools depend on it).

``sla due`` and ``sla replay`` are checked for exact JSON values (worked out by
hand below, spec sections 3-5) and key sets; bad input must give exit status
2, one line on stderr naming the problem and nothing on stdout, which is
checked on a real subprocess.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import slpdesk.sla
from slpdesk.cli import main

CONNECT = Path(slpdesk.sla.__file__).parent / "policies" / "connect.toml"
DUE_KEYS = {"priority", "calendar", "time_zone", "received", "clock_starts", "response_due",
            "resolution_due", "update_interval_seconds"}
CLOCK_KEYS = {"state", "started", "due", "stopped", "business_seconds", "remaining_seconds"}


def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "slpdesk.cli", *args],
        input=stdin, capture_output=True, text=True, timeout=60, check=False,
    )


def run_json(capsys, *args: str) -> dict:
    """Run ``main(argv)`` in process; it must succeed with JSON on stdout only."""
    rc = main(list(args))
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert out.err == ""
    return json.loads(out.out)


def assert_bad_input(proc: subprocess.CompletedProcess, *words: str) -> None:
    """Contract: exit 2, nothing on stdout, one line on stderr naming the problem."""
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.endswith("\n")
    assert len(proc.stderr.splitlines()) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for word in words:
        assert word in proc.stderr


def policy_copy(tmp_path: Path, old: str, new: str, name: str = "policy.toml") -> Path:
    text = CONNECT.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / name
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


# ------------------------------------------------------------------- sla due
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        # Fri 07-03 is Independence Day observed: starts Mon 07-06 08:00; +2h = 10:00;
        # +8h = 16:00.
        (
            ["--priority", "P1", "--received", "2026-07-03T16:30"],
            {"priority": "P1", "received": "2026-07-03T16:30:00-04:00",
             "clock_starts": "2026-07-06T08:00:00-04:00",
             "response_due": "2026-07-06T10:00:00-04:00",
             "resolution_due": "2026-07-06T16:00:00-04:00",
             "update_interval_seconds": 7200},
        ),
        # Wed 11-25 15:00: 2h to 17:00, Thu 11-26 Thanksgiving, Fri 08:00 + 6h = 14:00.
        # Resolution 24h: Wed 2h, Fri 9h (11h), Mon 11-30 9h (20h), Tue 12-01 08:00 + 4h.
        (
            ["--priority", "P2", "--received", "2026-11-25T15:00"],
            {"priority": "P2", "received": "2026-11-25T15:00:00-05:00",
             "clock_starts": "2026-11-25T15:00:00-05:00",
             "response_due": "2026-11-27T14:00:00-05:00",
             "resolution_due": "2026-12-01T12:00:00-05:00",
             "update_interval_seconds": 28800},
        ),
        # Sat 03-07 (DST begins Sun 03-08): from Mon 08:00 EDT, 24h = Mon 9h, Tue 9h,
        # Wed 6h -> Wed 14:00 EDT. Resolution 48h = 5 x 9h + Mon 03-16 08:00 + 3h.
        (
            ["--priority", "P3", "--received", "2026-03-07T12:00"],
            {"priority": "P3", "received": "2026-03-07T12:00:00-05:00",
             "clock_starts": "2026-03-09T08:00:00-04:00",
             "response_due": "2026-03-11T14:00:00-04:00",
             "resolution_due": "2026-03-16T11:00:00-04:00",
             "update_interval_seconds": 86400},
        ),
    ],
    ids=["P1-independence-day", "P2-thanksgiving", "P3-spring-dst"],
)
def test_it_prints_the_worked_examples_of_the_spec(capsys, args, expected):
    """Spec worked examples (T1, T3, C1) through ``sla due``, default calendar global."""
    out = run_json(capsys, "sla", "due", *args, "--tz", "America/New_York")
    assert out == {**expected, "calendar": "global", "time_zone": "America/New_York"}


def test_it_prints_exactly_the_contract_keys_for_due():
    """CLI contract: one JSON object with exactly these keys (real subprocess)."""
    proc = cli("sla", "due", "--priority", "P1", "--received", "2026-07-03T16:30",
               "--tz", "America/New_York")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    out = json.loads(proc.stdout)
    assert set(out) == DUE_KEYS
    assert out["response_due"] == "2026-07-06T10:00:00-04:00"


@pytest.mark.parametrize(
    "received",
    ["2026-07-03T16:30", "2026-07-03T16:30:00-04:00", "2026-07-03T20:30:00+00:00",
     "2026-07-03T22:30+02:00"],
)
def test_it_reads_received_with_or_without_an_offset(capsys, received):
    """CLI contract: without an offset --received is local to --tz; with one it is that
    instant; output is always in --tz with its offset."""
    out = run_json(capsys, "sla", "due", "--priority", "P1", "--received", received,
                   "--tz", "America/New_York")
    assert out["received"] == "2026-07-03T16:30:00-04:00"
    assert out["response_due"] == "2026-07-06T10:00:00-04:00"


def test_it_defaults_to_the_global_calendar(capsys):
    """CLI contract: default calendar is global."""
    args = ["sla", "due", "--priority", "P2", "--received", "2026-11-25T15:00",
            "--tz", "America/New_York"]
    assert run_json(capsys, *args) == run_json(capsys, *args, "--calendar", "global")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        # Fri 08-28 16:00 BST = 15:00 UTC: 2h to the 17:00 UTC close (18:00 BST, T3).
        # Resolution: Fri 2h, Mon 08-31 bank holiday, Tue 09-01 09:00 UTC + 6h = 15:00 UTC.
        (
            ["--priority", "P1", "--received", "2026-08-28T16:00", "--tz", "Europe/London"],
            {"priority": "P1", "time_zone": "Europe/London",
             "received": "2026-08-28T16:00:00+01:00",
             "clock_starts": "2026-08-28T16:00:00+01:00",
             "response_due": "2026-08-28T18:00:00+01:00",
             "resolution_due": "2026-09-01T16:00:00+01:00",
             "update_interval_seconds": 7200},
        ),
        # Thu 12-24 16:00 GMT: 1h; Fri 12-25 Christmas, Mon 12-28 Boxing Day (substitute);
        # Tue 12-29 09:00 + 1h = 10:00; resolution + 7h = 16:00.
        (
            ["--priority", "P1", "--received", "2026-12-24T16:00", "--tz", "Europe/London"],
            {"priority": "P1", "time_zone": "Europe/London",
             "received": "2026-12-24T16:00:00+00:00",
             "clock_starts": "2026-12-24T16:00:00+00:00",
             "response_due": "2026-12-29T10:00:00+00:00",
             "resolution_due": "2026-12-29T16:00:00+00:00",
             "update_interval_seconds": 7200},
        ),
        # T2: P4 on uk, Thu 04-02 10:00 UTC. Response 48h: Thu 7h, Good Friday and Easter
        # Monday closed, Tue 04-07 .. Fri 04-10 32h (39h), Mon 04-13 8h (47h), Tue 04-14
        # 09:00 + 1h. Resolution 10 x 8h = 80h: 79h by Fri 04-17, Mon 04-20 09:00 + 1h.
        (
            ["--priority", "P4", "--received", "2026-04-02T11:00", "--tz", "Europe/London"],
            {"priority": "P4", "time_zone": "Europe/London",
             "received": "2026-04-02T11:00:00+01:00",
             "clock_starts": "2026-04-02T11:00:00+01:00",
             "response_due": "2026-04-14T11:00:00+01:00",
             "resolution_due": "2026-04-20T11:00:00+01:00",
             "update_interval_seconds": 172800},
        ),
        # The uk calendar is UTC whatever the site zone: Fri 07-03 16:30 EDT = 20:30 UTC
        # (closed; not a UK holiday); Mon 07-06 09:00 UTC = 05:00 EDT, +2h = 07:00 EDT.
        (
            ["--priority", "P1", "--received", "2026-07-03T16:30", "--tz", "America/New_York"],
            {"priority": "P1", "time_zone": "America/New_York",
             "received": "2026-07-03T16:30:00-04:00",
             "clock_starts": "2026-07-06T05:00:00-04:00",
             "response_due": "2026-07-06T07:00:00-04:00",
             "resolution_due": "2026-07-06T13:00:00-04:00",
             "update_interval_seconds": 7200},
        ),
    ],
    ids=["bst-close-and-bank-holiday", "christmas", "P4-easter", "new-york-site"],
)
def test_it_computes_due_times_on_the_uk_calendar(capsys, args, expected):
    """C2, T2, T3: ``--calendar uk`` is Mon-Fri 09:00-17:00 UTC without England bank
    holidays; times are printed in --tz."""
    out = run_json(capsys, "sla", "due", *args, "--calendar", "uk")
    assert out == {**expected, "calendar": "uk"}


def test_it_counts_p4_resolution_as_ninety_hours_on_the_global_calendar(capsys):
    """T2, T3: 10 business days x 9h = 90h from Mon 06-01 08:00 ends Fri 06-12 17:00;
    response 48h: Mon-Fri 45h, Mon 06-08 08:00 + 3h = 11:00."""
    out = run_json(capsys, "sla", "due", "--priority", "P4", "--received", "2026-06-01T08:00",
                   "--tz", "America/New_York")
    assert out["resolution_due"] == "2026-06-12T17:00:00-04:00"
    assert out["response_due"] == "2026-06-08T11:00:00-04:00"
    assert out["update_interval_seconds"] == 48 * 3600


def test_it_follows_a_site_zone_with_a_half_hour_offset(capsys):
    """C1, C5: the global calendar is in the site's zone; US holidays are whole local
    days there (07-03 closed in Kolkata too)."""
    out = run_json(capsys, "sla", "due", "--priority", "P1", "--received", "2026-07-03T16:30",
                   "--tz", "Asia/Kolkata")
    assert out["clock_starts"] == "2026-07-06T08:00:00+05:30"
    assert out["response_due"] == "2026-07-06T10:00:00+05:30"


def test_it_uses_a_policy_file_given_with_policy(capsys, tmp_path):
    """C4 (targets are policy data) and the CLI contract's --policy FILE: a copy of
    connect.toml with P1 response 3h."""
    path = policy_copy(tmp_path, 'response = "2h"', 'response = "3h"')
    out = run_json(capsys, "sla", "due", "--priority", "P1", "--received", "2026-07-03T16:30",
                   "--tz", "America/New_York", "--policy", str(path))
    # Mon 07-06 08:00 + 3h = 11:00; resolution (8h) unchanged.
    assert out["response_due"] == "2026-07-06T11:00:00-04:00"
    assert out["resolution_due"] == "2026-07-06T16:00:00-04:00"

    doc = {"time_zone": "America/New_York", "calendar": "global", "now": "2026-07-06T09:00",
           "events": [{"at": "2026-07-03T16:30", "type": "received", "priority": "P1"}]}
    doc_path = tmp_path / "case.json"
    doc_path.write_text(json.dumps(doc), encoding="utf-8")
    rep = run_json(capsys, "sla", "replay", str(doc_path), "--policy", str(path))
    assert rep["response"]["due"] == "2026-07-06T11:00:00-04:00"
    assert rep["response"]["remaining_seconds"] == 2 * 3600


# ---------------------------------------------------------------- sla replay
CASE = {
    "time_zone": "America/New_York",
    "calendar": "global",
    "now": "2026-06-02T12:00",
    "events": [
        {"at": "2026-06-01T08:00", "type": "received", "priority": "P3"},
        {"at": "2026-06-01T09:00", "type": "priority_assigned", "priority": "P2"},
        {"at": "2026-06-01T09:00", "type": "info_complete"},
        {"at": "2026-06-01T10:00", "type": "responded"},
        {"at": "2026-06-01T13:00", "type": "info_requested"},
        {"at": "2026-06-02T09:00", "type": "customer_replied"},
    ],
}
# Mon 06-01 .. Thu 06-04 2026 have no US holiday; all times EDT (-04:00).
CASE_STATE = {
    "priority": "P2",
    # P1: proposed P3, assigned P2 at 09:00 -> 8h from receipt 08:00 = 16:00;
    # first contact 10:00 (2h counted): met.
    "response": {"state": "met", "started": "2026-06-01T08:00:00-04:00",
                 "due": "2026-06-01T16:00:00-04:00", "stopped": "2026-06-01T10:00:00-04:00",
                 "business_seconds": 7200, "remaining_seconds": None},
    # K2: starts Mon 09:00 (assigned + information complete); 4h to the request at
    # 13:00, paused until the answer Tue 09:00, Tue 09:00-12:00 = 3h: 7h counted, 17h left.
    # Due: 20h left at Tue 09:00: Tue 8h, Wed 9h, Thu 08:00 + 3h = 11:00.
    "resolution": {"state": "running", "started": "2026-06-01T09:00:00-04:00",
                   "due": "2026-06-04T11:00:00-04:00", "stopped": None,
                   "business_seconds": 25200, "remaining_seconds": 61200},
    # K5: counts from the customer's answer Tue 09:00; 8h -> Tue 17:00; 3h counted.
    # (The first interval, owed from Mon 10:00 until Tue 09:00, ended at 13:00: on time.)
    "next_update": {"state": "running", "started": "2026-06-02T09:00:00-04:00",
                    "due": "2026-06-02T17:00:00-04:00", "stopped": None,
                    "business_seconds": 10800, "remaining_seconds": 18000, "missed": 0},
}


def test_it_replays_a_case_from_a_file(tmp_path):
    """K1, K2, K5, P1 and the CLI contract: ``sla replay FILE`` prints the exact state."""
    path = tmp_path / "case.json"
    path.write_text(json.dumps(CASE), encoding="utf-8")
    proc = cli("sla", "replay", str(path))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert json.loads(proc.stdout) == CASE_STATE


def test_it_replays_a_case_from_standard_input():
    """CLI contract: ``sla replay -`` reads standard input."""
    proc = cli("sla", "replay", "-", stdin=json.dumps(CASE))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == CASE_STATE


def test_it_prints_exactly_the_contract_keys_for_replay(capsys, tmp_path):
    """CLI contract: priority + three clocks; next_update also carries missed."""
    path = tmp_path / "case.json"
    path.write_text(json.dumps(CASE), encoding="utf-8")
    out = run_json(capsys, "sla", "replay", str(path))
    assert set(out) == {"priority", "response", "resolution", "next_update"}
    assert set(out["response"]) == CLOCK_KEYS
    assert set(out["resolution"]) == CLOCK_KEYS
    assert set(out["next_update"]) == CLOCK_KEYS | {"missed"}


def test_it_prints_replay_times_in_the_case_zone_whatever_the_input_offsets(capsys, tmp_path):
    """CLI contract: times are ISO 8601 in the given zone with its offset; K7: the same
    instants give the same state."""
    utc = {
        **CASE,
        "now": "2026-06-02T16:00:00+00:00",
        "events": [{**e, "at": e["at"] + ":00-04:00"} for e in CASE["events"]],
    }
    path = tmp_path / "case.json"
    path.write_text(json.dumps(utc), encoding="utf-8")
    assert run_json(capsys, "sla", "replay", str(path)) == CASE_STATE


def test_it_defaults_replay_to_the_global_calendar(capsys, tmp_path):
    """CLI contract (default calendar global; silent for replay): no 'calendar' key
    means global."""
    doc = {k: v for k, v in CASE.items() if k != "calendar"}
    path = tmp_path / "case.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert run_json(capsys, "sla", "replay", str(path)) == CASE_STATE


def test_it_replays_on_the_uk_calendar(capsys, tmp_path):
    """C2, K1: P1 received Fri 08-28 16:00 BST (15:00 UTC); uk closes 17:00 UTC."""
    doc = {"time_zone": "Europe/London", "calendar": "uk", "now": "2026-08-28T17:30",
           "events": [{"at": "2026-08-28T16:00", "type": "received", "priority": "P1"}]}
    path = tmp_path / "case.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    out = run_json(capsys, "sla", "replay", str(path))
    # 15:00-16:30 UTC = 90 min counted; 30 min left = exactly 25 %: running.
    assert out["response"] == {"state": "running", "started": "2026-08-28T16:00:00+01:00",
                               "due": "2026-08-28T18:00:00+01:00", "stopped": None,
                               "business_seconds": 5400, "remaining_seconds": 1800}


# ----------------------------------------------------------------- bad input
def _doc(**changes) -> str:
    return json.dumps({**CASE, **changes})


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--priority", "P1", "--received", "2026-07-03T16:30", "--tz", "Mars/Olympus"],
         ["Mars/Olympus"]),
        (["--priority", "P9", "--received", "2026-07-03T16:30", "--tz", "America/New_York"],
         ["P9"]),
        (["--priority", "P1", "--received", "2026-07-03T16:30", "--tz", "America/New_York",
          "--calendar", "moon"], ["moon"]),
        (["--priority", "P1", "--received", "next tuesday", "--tz", "America/New_York"],
         ["--received"]),
        (["--priority", "P1", "--received", "2026-07-03T16:30", "--tz", "America/New_York",
          "--policy", "/nonexistent/policy.toml"], ["/nonexistent/policy.toml"]),
    ],
    ids=["unknown-zone", "unknown-priority", "unknown-calendar", "bad-time", "missing-policy"],
)
def test_it_rejects_bad_due_input(args, words):
    """CLI contract: bad input -> exit 2, one stderr line naming it, empty stdout."""
    assert_bad_input(cli("sla", "due", *args), *words)


@pytest.mark.parametrize(
    ("stdin", "words"),
    [
        (_doc(time_zone="Mars/Olympus"), ["Mars/Olympus"]),
        (_doc(events=[{"at": "2026-06-01T08:00", "type": "received", "priority": "P9"}]),
         ["P9"]),
        (_doc(events=[*CASE["events"],
                      {"at": "2026-06-02T10:00", "type": "priority_assigned",
                       "priority": "P7"}]), ["P7"]),
        (_doc(events=[*CASE["events"], {"at": "2026-06-01T12:00", "type": "responded"}]),
         ["out of order"]),
        (_doc(events=[*CASE["events"], {"at": "2026-06-02T12:00:01", "type": "responded"}]),
         ["now"]),
        (_doc(events=[*CASE["events"], {"at": "2026-06-02T10:00", "type": "teleported"}]),
         ["teleported"]),
        ('{"time_zone": "America/New_York", "now": ', ["JSON"]),
        ("[1, 2]", ["object"]),
        (_doc(now="soon"), ["now"]),
    ],
    ids=["unknown-zone", "unknown-priority", "unknown-assigned-priority", "out-of-order",
         "after-now", "unknown-event-type", "malformed-json", "not-an-object", "bad-now"],
)
def test_it_rejects_bad_replay_input(stdin, words):
    """CLI contract: bad input -> exit 2, one stderr line naming it, empty stdout."""
    assert_bad_input(cli("sla", "replay", "-", stdin=stdin), *words)


def test_it_rejects_a_missing_replay_file(tmp_path):
    """CLI contract: a file that cannot be read is bad input."""
    missing = tmp_path / "nope.json"
    assert_bad_input(cli("sla", "replay", str(missing)), "nope.json")


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        ('response = "2h"', 'response = "2x"', ["priorities.P1.response"]),
        ("[policy]", "[policy", ["TOML"]),
        ('default_calendar = "global"', 'default_calendar = "mars"', ["default_calendar"]),
    ],
    ids=["bad-duration", "not-toml", "unknown-default-calendar"],
)
def test_it_rejects_a_bad_policy_file(tmp_path, old, new, words):
    """C4 (policy is data, validated) and the CLI contract: a bad --policy file is bad
    input."""
    path = policy_copy(tmp_path, old, new)
    proc = cli("sla", "due", "--priority", "P1", "--received", "2026-07-03T16:30",
               "--tz", "America/New_York", "--policy", str(path))
    assert_bad_input(proc, *words)


def test_it_rejects_a_bad_policy_file_for_replay(tmp_path):
    """C4 and the CLI contract: ``sla replay --policy`` with a bad file is bad input."""
    path = policy_copy(tmp_path, 'response = "2h"', 'response = "2x"')
    proc = cli("sla", "replay", "-", "--policy", str(path), stdin=json.dumps(CASE))
    assert_bad_input(proc, "priorities.P1.response")


@pytest.mark.parametrize(
    ("old", "new", "word"),
    [
        ("closed_dates = []", "closed_dates = 5", "closed_dates"),
        ("closed_dates = []", 'closed_dates = []\nbusiness_day_hours = "x"',
         "business_day_hours"),
    ],
    ids=["closed-dates-not-a-list", "business-day-hours-not-a-number"],
)
def test_it_rejects_a_wrongly_typed_policy_value(tmp_path, old, new, word):
    """C4 and the CLI contract: a bad policy file -> exit 2, one stderr line."""
    path = policy_copy(tmp_path, old, new)
    proc = cli("sla", "due", "--priority", "P1", "--received", "2026-07-03T16:30",
               "--tz", "America/New_York", "--policy", str(path))
    assert_bad_input(proc, word)


# --------------------------------------------------- found in review (regressions)
def test_it_prints_the_offset_in_force_for_a_wall_time_skipped_by_dst(capsys):
    """A --received of 02:30 on the spring-forward night is the instant 03:30 EDT,
    printed with the -04:00 offset really in force, not -05:00."""
    out = run_json(capsys, "sla", "due", "--priority", "P1", "--received",
                   "2026-03-08T02:30", "--tz", "America/New_York")
    assert out["received"] == "2026-03-08T03:30:00-04:00"


@pytest.mark.parametrize("received", [
    "0001-01-01T00:00+14:00", "9999-12-31T23:00-10:00", "9997-06-01T00:00", "1850-01-01T00:00",
])
def test_it_rejects_times_outside_the_clocks_years(received):
    assert_bad_input(cli("sla", "due", "--priority", "P1", "--received", received,
                             "--tz", "America/New_York"))


def test_it_rejects_absurdly_nested_or_huge_json_cleanly():
    assert_bad_input(cli("sla", "replay", "-", stdin="[" * 100_000), "malformed JSON")
    assert_bad_input(cli("sla", "replay", "-", stdin='{"now": ' + "9" * 5000 + "}"),
                     "malformed JSON")


def test_it_ignores_extra_event_fields_and_null_optionals(capsys, tmp_path):
    """Other tools carry more on an event (an actor, K7); replay ignores it."""
    path = tmp_path / "case.json"
    path.write_text(json.dumps({
        "time_zone": "America/New_York", "now": "2026-06-01T09:00",
        "events": [{"at": "2026-06-01T08:00", "type": "received", "priority": "P2",
                    "actor": "alice", "kind": None}],
    }), encoding="utf-8")
    out = run_json(capsys, "sla", "replay", str(path))
    assert out["response"]["business_seconds"] == 3600
