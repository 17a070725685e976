"""``slpdesk policy validate`` and ``slpdesk policy diff --against FILE``: no database.
(``policy publish`` and ``diff --against current`` are in tests/desk/test_publishing.py.)"""

import json
import subprocess
import sys

from slpdesk import cli
from slpdesk.sla import shipped_policy_text

SHIPPED = shipped_policy_text()


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, "utf-8")
    return str(path)


def test_validate_prints_a_summary_of_a_good_file(tmp_path, capsys):
    assert cli.main(["policy", "validate", write(tmp_path, "p.toml", SHIPPED)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["valid"] is True
    assert (summary["policy"], summary["version"], summary["notice_days"]) == ("connect", "1", 30)
    assert summary["priorities"]["P4"] == {"response": "48h", "resolution": "10d",
                                           "update_interval": "48h"}
    assert summary["calendars"] == ["global", "uk", "us-phone"]


def test_validate_names_what_is_wrong_and_exits_2(tmp_path, capsys):
    bad = SHIPPED.replace('response = "2h"', 'response = "soon"', 1)
    assert cli.main(["policy", "validate", write(tmp_path, "bad.toml", bad)]) == 2
    out = capsys.readouterr()
    assert out.out == ""
    assert "priorities.P1.response" in out.err and out.err.startswith("slpdesk: error:")
    assert cli.main(["policy", "validate", str(tmp_path / "missing.toml")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_diff_says_what_differs_in_words(tmp_path, capsys):
    old = write(tmp_path, "v1.toml", SHIPPED)
    new = write(tmp_path, "v2.toml", SHIPPED.replace('version = "1"', 'version = "2"', 1)
                .replace('notice_days = 30', 'notice_days = 45', 1))
    assert cli.main(["policy", "diff", new, "--against", old]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"connect 1 ({old}) -> connect 2 ({new})"
    assert lines[1:] == ["- Notice of a change to the policy: 45 days (before: 30)."]
    assert cli.main(["policy", "diff", old, "--against", old]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == ["- No differences."]


def test_validate_runs_as_a_command_without_django(tmp_path):
    code = ("import sys; from slpdesk import cli; rc = cli.main(['policy', 'validate', "
            f"{write(tmp_path, 'p.toml', SHIPPED)!r}]); "
            "sys.exit(10 + rc if any(m.startswith('django') for m in sys.modules) else rc)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
