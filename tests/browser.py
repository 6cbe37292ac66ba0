"""What the browser tests share: a headless Chromium (the `chromium` fixture's), French pages opened on
the chat, and screenshots left in artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 60_000


@contextmanager
def headless(chromium: str) -> Iterator[Browser]:
    """The Chromium at `chromium`, headless, closed when the block ends."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def open_page(browser: Browser, url: str, *, height: int = 900, timeout_ms: int = TIMEOUT_MS) -> Page:
    """A French page 1400 px wide at `url`, waiting at most `timeout_ms` for what a test expects."""
    page = browser.new_page(viewport={"width": 1400, "height": height}, locale="fr-FR")
    page.set_default_timeout(timeout_ms)
    page.goto(url)
    return page


def screenshot(page: Page, name: str) -> None:
    """The whole page, saved as artifacts/`name`."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)
