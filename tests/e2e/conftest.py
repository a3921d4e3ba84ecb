"""End-to-end tests: a real headless Chromium, driven by Playwright, against a live Django server.

- ``browser``: one Chromium for the whole e2e package, the system one from ``require_chromium()``
  (Playwright's own browser builds are never downloaded). It skips outside CI when Chromium is
  missing and fails under ``CI=true``.
- ``page``: a fresh browser context (own cookies, storage) per test, whose ``base_url`` is the
  live server, so ``page.goto("/applications/")`` and ``page.request.get("/api/v1/...")`` work.
  On failure a screenshot lands in ``test-results/<test name>.png``.
- ``live_server`` comes from pytest-django: a threaded server on a free port. Asking for it makes
  the test use ``transactional_db``, so rows the test creates are visible to the server and back.

Every test under ``tests/e2e`` gets the ``e2e`` marker (``-m "not e2e"`` leaves them out).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Generator, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright
from pytest_django.live_server_helper import LiveServer

from tests.components import require_chromium

E2E_DIR = Path(__file__).parent

# Playwright's auto-waiting assertions and actions give up after these. Generous, because CI machines
# are slower than laptops; they cost nothing when the page is already right.
EXPECT_TIMEOUT_MS = 10_000
ACTION_TIMEOUT_MS = 15_000

CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-dev-shm-usage",  # containers often have a tiny /dev/shm
]

_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()

expect.set_options(timeout=EXPECT_TIMEOUT_MS)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # This hook sees every collected item of the session, not only ours: mark by path.
    for item in items:
        if item.path.is_relative_to(E2E_DIR):
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    # Keep each phase's report on the item, so the ``page`` fixture's teardown knows whether the test failed.
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    """The Playwright driver, alive for the e2e package only.

    Package scope, not session scope, on purpose: while Playwright's sync API is started, its asyncio
    loop counts as running in the main thread, which makes ``asyncio.run`` and asgiref's
    ``async_to_sync`` raise there. Stopping it after the last e2e test keeps that from leaking into
    test packages that run later in the same session (``tests/spinweb`` sorts after ``tests/e2e``).
    """
    with pytest.MonkeyPatch.context() as patch:
        # Why: Playwright's sync API runs an asyncio event loop in the main thread, and Django refuses
        # ORM calls from a thread with a running loop (SynchronousOnlyOperation), which would break
        # the test's own fixtures and assertions (creating users, reading AuditEvent, flushing the
        # transactional DB). Nothing here is async: the loop only drives the browser. Set only while
        # Playwright runs, and restored after, so the rest of the suite keeps Django's guard.
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as driver:
            yield driver


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=require_chromium(), headless=True, args=CHROMIUM_ARGS)
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture
def page(browser: Browser, live_server: LiveServer, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(base_url=live_server.url, locale="en-US", timezone_id="UTC")
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    try:
        page = context.new_page()
        yield page
        failed = [report for report in request.node.stash.get(_REPORTS, {}).values() if report.failed]
        if failed:
            _screenshot(page, request, failed[-1])
    finally:
        context.close()


def _screenshot(page: Page, request: pytest.FixtureRequest, report: pytest.TestReport) -> None:
    folder = request.config.rootpath / "test-results"
    folder.mkdir(exist_ok=True)
    path = folder / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', request.node.name)}.png"
    try:
        page.screenshot(path=str(path), full_page=True)
    except Exception as exc:  # a crashed page must not hide the test's own failure
        note = f"could not save a screenshot to {path}: {exc}"
    else:
        note = f"{path} (at {page.url})"
    # Failures are printed at the end of the run, so a section added now still shows with the failure.
    report.sections.append(("screenshot", note))


class EnginePump:
    """The real engine, in-process: a thread runs whatever tasks are due until the test ends.

    Nothing else runs the engine under the live server (no django-q2 cluster, dispatch "none").
    ``lock`` is held while the thread works and around every request the live server answers,
    so they never interleave: with the in-memory SQLite of the tests, the server's threads and
    this one share one connection (as pytest-django shares it with the server). A test that
    writes rows while the pump runs takes ``lock`` too.
    """

    def __init__(self, live_server: LiveServer) -> None:
        self.lock = threading.RLock()
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._shared = dict(live_server.thread.connections_override)
        self._thread = threading.Thread(target=self._run, name="engine-pump", daemon=True)

    def _run(self) -> None:
        from django.db import connections

        from pipelines.engine.runner import run_due_tasks

        for alias, connection in self._shared.items():
            connections[alias] = connection
        try:
            while not self._stop.wait(0.05):
                with self.lock:
                    run_due_tasks()
        except BaseException as exc:  # re-raised in the test's thread at teardown
            self.errors.append(exc)
        finally:
            if not self._shared:
                connections.close_all()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop and join the thread; an error it met fails the test."""
        self._stop.set()
        self._thread.join(timeout=30)
        assert not self._thread.is_alive(), "the engine thread did not stop"
        if self.errors:
            raise self.errors[0]

    def serialize(self, app: Any) -> Any:
        """The live server's WSGI app, answering one request at a time under ``lock``."""

        def serialized(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
            with self.lock:
                result = app(environ, start_response)
                try:
                    return list(result)
                finally:
                    close = getattr(result, "close", None)
                    if close is not None:
                        close()

        return serialized


@pytest.fixture
def engine(live_server: LiveServer, transactional_db: None, settings: Any) -> Iterator[EnginePump]:
    """Runs the engine in a thread for the test (stopped and joined at teardown); see EnginePump."""
    settings.SPINWEB_ENGINE_DISPATCH = "none"
    pump = EnginePump(live_server)
    httpd = live_server.thread.httpd
    app = httpd.get_app()
    httpd.set_app(pump.serialize(app))
    pump.start()
    try:
        yield pump
    finally:
        try:
            pump.stop()
        finally:
            httpd.set_app(app)
