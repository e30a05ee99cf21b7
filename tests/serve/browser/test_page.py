"""The inspector page in real Chromium over a real ``continuum serve`` and real runs.

What a user does: find runs by filter, open one and read its checkpoints, open a field map
and move through ticks, click a point for its history, run a SQL query. Every test also
checks that the page raised no script error and that the CSP refused nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import ok
from tests.serve.browser.conftest import FIELD, Site, requires_chromium

pytestmark = [requires_chromium, pytest.mark.slow]

# A digest of the drawn map: the canvas's pixels summed in a few bands, read in the page.
CANVAS_DIGEST = """() => {
  const c = document.querySelector('#field-canvas');
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let sum = 0, distinct = new Set();
  for (let i = 0; i < d.length; i += 4) {
    sum += d[i] * 3 + d[i + 1] * 5 + d[i + 2] * 7;
    if (i % 64 === 0) distinct.add(d[i] << 16 | d[i + 1] << 8 | d[i + 2]);
  }
  return {w: c.width, h: c.height, sum, colours: distinct.size, tick: c.dataset.tick};
}"""


def filtered(page: Any, query: str) -> list[str]:
    """The run ids in the table once it answers ``query`` (the filters as URL parameters)."""
    page.wait_for_selector(f"#runs-table[data-query='{query}']")
    return rows(page)


def rows(page: Any) -> list[str]:
    ids: list[str] = page.eval_on_selector_all(
        "#runs-table tbody tr[data-run-id]", "rs => rs.map(r => r.dataset.runId)"
    )
    return ids


def test_runs_table_filters_and_sorts(page: Any, site: Site) -> None:
    assert set(rows(page)) == {site.parent, site.branch, site.other}
    assert "3 of 3 runs" in page.text_content("#runs-count")

    page.fill("#run-filter-seed", "7")
    assert filtered(page, "seed=7") == [site.other]
    assert "seed=7" in page.url  # the filter is in the address: a link reproduces it

    page.fill("#run-filter-seed", "")
    page.fill("#run-filter-param", "k=4")
    assert filtered(page, "param=k%3D4") == [site.parent]

    page.fill("#run-filter-param", "")
    page.select_option("#run-filter-status", "running")
    assert filtered(page, "status=running") == []
    page.select_option("#run-filter-status", "completed")
    page.fill("#run-filter-world", "terra")
    assert len(filtered(page, "world=terra&status=completed")) == 3

    page.click("#runs-table button[data-sort='last_tick']")  # -last_tick: 120, 80, 60
    by_ticks = [site.parent, site.branch, site.other]
    assert filtered(page, "world=terra&status=completed&sort=-last_tick") == by_ticks
    page.click("#runs-table button[data-sort='last_tick']")  # last_tick ascending
    assert filtered(page, "world=terra&status=completed&sort=last_tick") == by_ticks[::-1]
    assert page.get_attribute("#runs-table th[aria-sort]", "aria-sort") == "ascending"


def test_bad_filter_is_one_line_not_a_broken_page(page: Any) -> None:
    page.fill("#run-filter-covers", "soon")
    page.wait_for_selector("#error:not([hidden])")
    assert "covers" in page.text_content("#error")


def test_run_view_shows_checkpoints_lineage_and_lens(page: Any, site: Site) -> None:
    page.click(f"#runs-table a[href='#/runs/{site.parent}']")
    page.wait_for_selector("#run-view #checkpoints tbody tr[data-tick]")
    ticks = page.eval_on_selector_all(
        "#checkpoints tbody tr[data-tick]", "rs => rs.map(r => +r.dataset.tick)"
    )
    assert ticks == [30, 60, 90, 120]
    states = page.eval_on_selector_all(
        "#checkpoints tbody tr", "rs => rs.map(r => r.dataset.state)"
    )
    assert set(states) == {"committed"}
    assert page.locator("#timeline circle.ck-committed").count() == 4
    assert "k" in page.text_content("#params") and "team=a" in page.text_content("#tags")
    # lineage: the branch hangs below this run, and the link opens it
    page.click(f"#lineage a[data-run-id='{site.branch}']")
    page.wait_for_selector(
        f"#run-view[data-run-id='{site.branch}'] #checkpoints tbody tr[data-tick]"
    )
    assert page.locator(f"#lineage a[data-run-id='{site.parent}']").count() == 1
    assert page.locator(f"#fields a[data-field='{FIELD}']").count() == 1
    # actions are there, and off for a run that is not live
    assert page.is_disabled("#action-checkpoint") and page.is_disabled("#action-stop")


def test_pin_from_the_page(page: Any, site: Site) -> None:
    page.goto(f"{site.url}/#/runs/{site.other}")
    page.wait_for_selector("#checkpoints tr[data-tick='30'] button.pin")
    page.click("#checkpoints tr[data-tick='30'] button.pin")
    page.wait_for_selector("#checkpoints tr[data-tick='30'][data-pinned='true']")
    assert page.locator("#timeline circle.ck-pinned").count() == 1
    page.click("#checkpoints tr[data-tick='30'] button.pin")  # unpin
    page.wait_for_selector("#checkpoints tr[data-tick='30'][data-pinned='false']")


def test_field_map_slider_hover_and_point_history(page: Any, site: Site) -> None:
    page.goto(f"{site.url}/#/runs/{site.parent}/fields/{FIELD}")
    page.wait_for_selector("#field-canvas[data-tick='0']")
    first = page.evaluate(CANVAS_DIGEST)
    assert first["w"] == 512 and first["h"] == 256 and first["colours"] > 10
    assert page.text_content("#field-units") == "K"

    last = int(page.get_attribute("#tick-slider", "max"))
    assert last == 60  # 61 captured ticks: 0, 2, ... 120
    page.fill("#tick-slider", str(last))  # a range input: fill sets the value and fires input
    page.wait_for_selector("#field-canvas[data-tick='120']")
    moved = page.evaluate(CANVAS_DIGEST)
    assert moved["sum"] != first["sum"]  # the drawn pixels changed with the tick
    assert "tick=120" in page.url

    box = page.locator("#field-canvas").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.75, box["y"] + box["height"] * 0.25)
    hover = page.locator("#hover-value")
    assert "°N" in hover.text_content() and "K" in hover.text_content()
    assert abs(float(hover.get_attribute("data-lat")) - 45) < 1
    assert abs(float(hover.get_attribute("data-lon")) - 90) < 1

    page.mouse.click(box["x"] + box["width"] * 0.75, box["y"] + box["height"] * 0.25)
    page.wait_for_selector("#point-history[data-points]")
    assert int(page.get_attribute("#point-history", "data-points")) == 61
    assert page.is_visible("#point-history-chart")
    assert "1 run(s)" in page.text_content("#point-history-info")


def test_point_history_across_selected_runs(page: Any, site: Site) -> None:
    for run_id in (site.parent, site.other):
        page.check(f"#runs-table tr[data-run-id='{run_id}'] input.select-run")
    assert "2 selected" in page.text_content("#selection")
    page.goto(f"{site.url}/#/runs/{site.parent}/fields/{FIELD}")
    page.wait_for_selector("#field-canvas[data-tick]")
    page.click("#field-canvas", position={"x": 100, "y": 100})
    page.wait_for_selector("#point-history[data-points]")
    assert "2 run(s)" in page.text_content("#point-history-info")
    assert page.locator("#point-history ul.legend li").count() == 2


def test_play_streams_frames(page: Any, site: Site) -> None:
    page.goto(f"{site.url}/#/runs/{site.parent}/fields/{FIELD}")
    page.wait_for_selector("#field-canvas[data-tick='0']")
    page.click("#play")
    page.wait_for_function("() => window.__continuum.stats.draws.length >= 15", timeout=15000)
    page.click("#play")  # pause
    tick = int(page.get_attribute("#field-canvas", "data-tick"))
    assert tick > 0 and int(page.input_value("#tick-slider")) == tick // 2


def test_signals_overlay(page: Any, site: Site) -> None:
    page.goto(f"{site.url}/#/signals?runs={site.parent},{site.branch},{site.other}&name=core.temp")
    page.wait_for_selector("#signals-chart[data-series='3']")
    assert page.locator("#signals-info").text_content().startswith("core.temp: 3 run(s)")
    assert page.locator(".legend li").count() == 3


def test_sql_console_rows_and_csv(page: Any, site: Site) -> None:
    page.click("nav a[data-nav='sql']")
    page.wait_for_selector("#sql-examples button.example")
    page.fill("#sql-input", "SELECT run_id, seed FROM runs ORDER BY seed DESC, run_id")
    page.click("#sql-run")
    page.wait_for_selector("#sql-results table tbody tr")
    cells = page.eval_on_selector_all(
        "#sql-results tbody tr", "rs => rs.map(r => r.cells[0].textContent)"
    )
    assert cells[0] == site.other and len(cells) == 3
    with page.expect_download() as download:
        page.click("#sql-csv")
    text = Path(download.value.path()).read_text()
    assert text.splitlines()[0] == "run_id,seed" and site.other in text

    page.click("#sql-examples button.example >> nth=0")  # an example from the README runs
    page.click("#sql-run")
    page.wait_for_selector("#sql-results[data-rows], #sql-results .sql-error")

    page.fill("#sql-input", "DELETE FROM runs")
    page.click("#sql-run")
    page.wait_for_selector("#sql-results .sql-error")


def test_retention_dry_run_then_prune(page: Any, site: Site) -> None:
    """Last in this module: it deletes checkpoints of the parent run."""
    ok(
        "catalog",
        "policy",
        "set",
        "--run",
        site.parent,
        "--keep-last",
        "1",
        "--catalog",
        site.catalog,
    )
    page.goto(f"{site.url}/#/runs/{site.parent}")
    page.wait_for_selector("#checkpoints tbody tr[data-tick]")
    assert "keep last1" in page.text_content("#run-view .card:has(#would-prune)")
    would = page.eval_on_selector_all(
        "#checkpoints tbody tr",
        "rs => rs.filter(r => r.cells[4].textContent).map(r => +r.dataset.tick)",
    )
    assert would and 120 not in would  # the newest is kept
    assert f"{', '.join(map(str, would))}" in page.text_content("#would-prune")
    page.click("#action-prune")  # arms it: a second click deletes
    assert "Confirm" in page.text_content("#action-prune")
    page.click("#action-prune")
    for tick in would:
        page.wait_for_selector(f"#checkpoints tr[data-tick='{tick}'][data-state='pruned']")
    assert page.get_attribute("#checkpoints tr[data-tick='120']", "data-state") == "committed"
    assert "would remove nothing" in page.text_content("#would-prune")
