"""Properties every JSON manifest reader must have (issue 12, class 7), shared by the
run-manifest tests (tests/checkpoint) and the lens-manifest tests (tests/lens).

A reader is a function ``read(path) -> dict`` raising ``error``. Whatever the bytes:
``error`` in one line naming the file, or exactly what the file says; never another
exception, never more memory than :data:`MEMORY_BOUND`; a directory, a FIFO,
``/dev/zero`` or a huge file is refused by ``fstat`` before anything is read.
"""

from __future__ import annotations

import json
import os
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from continuum.blobs import MAX_MANIFEST_BYTES

#: a read of a manifest of a few KB allocates far less (the ceiling on what is read at
#: all is MAX_MANIFEST_BYTES, 16 MiB, checked by fstat before reading)
MEMORY_BOUND = 8 << 20

Reader = Callable[[Path], dict[str, Any]]


def outcome(
    read: Callable[[Path], Any],
    error: type[Exception],
    path: Path,
    data: bytes,
    bound: int = MEMORY_BOUND,
) -> Any:
    """Write ``data`` at ``path`` and read it: what ``read`` gives, or None if refused
    cleanly (one line naming the file), never more than ``bound`` bytes allocated."""
    path.write_bytes(data)
    tracemalloc.start()
    try:
        return read(path)
    except error as exc:
        assert "\n" not in str(exc) and str(path) in str(exc), str(exc)
        return None
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < bound, peak


def accepted_as_written(result: dict | None, data: bytes) -> bool:
    """Refused, or read as exactly the document the bytes hold."""
    return result is None or result == json.loads(data)


def check_special_files(read: Reader, error: type[Exception], path: Path) -> None:
    """A directory, a FIFO, /dev/zero and a file over the ceiling: one line each, at once."""
    path.unlink(missing_ok=True)
    path.mkdir()
    with pytest.raises(error, match="a directory"):
        read(path)
    path.rmdir()
    os.mkfifo(path)
    with pytest.raises(error, match="a FIFO"):
        read(path)  # opened without blocking: no writer needed, no hang
    path.unlink()
    path.symlink_to("/dev/zero")
    with pytest.raises(error, match="a device"):
        read(path)
    path.unlink()
    with open(path, "wb") as f:
        f.truncate(MAX_MANIFEST_BYTES + 1)  # sparse: no disk used
    tracemalloc.start()
    with pytest.raises(error, match="more than a"):
        read(path)
    assert tracemalloc.get_traced_memory()[1] < MEMORY_BOUND
    tracemalloc.stop()
    path.unlink()


def crafted_values(good: dict[str, Any], count_field: str) -> dict[str, tuple[bytes, str]]:
    """Manifests with one defect each, and the fragment their error line must carry."""
    text = json.dumps(good)
    with_count = json.dumps({**good, count_field: 123456789})
    return {
        "nan count": (with_count.replace("123456789", "NaN").encode(), "not valid JSON"),
        "infinite count": (with_count.replace("123456789", "1e400").encode(), count_field),
        "negative count": (json.dumps({**good, count_field: -1}).encode(), count_field),
        "fractional count": (json.dumps({**good, count_field: 1.5}).encode(), count_field),
        "string count": (json.dumps({**good, count_field: "7"}).encode(), count_field),
        "nested 100,000 deep": (
            text.replace("{", '{"deep": ' + "[" * 100_000 + "]" * 100_000 + ", ", 1).encode(),
            "nested too deeply",
        ),
        "deep where a count belongs": (
            with_count.replace("123456789", "[" * 100_000 + "]" * 100_000).encode(),
            count_field,
        ),
        "not an object": (b"[1, 2, 3]", "Expected `object`"),
        "run id that is a path": (json.dumps({**good, "run_id": "../x"}).encode(), "$.run_id"),
        "binary": (b"\x00\xffs3cr3t:*:2\x1b[31m", "not valid JSON"),
    }


def property_tests(read: Reader, error: type[Exception], believed: Callable[[dict], bool]):
    """The four property tests of one reader, for a module to bind at top level (they use
    its ``good`` fixture: the bytes of a real manifest). ``believed`` is what an accepted
    document must satisfy beyond matching its bytes (identifiers in layout's grammar)."""
    from tests.blobs.test_hostile import JSON_VALUES, _leaves, _set

    def test_the_real_manifest_reads(good, tmp_path):
        path = tmp_path / "manifest.json"
        assert outcome(read, error, path, good) == json.loads(good)

    @given(data=st.binary(max_size=1024))
    def test_arbitrary_bytes(tmp_path_factory, data):
        path = tmp_path_factory.mktemp("m") / "manifest.json"
        assert accepted_as_written(outcome(read, error, path, data), data or b"null")

    @given(cut=st.integers(0, 4096))
    def test_truncations(good, tmp_path_factory, cut):
        path = tmp_path_factory.mktemp("m") / "manifest.json"
        data = good[: cut % len(good)]
        result = outcome(read, error, path, data)
        assert result is None or data.strip() == good.strip()

    @given(data=st.data())
    def test_any_field_rewritten(good, tmp_path_factory, data):
        doc = json.loads(good)
        field = data.draw(st.sampled_from([p for p in _leaves(doc) if p]))
        _set(doc, field, data.draw(JSON_VALUES))
        crafted = json.dumps(doc).encode()
        path = tmp_path_factory.mktemp("m") / "manifest.json"
        result = outcome(read, error, path, crafted)
        assert accepted_as_written(result, crafted)
        assert result is None or believed(result)

    return (
        test_the_real_manifest_reads,
        test_arbitrary_bytes,
        test_truncations,
        test_any_field_rewritten,
    )
