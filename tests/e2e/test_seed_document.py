"""The persistence document's usage examples, run as written (issue 14).

The commands are parsed out of ``docs/seed-persistence.md`` (the ```bash blocks, ``\\``
continuations joined, comments dropped), never retyped here, and run in order as real
``continuum`` processes in an empty directory with a private SQLite catalog, after the
one step the document assumes: ``continuum world copy terra ./terra``.

The only change made to a command is scale (:func:`scaled`): a command whose ``--steps``
exceed :data:`MAX_STEPS` has its ``--steps`` and its strides and chunk sizes divided by
the smallest power of ten that brings the steps within it, so the document's ratios hold
(checkpoint every 1/100 of the run, lens chunks of 1/10...). Every other argument, the
query's ``--tick 5000`` included, is the document's.

After each command the files the document says appear are checked: the layouts
``./terra-checkpoints/{run_id}/checkpoint_*.ckpt`` + ``latest`` + ``manifest.json`` and
``./terra-lens/{run_id}/lens_snapshot_*.lens`` + ``manifest.json``, the resumed run
advancing in place, and ``./data/terra_fields.parquet`` as one Parquet file.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCUMENT = REPO / "docs" / "seed-persistence.md"
#: The shared original beside the checkouts (``../shared`` of the repository), if present.
ORIGINAL = REPO.parent / "shared" / DOCUMENT.name

#: The most ticks one command of the walk runs (a few seconds of terra on one core).
MAX_STEPS = 10_000
#: The options scaled with ``--steps`` (tick counts and tick strides); nothing else is.
SCALED = ("--steps", "--checkpoint-stride", "--lens-stride", "--lens-chunk-size")

BLOCK_RE = re.compile(r"^```bash\n(.*?)^```", re.M | re.S)


def document_commands(text: str) -> list[list[str]]:
    """The commands of the document's ```bash blocks, in order, as argument lists."""
    commands = []
    for block in BLOCK_RE.findall(text):
        joined = re.sub(r"\\\n", " ", block)
        for line in joined.splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                commands.append(shlex.split(line, comments=True))
    return commands


def scaled(argv: list[str]) -> list[str]:
    """``argv`` with its step counts, strides and chunk sizes scaled (module doc)."""
    if "--steps" not in argv:
        return list(argv)
    steps = int(argv[argv.index("--steps") + 1])
    factor = 1
    while steps // factor > MAX_STEPS:
        factor *= 10
    out = list(argv)
    for k, arg in enumerate(argv[:-1]):
        if arg in SCALED:
            out[k + 1] = str(max(1, int(argv[k + 1]) // factor))
    return out


def test_parsing_and_scaling():
    commands = document_commands(
        "```bash\n# a comment\ncontinuum run ./w \\\n  --steps 100000 \\\n"
        '  --lens-fields "a.b,c.d" --lens-stride 10 --tick 5000\n```\n'
    )
    assert commands == [
        [
            "continuum",
            "run",
            "./w",
            "--steps",
            "100000",
            "--lens-fields",
            "a.b,c.d",
            "--lens-stride",
            "10",
            "--tick",
            "5000",
        ]
    ]
    assert scaled(commands[0]) == [
        "continuum",
        "run",
        "./w",
        "--steps",
        "10000",
        "--lens-fields",
        "a.b,c.d",
        "--lens-stride",
        "1",
        "--tick",
        "5000",
    ]
    assert scaled(["continuum", "run", "--steps", "1000000", "--checkpoint-stride", "10000"]) == [
        "continuum",
        "run",
        "--steps",
        "10000",
        "--checkpoint-stride",
        "100",
    ]
    assert scaled(["continuum", "run", "./w", "--resume"]) == [
        "continuum",
        "run",
        "./w",
        "--resume",
    ]


def test_in_repo_copy_is_the_document():
    """CI clones only the repository, so the walk reads a copy: it must stay the original."""
    if not ORIGINAL.is_file():
        pytest.skip(f"{ORIGINAL} is not here (a clone of the repository alone)")
    assert DOCUMENT.read_text() == ORIGINAL.read_text(), f"update {DOCUMENT} from {ORIGINAL}"


def test_the_document_shows_the_commands_walked():
    """The walk cannot pass by finding nothing: the document's ten commands are there."""
    commands = document_commands(DOCUMENT.read_text())
    assert [c[:2] for c in commands] == [["continuum", "run"]] * 3 + [
        ["continuum", "run"],
        ["continuum", "lens"],
        ["continuum", "lens"],
        ["continuum", "lens"],
        ["continuum", "run"],
    ]
    assert len(commands) == 8


# --- the walk ------------------------------------------------------------------------------


def continuum(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``continuum ARGS`` as a real process in ``cwd``."""
    return subprocess.run(
        [sys.executable, "-m", "continuum.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def run_dirs(root: Path) -> set[str]:
    return {p.name for p in root.iterdir() if p.is_dir()} if root.is_dir() else set()


def latest_tick(run_dir: Path) -> int:
    target = os.readlink(run_dir / "latest")
    match = re.fullmatch(r"checkpoint_([0-9]{10})\.ckpt", target)
    assert match, target
    return int(match[1])


def check_checkpoints(run_dir: Path, keep: int | None) -> None:
    """``{run_id}/manifest.json``, ``checkpoint_*.ckpt``, ``latest -> checkpoint_...``."""
    files = sorted(run_dir.glob("checkpoint_*.ckpt"))
    assert files, sorted(p.name for p in run_dir.iterdir())
    assert (run_dir / "manifest.json").is_file()
    assert (run_dir / "latest").is_symlink() and (run_dir / "latest").resolve() == files[-1]
    if keep is not None:
        assert len(files) <= keep


def check_lens(run_dir: Path) -> None:
    """``{run_id}/manifest.json`` and ``lens_snapshot_SSSSSSSSSS-EEEEEEEEEE.lens`` chunks."""
    chunks = [p.name for p in run_dir.glob("lens_snapshot_*.lens")]
    assert any(re.fullmatch(r"lens_snapshot_[0-9]{10}-[0-9]{10}\.lens", n) for n in chunks)
    assert (run_dir / "manifest.json").is_file()


def value_of(argv: list[str], option: str) -> str | None:
    return argv[argv.index(option) + 1] if option in argv else None


@pytest.mark.slow
def test_the_documents_commands_run_as_written(tmp_path: Path):
    env = {
        **os.environ,
        "CONTINUUM_CATALOG": f"sqlite:///{tmp_path / 'catalog.db'}",
        "XDG_DATA_HOME": str(tmp_path / "xdg"),
    }
    work = tmp_path / "work"
    work.mkdir()
    copied = continuum(work, env, "world", "copy", "terra", "./terra")
    assert copied.returncode == 0, copied.stderr
    resumed: dict[str, int] = {}  # checkpoint run dir -> its latest tick before a resume
    for argv in document_commands(DOCUMENT.read_text()):
        argv = scaled(argv)
        assert argv[0] == "continuum"
        ckpt_root = work / (value_of(argv, "--checkpoint-dir") or "terra-checkpoints")
        lens_root = work / (value_of(argv, "--lens-dir") or "terra-lens")
        before = (run_dirs(ckpt_root), run_dirs(lens_root))
        if "--resume" in argv:
            resumed = {name: latest_tick(ckpt_root / name) for name in before[0]}
        done = continuum(work, env, *argv[1:])
        shown = " ".join(argv)
        assert done.returncode == 0, f"{shown}\n{done.stdout}\n{done.stderr}"
        assert "Traceback" not in done.stderr, done.stderr
        if argv[1] == "run" and "--resume" in argv:
            steps = int(value_of(argv, "--steps") or 1000)  # run's default
            advanced = {n: latest_tick(ckpt_root / n) - t for n, t in resumed.items()}
            assert run_dirs(ckpt_root) == before[0], "a resume continues in place"
            assert sorted(advanced.values()) == [0] * (len(advanced) - 1) + [steps], advanced
        elif argv[1] == "run":
            new_ckpt, new_lens = run_dirs(ckpt_root) - before[0], run_dirs(lens_root) - before[1]
            if "--checkpoint-dir" in argv:
                (run_id,) = new_ckpt
                keep = value_of(argv, "--keep-checkpoints")
                check_checkpoints(ckpt_root / run_id, int(keep) if keep else None)
            if "--lens-dir" in argv:
                (lens_run,) = new_lens
                check_lens(lens_root / lens_run)
            if "--checkpoint-dir" in argv and "--lens-dir" in argv:
                assert new_ckpt == new_lens  # the document's Result: one run id in both
        elif argv[1:3] == ["lens", "load"]:
            assert "run_id" in done.stdout and "note:" in done.stderr  # which run it read
        elif argv[1:3] == ["lens", "query"]:
            assert re.match(r"^[0-9.e+-]+\s", done.stdout), done.stdout
        elif argv[1:3] == ["lens", "export"]:
            output = work / (value_of(argv, "--output") or "")
            assert output.is_file(), f"{output} is not one file"
            assert output.read_bytes()[:4] == b"PAR1"
            import duckdb

            with duckdb.connect() as con:
                found = con.execute("SELECT count(*) FROM read_parquet(?)", [str(output)])
                assert (found.fetchone() or (0,))[0] > 0
    leftovers = [p for p in (work / "data").iterdir() if p.name != "terra_fields.parquet"]
    assert leftovers == []  # the single file's scratch parts and temporary are gone
