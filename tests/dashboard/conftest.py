"""A storage root with real experiments (finished, ASHA, PBT, one running), a dashboard
serving it on 127.0.0.1, and a headless Chromium (Debian's) driven by Playwright."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
pytest.importorskip("plotly")

from made_experiments import (  # noqa: E402
    RunningExperiment,
    make_asha,
    make_finished,
    make_pbt,
)

from overtone.dashboard import DashboardServer  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def storage(tmp_path_factory) -> Iterator[dict[str, Any]]:
    """The storage root, its experiments, and the running one (ended at the session's end)."""
    root = tmp_path_factory.mktemp("dashboard") / "results"
    root.mkdir()
    running = RunningExperiment(root)
    try:
        made = {
            "root": root,
            "finished": make_finished(root),
            "asha": make_asha(root),
            "pbt": make_pbt(root),
            "running": running,
        }
        running.wait_for_results(2)
        yield made
    finally:
        running.finish()


@pytest.fixture(scope="session")
def server(storage) -> Iterator[DashboardServer]:
    server = DashboardServer(str(storage["root"]), host="127.0.0.1", port=0).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")  # Playwright's sync API holds an event loop open while it runs
def browser() -> Iterator[Any]:
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors
    try:
        yield page
    finally:
        context.close()
    assert not errors, f"the page raised: {errors}"
