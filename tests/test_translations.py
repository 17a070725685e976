"""Swedish ships complete: every string in the code is in the catalogue, every entry
is translated, and the compiled catalogue is the one Django reads.

Uses GNU gettext's tools (Debian package ``gettext``; ``.ci/run`` installs it).
"""

from __future__ import annotations

import gettext
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from django.core.management import call_command

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "slpdesk"
PO = PACKAGE / "locale" / "sv" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")

pytestmark = pytest.mark.skipif(shutil.which("msgfmt") is None,
                                reason="GNU gettext is not installed (apt install gettext)")


def test_every_entry_is_translated_and_none_is_fuzzy():
    result = subprocess.run(["msgfmt", "--check", "--statistics", "-o", "/dev/null", str(PO)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "fuzzy" not in result.stderr and "untranslated" not in result.stderr, result.stderr


def test_the_catalogue_has_every_string_of_the_code(tmp_path, settings):
    """Extract the strings again from a copy of the sources: none may be missing."""
    copy = tmp_path / "slpdesk"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "*.mo", "sla"))
    settings.LOCALE_PATHS = [copy / "locale"]
    here = Path.cwd()
    os.chdir(copy)
    try:
        call_command("makemessages", locale=["sv"], extensions=["html", "py", "txt"],
                     no_location=True, no_obsolete=True, verbosity=0)
    finally:
        os.chdir(here)
    fresh = copy / "locale" / "sv" / "LC_MESSAGES" / "django.po"
    # msgcmp: every msgid of the fresh extraction must be in the committed catalogue.
    result = subprocess.run(["msgcmp", "--use-untranslated", str(PO), str(fresh)],
                            capture_output=True, text=True)
    assert result.returncode == 0, "run ./scripts/messages and translate:\n" + result.stderr


def test_the_compiled_catalogue_matches_the_source(tmp_path):
    compiled = tmp_path / "django.mo"
    subprocess.run(["msgfmt", "-o", str(compiled), str(PO)], check=True)
    with open(compiled, "rb") as fresh, open(MO, "rb") as shipped:
        assert gettext.GNUTranslations(fresh)._catalog == \
            gettext.GNUTranslations(shipped)._catalog, "run ./scripts/messages"
