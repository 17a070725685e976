"""Browser tests: Playwright driving Debian's Chromium against Django's live server.

Playwright cannot download its own browser on this machine; it drives
``/usr/bin/chromium`` (``SLPDESK_CHROMIUM`` names another). Without one the
tests are skipped with a notice, except in CI (``CI=true``), where they fail.
Each test gets a fresh database with the demo data set loaded as of now.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; the ORM calls the
# tests make between page actions are ordinary synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("SLPDESK_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = os.environ.get("SLPDESK_SCREENSHOT_DIR", "")


def pytest_collection_modifyitems(config, items):
    if Path(CHROMIUM).exists() or os.environ.get("CI") == "true":
        return
    skip = pytest.mark.skip(reason=f"no Chromium at {CHROMIUM} (apt install chromium)")
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _no_page_outlives_its_test(request):
    """Close every browser context a test opened, also when it failed: a page left
    open keeps polling the session's live server, whose stray requests (with no
    database access by then) would land in later tests' output."""
    yield
    if "browser" in request.fixturenames:
        for context in list(request.getfixturevalue("browser").contexts):
            context.close()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-extensions"],
    }


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "locale": "en-GB", "viewport": {"width": 1280,
                                                                     "height": 900}}


@pytest.fixture
def demo(transactional_db):
    """The demo data set as of now (its users' password is the demo password)."""
    from django.utils import timezone

    from slpdesk.desk.demo import load_demo

    now = timezone.now()
    load_demo(now)
    return now


def log_in(page, live_server, username: str, password: str | None = None) -> None:
    from slpdesk.desk.demo import DEMO_PASSWORD

    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password or DEMO_PASSWORD)
    page.click("main form button[type=submit]")


def screenshot(page, name: str) -> None:
    """Saved for the README when ``SLPDESK_SCREENSHOT_DIR`` is set."""
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)
