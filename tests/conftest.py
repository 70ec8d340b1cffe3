"""Shared by every test: the clinic the tests expect (read from clinic.yml in the content folder in use: tests/clinic_facts.py),
and Debian's Chromium for the browser tests of the widget and the console."""
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# No network of its own, no first-run work: only the pages the test opens.
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture(scope="session")
def clinic():
    """The clinic's facts from clinic.yml in the content folder in use (`CLINIC_CONTENT_DIR`,
    else content/): name, phone, tel, area, services, free consultation, address, hours."""
    from tests.clinic_facts import CLINIC

    return CLINIC


# Module scope: Playwright's sync API runs an event loop in this thread while it is open, and
# the unit and NLU tests that come later need the thread free for asyncio.run().
@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium through Playwright (its own browser download does not work here)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: apt-get install chromium (.ci/run does it)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()
