"""Browser fixtures: Debian's headless Chromium driven by Playwright (never ``playwright install``)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.webapp.browser.passwords import reuse_password_hashes  # noqa: F401 (autouse)

CHROMIUM = os.environ.get("CHATDOCTOR_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _chromium_path() -> str | None:
    if Path(CHROMIUM).is_file():
        return CHROMIUM
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """One Chromium per test module; each test opens its own context (cookies) and pages."""
    path = _chromium_path()
    if path is None:
        pytest.skip("Chromium is not installed (apt-get install -y chromium); browser tests skipped")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright Python package is missing")
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def new_context(browser):
    """``new_context(server, app, user)`` → a browser context (terms accepted; signed in as ``user``)."""
    from webapp.security import SESSION_COOKIE

    contexts = []

    def build(server, app=None, user=None, accept_terms: bool = True, strict_csp: bool = False):
        # The pages send a strict CSP. Bypassing it lets Playwright evaluate its probes and makes the XSS test
        # prove that the sanitiser alone keeps model output inert; ``strict_csp`` tests under the real policy.
        context = browser.new_context(base_url=server.url, bypass_csp=not strict_csp)
        context.set_default_timeout(15_000)
        cookies = []
        if accept_terms:
            cookies.append({"name": "cd_terms", "value": "v1", "url": server.url})
        if user is not None:
            value = app.state.signer.cookie_value(str(user.id))
            cookies.append({"name": SESSION_COOKIE, "value": value, "url": server.url, "httpOnly": True})
        if cookies:
            context.add_cookies(cookies)
        contexts.append(context)
        return context

    yield build
    for context in contexts:
        context.close()
