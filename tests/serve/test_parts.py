"""The small pure parts: thinning a series, compact tick lists, Host names, the package surface."""

from __future__ import annotations

import numpy as np

import continuum.serve as serve_pkg
from continuum.serve.fields import ticks_json
from continuum.serve.security import _host_name, allowed_names, is_loopback
from continuum.serve.signals import thin


def test_thin_keeps_first_last_and_each_buckets_extremes():
    ticks = np.arange(10_000)
    values = np.sin(ticks / 500.0)
    values[4321] = 50.0  # a spike must survive
    values[7000] = np.nan
    t, v = thin(ticks, values, 200)
    assert len(t) <= 200 and t[0] == 0 and t[-1] == 9999
    assert np.all(np.diff(t) > 0) and 4321 in t.tolist()
    np.testing.assert_array_equal(v, values[t])
    same_t, same_v = thin(ticks[:50], values[:50], 200)
    assert same_t.tolist() == list(range(50))


def test_ticks_are_compact_when_evenly_spaced():
    assert ticks_json(np.arange(0, 100, 5)) == {"first": 0, "last": 95, "stride": 5, "count": 20}
    assert ticks_json(np.array([0, 5, 15])) == [0, 5, 15]
    assert ticks_json(np.array([7])) == [7]


def test_host_names_and_loopback():
    assert _host_name("example:8765") == "example" and _host_name("[::1]:8765") == "[::1]"
    assert _host_name("::1") == "::1"
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.2")
    assert "localhost" in allowed_names("127.0.0.1") and "myhost" in allowed_names("MyHost")


def test_public_all_is_complete_and_sorted():
    assert serve_pkg.__all__ == sorted(serve_pkg.__all__)
    assert all(hasattr(serve_pkg, name) for name in serve_pkg.__all__)
