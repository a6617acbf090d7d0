"""Debian's Chromium driven by Playwright, with the checks every page of the web app must pass.

Browser downloads are not possible here, so Playwright launches the system's
`/usr/bin/chromium` (never `playwright install`). axe-core comes from npm, pinned in
tests/browser/package-lock.json and installed by `make test` (`npm ci --prefix tests/browser`).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.support.infra import REPO

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE = REPO / "tests" / "browser" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = REPO / ".local" / "screenshots"  # git-ignored: for people to look at
PHONE = {"width": 390, "height": 844}
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
BLOCKING_IMPACTS = frozenset({"serious", "critical"})


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    """Headless system Chromium; fails saying how to install it when it is missing."""
    if not CHROMIUM.exists():
        raise RuntimeError(
            "Debian's chromium is not installed: apt-get install chromium (.ci/run does it)"
        )
    if not AXE.exists():
        raise RuntimeError("axe-core is not installed: npm ci --prefix tests/browser")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def phone_context(browser: Browser) -> BrowserContext:
    """A phone-sized window. CSP is bypassed only so the test can inject axe-core: the app
    itself allows no scripts at all."""
    context = browser.new_context(viewport=PHONE, bypass_csp=True, locale="en-GB")
    context.set_default_timeout(10_000)
    return context


@dataclass
class PageChecks:
    """Screenshots and accessibility results of every page a test visits."""

    directory: Path
    violations: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def check(self, page: Page, name: str) -> None:
        """Screenshot the page, run axe-core, and check it fits a phone's width."""
        path = self.directory / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, SCREENSHOTS / path.name)
        found = axe_violations(page)
        self.violations[name] = found
        blocking = [v for v in found if v["impact"] in BLOCKING_IMPACTS]
        assert not blocking, f"axe-core on {name}: {json.dumps(blocking, indent=2)}"
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{name} is {overflow}px wider than a phone's screen"

    def write_report(self) -> Path:
        report = self.directory / "axe-report.json"
        report.write_text(json.dumps(self.violations, indent=2, sort_keys=True))
        shutil.copy(report, SCREENSHOTS / report.name)
        return report


def axe_violations(page: Page) -> list[dict[str, Any]]:
    page.add_script_tag(path=str(AXE))
    found: list[dict[str, Any]] = page.evaluate(
        """async (tags) => {
            const results = await axe.run(document, {runOnly: {type: 'tag', values: tags}});
            return results.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ')),
            }));
        }""",
        AXE_TAGS,
    )
    return found


def reload_until(page: Page, selector: str, text: str, timeout: float = 20.0) -> None:
    """Reload until `selector` shows `text`: what the notifier serves lags the change by the
    time Kafka takes to bring it the Task."""
    deadline = time.monotonic() + timeout
    while True:
        locator = page.locator(selector)
        if locator.count() and text in locator.first.inner_text():
            return
        if time.monotonic() > deadline:
            shown = locator.first.inner_text() if locator.count() else "(nothing)"
            raise AssertionError(f"{selector} never showed {text!r}; it shows {shown!r}")
        time.sleep(0.3)
        page.reload()
