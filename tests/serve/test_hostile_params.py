"""Every endpoint, given hostile parameters, answers 4xx with one escaped JSON line.

Control characters, bidi overrides, NUL, 5,000 characters, numbers past 64 bits, NaN
and infinities go into every parameter of every GET endpoint and into the path; each
answer must be a 4xx whose body is ``{"error": one line}`` holding no raw unsafe
character (a message may quote the value), never a 500 and never a traceback.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest

from continuum.printable import UNSAFE
from tests.serve.conftest import AUTH, FIELD, Served

ESC = "\x1b[31mred\x1b]0;owned\x07"
VALUES = [ESC, "\u202eevil", "a\x00b", "x" * 5000, "99999999999999999999999", "nan", "-inf", "-1"]
RUN = "/api/runs/{run}"
ENDPOINTS = {
    "/api/runs": ["world", "status", "seed", "scenario", "param", "tag", "covers", "sort",
                  "limit", "after", "started_after", "started_before", "ir_hash"],
    RUN + f"/fields/{FIELD}/frame": ["tick", "width", "format"],
    RUN + f"/fields/{FIELD}/value": ["tick", "lat", "lon"],
    RUN + f"/fields/{FIELD}/history": ["lat", "lon", "sample", "runs"],
    "/api/signals": ["runs", "name", "max_points"],
    "/api/events": ["limit"],
}  # fmt: skip
TEXT = {"world", "scenario", "ir_hash", "name", "runs"}  # free text: may simply match nothing
BASES = {  # the other parameters each needs, so the hostile one is what is refused
    RUN + f"/fields/{FIELD}/frame": {"tick": "10"},
    RUN + f"/fields/{FIELD}/value": {"tick": "10", "lat": "0", "lon": "0"},
    RUN + f"/fields/{FIELD}/history": {"lat": "0", "lon": "0"},
    "/api/signals": {"runs": "{run}", "name": "core.temp"},
}


def cases() -> list[tuple[str, str, str]]:
    return [(path, name, v) for path, names in ENDPOINTS.items() for name in names for v in VALUES]


def assert_clean(response, shown: str) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300], shown)
    body = response.json()
    assert set(body) <= {"error", "name", "series", "runs", "next", "total", "sample", "lat",
                         "lon", "face", "i", "j", "units"}, shown  # fmt: skip
    text = body["error"]
    assert "\n" not in text and UNSAFE.search(text) is None and len(text) <= 1100, shown


def _id(case: tuple[str, str, str]) -> str:
    path, name, value = case
    return f"{path.rsplit('/', 1)[-1]}-{name}-{value[:8].encode('unicode_escape').decode()}"


@pytest.mark.parametrize("case", cases(), ids=_id)
def test_hostile_parameters(served: Served, case):
    path, name, value = case
    params = {k: v.replace("{run}", served.parent) for k, v in BASES.get(path, {}).items()}
    params[name] = value
    url = path.replace("{run}", served.parent)
    response = served.client.get(url, params=params)
    if response.status_code == 200:  # a name no run has: nothing found (a series says why)
        harmless = name in TEXT or (name in ("lat", "lon") and value == "-1")
        assert harmless, (case, response.text[:300])
        assert UNSAFE.search(response.text) is None  # JSON escapes what it quotes
        return
    assert_clean(response, f"{case[:2]}")


@pytest.mark.parametrize("value", [ESC, "\u202eevil", "x" * 5000, "..", "%2e%2e"])
@pytest.mark.parametrize(
    "template",
    [RUN, RUN + "/fields", RUN + "/signals", RUN + "/prune-plan", RUN + "/fields/{v}/frame?tick=1"],
)
def test_hostile_run_ids_and_field_names_in_the_path(served: Served, template, value):
    url = template.replace("{run}", quote(value, safe="%")).replace("{v}", quote(value, safe="%"))
    if "{v}" in template:
        url = template.replace("{run}", served.parent).replace("{v}", quote(value, safe="%"))
    assert_clean(served.client.get(url), url[:80])


@pytest.mark.parametrize("value", [ESC, "a\x00b", "99999999999999999999999", "nan"])
def test_hostile_post_parameters(served: Served, value):
    for action in ("pin", "unpin"):
        url = f"/api/runs/{served.parent}/{action}"
        assert_clean(served.client.post(url, params={"tick": value}, headers=AUTH), action)
