"""The runs table over 100,000 runs: a page at a time, never all of them in the page.

The catalog is seeded by bulk inserts (as the API's paging tests do); the page must show
the first rows at once, load the next page when the end of the table scrolls into view
(keyset cursor), filter and sort on the server, and keep only what was seen in the DOM.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.serve.browser.conftest import Server, open_page, requires_chromium, shot
from tests.serve.test_paging import N_RUNS, seed

pytestmark = [requires_chromium, pytest.mark.slow]


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("many")
    catalog = f"sqlite:///{root / 'catalog.db'}"
    seed(catalog, N_RUNS)
    server = Server(catalog, root)
    try:
        yield server
    finally:
        server.close()


def count(page: Any) -> int:
    n: int = page.locator("#runs-table tbody tr").count()
    return n


def test_100k_runs_page_on_demand(browser: Any, many: Server) -> None:
    t = time.monotonic()
    page = open_page(browser, many.base, many.token)
    try:
        assert time.monotonic() - t < 10  # the first rows, however large the catalog
        assert count(page) == 100
        assert page.text_content("#runs-count") == f"100 of {N_RUNS} runs"

        page.locator("#runs-table tbody tr").last.scroll_into_view_if_needed()
        page.mouse.wheel(0, 20000)  # the end of the table comes into view: the next page
        page.wait_for_function(
            "() => document.querySelectorAll('#runs-table tbody tr').length >= 200"
        )
        ids = page.eval_on_selector_all(
            "#runs-table tbody tr", "rs => rs.map(r => r.dataset.runId)"
        )
        assert len(set(ids)) == len(ids) and ids == sorted(ids, reverse=True)  # newest first

        page.fill("#run-filter-world", "world3")
        page.wait_for_selector("#runs-table[data-query='world=world3']")
        assert count(page) == 100
        assert page.text_content("#runs-count") == f"100 of {N_RUNS // 10} runs"
        worlds = page.eval_on_selector_all(
            "#runs-table tbody tr td:nth-child(3)", "c => c.map(x => x.textContent)"
        )
        assert set(worlds) == {"world3"}

        page.click("#runs-table button[data-sort='last_tick']")
        page.wait_for_selector("#runs-table[data-query='world=world3&sort=-last_tick']")
        page.click("#runs-more")
        page.wait_for_function(
            "() => document.querySelectorAll('#runs-table tbody tr').length === 200"
        )
        ticks = page.eval_on_selector_all(
            "#runs-table tbody tr td:nth-child(7)",
            "c => c.map(x => +x.textContent.split('–')[1].replace(/\\s/g, ''))",
        )
        assert ticks == sorted(ticks, reverse=True) and ticks[0] == 14_993
        shot(page, "runs_100k")
        assert page.js_errors == [], page.js_errors
    finally:
        page.context.close()
