"""``continuum run``'s summary for people: what the state hash is, sim time's unit, sizes."""

from __future__ import annotations

from tests.cli.conftest import ok, run_json


def _lines(text: str) -> dict[str, str]:
    return {
        k: v.strip() for k, _, v in (line.strip().partition("  ") for line in text.splitlines())
    }


def test_summary_says_what_the_state_hash_and_sim_time_are(tmp_path):
    args = ["run", "terra", "--scenario", "tiny", "--steps", "3", "--no-catalog"]
    shown = _lines(ok(*args, "--lens-dir", tmp_path / "lens"))
    summary = run_json("--steps", "3", "--no-catalog")
    digest, meaning = shown["state_hash"].split("  ", 1)
    assert digest == summary["state_hash"]  # the same run, the same hash
    assert "blake2b-256 of the causal state" in meaning and "equal hashes" in meaning
    assert shown["sim_time"].startswith(repr(summary["sim_time"]))
    unit = summary.get("time_units") or "the world's time unit"
    assert unit in shown["sim_time"]
    assert shown["lens_memory"].endswith("iB")  # 1.0 GiB, not 1073741824
