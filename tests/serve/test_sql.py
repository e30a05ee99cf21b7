"""The SQL console: reads through the sandbox (writes and files outside the roots refused),
row cap, CSV both ways, the README's examples, and field history joined with the catalog."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from continuum.serve.examples import EXAMPLES
from continuum.serve.sql import MAX_ROWS
from tests.cli.conftest import ok
from tests.serve.conftest import AUTH, FIELD, Served, client_for
from tests.serve.test_runs import one_line_error

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture(scope="module")
def exported(served: Served, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """A client whose SQL may read a Parquet export of the parent run."""
    out = tmp_path_factory.mktemp("exports")
    ok("lens", "export", served.lens / served.parent, "--output", out, "--catalog", served.url)
    with client_for(served.url, export_roots=(out,)) as client:
        yield client


def post(client: TestClient, sql: str, **kw):
    return client.post("/api/sql", json={"sql": sql}, headers=AUTH, **kw)


def test_a_query_joins_field_history_with_the_catalog(served: Served, exported: TestClient):
    sql = (
        "SELECT r.seed, count(*) AS n, min(f.tick) AS first, max(f.tick) AS last "
        f"FROM fields AS f JOIN runs AS r USING (run_id) WHERE f.field = '{FIELD}' "
        f"AND f.run_id = '{served.parent}' GROUP BY r.seed"
    )
    body = post(exported, sql).json()
    assert body["columns"] == ["seed", "n", "first", "last"]
    assert body["rows"] == [[0, 201 * 384, 0, 200]]
    assert body["truncated"] is False and body["elapsed_ms"] > 0


@pytest.mark.parametrize(
    "sql, fragment",
    [
        ("CREATE TABLE t (a INT)", "only reads"),
        ("DELETE FROM runs", "only reads"),
        ("COPY (SELECT 1) TO '/tmp/x.csv'", "only reads"),
        ("ATTACH '/tmp/x.db' AS x", "only reads"),
        ("SELECT * FROM read_csv('/etc/passwd')", ""),
        ("SELECT 1; SELECT 2", ""),
        ("SELEC 1", ""),
    ],
)
def test_writes_and_reads_outside_the_roots_are_refused(served: Served, sql, fragment):
    one_line_error(post(served.client, sql), 400, fragment)


@pytest.mark.parametrize("body", [b"not json", b'{"sql": 3}', b'{"sql": ""}', b"[]", b""])
def test_a_body_without_a_statement_is_400(served: Served, body):
    response = served.client.post("/api/sql", content=body, headers=AUTH)
    one_line_error(response, 400, "sql")


def test_results_are_cut_at_ten_thousand_rows(served: Served):
    body = post(served.client, "SELECT range AS i FROM range(20000)").json()
    assert len(body["rows"]) == MAX_ROWS and body["truncated"] is True
    assert body["rows"][-1] == [MAX_ROWS - 1]


def test_nan_and_times_are_json(served: Served):
    sql = "SELECT 'NaN'::DOUBLE AS n, TIMESTAMP '2026-01-02 03:04:05' AS t, [1, 2] AS l"
    assert post(served.client, sql).json()["rows"] == [[None, "2026-01-02T03:04:05", [1, 2]]]


def test_csv_by_get_and_by_post_hold_every_row(served: Served):
    sql = "SELECT range AS i, 'a,b' AS s FROM range(12000)"
    got = served.client.get("/api/sql.csv", params={"sql": sql})
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    assert "attachment" in got.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(got.text)))
    assert rows[0] == ["i", "s"] and len(rows) == 12001 and rows[-1] == ["11999", "a,b"]
    posted = post(served.client, sql, params={"format": "csv"})
    assert posted.text == got.text


def test_csv_of_a_refused_statement_is_a_json_400(served: Served):
    one_line_error(
        served.client.get("/api/sql.csv", params={"sql": "DROP TABLE runs"}), 400, "only"
    )
    one_line_error(served.client.get("/api/sql.csv"), 400, "sql")


def test_examples_are_the_readmes_queries_word_for_word(served: Served):
    readme = README.read_text()
    blocks = re.findall(r"```sql\n(.*?)```", readme, re.S)
    body = served.client.get("/api/sql/examples").json()["examples"]
    assert [e["sql"] for e in body] == [b for b in blocks]
    assert [e["title"] for e in body] == [t for t, _ in EXAMPLES]
    for example in body:
        assert example["title"] and example["title"] in readme


def test_every_example_runs_in_the_sandbox(served: Served, exported: TestClient):
    for title, sql in EXAMPLES:
        response = post(exported, sql)
        assert response.status_code == 200, (title, response.text)
