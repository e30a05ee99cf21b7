"""Reading a lens run directory: chunk discovery, and loading only what a query needs.

Chunks are found by listing the directory (names give their [start, end) tick range,
see :func:`continuum.layout.parse_lens_chunk_name`); the manifest supplies frames, fields, sizes and
sim-time ranges without opening files, and a chunk it does not list (written just
before a crash) is described from its own header. A query at tick T opens only the
chunk(s) whose range holds T; the history of one position reads, per chunk, only the
values tile holding that position's sample.

Duplicate frames (two chunks holding the same tick: a copied file, a crash between
writing a chunk and recording it) are resolved deterministically: chunks are ordered by
(start, end, name) and the first chunk holding a tick wins; the others' copies are
skipped. The ``full`` file is a derived copy and is never mixed with chunks.

:class:`LensStore` is a :class:`~continuum.lens.source.FieldSource`: it answers the
questions a :class:`~continuum.lens.history.FieldLens` answers, with the same records;
bracketing and blending are :mod:`continuum.lens.interpolate`'s, shared with it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from continuum import layout
from continuum.blobs import ContainerInfo
from continuum.errors import LayoutError, LensCorruptError, LensError
from continuum.lens import by_sample
from continuum.lens.by_sample import BySampleFile
from continuum.lens.format import (
    ChunkData,
    ChunkFile,
    FieldSeries,
    LensIdentity,
    ValueReads,
    header_of,
)
from continuum.lens.gaps import LensGap, derive_gaps, in_window, manifest_gaps, without
from continuum.lens.history import FieldLens
from continuum.lens.interpolate import bracket, interpolate, moment, sample_between
from continuum.lens.manifest import LensManifest, chunk_entry, is_lens_run_dir
from continuum.lens.reconstruct import (
    CELLS,
    GLOBAL,
    POINTS,
    FieldConfig,
    Reconstruction,
    cell_indices,
    check_rule,
    nearest_brute,
    topology_from_spec,
    unit_points,
)
from continuum.lens.region import Region, runs
from continuum.lens.remote import shown
from continuum.lens.source import (
    FieldHistory,
    PointValue,
    PointValues,
    span_meets,
    tick_mask,
)
from continuum.topology import CubedSphere

log = logging.getLogger("continuum.lens")
_T = TypeVar("_T")
_OPEN_FILES = 8  # chunk files kept open between queries of one store


@dataclass(frozen=True)
class ChunkRef:
    """One chunk file as known before opening it."""

    name: str
    path: Path
    start: int
    end: int
    frames: int
    first_tick: int | None
    last_tick: int | None
    first_sim_time: float | None
    last_sim_time: float | None
    fields: tuple[str, ...]
    bytes: int
    raw_bytes: int | None
    checksum: str | None
    stride: int | None = None  # from the header (a manifest entry does not repeat it)


@dataclass
class _Keys:
    """A chunk's frames of one field: ticks, sim times and row numbers."""

    ticks: np.ndarray
    times: np.ndarray
    rows: np.ndarray
    config: FieldConfig


def resolve_run_dir(lens_dir: Path | str, run: str | None = None) -> Path:
    """The lens run dir meant by ``--lens-dir D [--run ID]``.

    ``D`` may be a run's lens dir itself, or the lens root holding run dirs; with a root,
    ``--run`` picks one (unless the root holds exactly one run).
    """
    root = Path(lens_dir)
    if not root.is_dir():
        raise LensError(f"lens directory {root} does not exist")
    if run is not None:
        try:
            target = layout.run_dir(root, run)
        except LayoutError:
            target = None
        if target is not None and is_lens_run_dir(target):
            return target
        raise LensError(f"no lens run {run!r} under {root}; runs there: {_runs_text(root)}")
    if is_lens_run_dir(root):
        return root
    runs = _runs(root)
    if len(runs) == 1:
        return runs[0]
    if not runs:
        raise LensError(
            f"{root} holds no lens data (no {layout.MANIFEST} or {layout.LENS_SUFFIX} chunks)"
        )
    raise LensError(f"{root} holds {len(runs)} lens runs; pass --run ID ({_runs_text(root)})")


def _runs(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if is_lens_run_dir(p))


def _runs_text(root: Path) -> str:
    names = [p.name for p in _runs(root)]
    shown = ", ".join(names[-5:]) or "none"
    return f"{'..., ' if len(names) > 5 else ''}{shown}"


class LensStore:
    """A lens run directory, opened for queries (files opened lazily, a few kept open)."""

    def __init__(self, run_dir: Path | str, *, only: Path | str | None = None) -> None:
        self.run_dir = Path(run_dir)
        if not self.run_dir.is_dir():
            raise LensError(f"lens directory {self.run_dir} does not exist")
        #: one ``.lens`` file read alone (:meth:`of_file`): the run's other files and its
        #: manifest are not consulted
        self.only = None if only is None else Path(only)
        self.manifest = None if self.only is not None else LensManifest.read(self.run_dir)
        self.missing: list[str] = []
        self.unreadable: list[str] = []
        #: files whose tick range another file's range contains (a crash between writing
        #: a merged window file and removing the pieces it merged): never read
        self.superseded: list[str] = []
        self.chunks = self._discover()
        #: chunks retention deleted (name, tick_range): listed apart from missing ones
        self.pruned = _pruned(self.manifest, {r.name for r in self.chunks})
        self.missing = [n for n in self.missing if n not in {e["name"] for e in self.pruned}]
        self._files: dict[str, ChunkFile] = {}
        #: values tiles (and by-sample groups) decoded by this store's files: the reader
        #: seam's counter (what an open that must read no values is checked by)
        self.reads = ValueReads()
        self._keys: dict[tuple[str, str], _Keys | None] = {}
        self._grid: tuple[object, CubedSphere] | None = None
        self._gaps: list[LensGap] | None = None
        self._unit_cache: dict[str, Any] | None = None
        self._copies: list[BySampleFile] | None = None

    @classmethod
    def of_file(cls, path: Path | str) -> LensStore:
        """One ``.lens`` file (a chunk, or the full snapshot) as a store of its own: its
        frames alone, its gaps those inside its tick range, identity from its header."""
        path = Path(path)
        if not path.is_file():
            raise LensError(f"{path} is not a file (expected a .lens chunk or full snapshot)")
        return cls(path.parent, only=path)

    def __enter__(self) -> LensStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for chunk in self._files.values():
            chunk.close()
        self._files.clear()
        for copy in self._copies or []:
            copy.close()
        self._copies = None

    # -- discovery ------------------------------------------------------------------------

    def _discover(self) -> list[ChunkRef]:
        if self.only is not None:  # its own header: any LensError is the caller's answer
            return [_ref_from_header(self.only)]
        chunks = (self.manifest or {}).get("chunks", [])
        listed = {str(c.get("name")): c for c in chunks if isinstance(c, dict)}
        refs = []
        for path in self.run_dir.iterdir():
            window = layout.parse_lens_chunk_name(path.name)
            if window is None or not path.is_file():
                continue
            entry = listed.get(path.name)
            ref = None
            if entry is not None and entry.get("bytes") == path.stat().st_size:
                with contextlib.suppress(KeyError, TypeError, ValueError):  # else: its header
                    ref = _ref_from_entry(path, entry)
            try:
                ref = ref or _ref_from_header(path)
                _check_window(ref, window)
            except LensError as exc:  # one bad unlisted file must not hide the others
                self.unreadable.append(f"{path.name}: {str(exc).splitlines()[0]}")
                continue
            refs.append(ref)
        present = {r.name for r in refs}
        self.missing = sorted(n for n in listed if n not in present)
        kept, self.superseded = drop_superseded(refs)
        return kept

    @property
    def identity(self) -> LensIdentity:
        """Run id, world, seed, topology: from the manifest, else the first chunk; units
        from the chunks (:meth:`units`: a header read), which the manifest does not repeat."""
        return dataclasses.replace(self._identity(), **self._units())

    def _identity(self) -> LensIdentity:
        """:attr:`identity` without units: read from no file when there is a manifest."""
        m = self.manifest
        if m is not None:
            return LensIdentity(
                m.get("run_id", ""),
                m.get("world", ""),
                m.get("seed"),
                m.get("ir_hash"),
                m.get("stride"),
                m.get("topology"),
            )
        if not self.chunks:
            return LensIdentity()
        return self._file(self.chunks[0]).header.identity

    def units(self, name: str) -> str | None:
        """The unit of field ``name`` (None: none declared, or chunks written before units
        were recorded), as the newest chunk holding the field records it.

        Units are labels, outside the IR hash, so a resumed run's world may have declared
        or corrected one since its first segment: the newest declaration wins.
        """
        self._check_field(name)
        return self._units()["field_units"].get(name)

    def signal_units(self, name: str) -> str | None:
        """The unit of global signal ``name`` the newest chunk records, or None."""
        return self._units()["signal_units"].get(name)

    @property
    def time_units(self) -> str | None:
        """The unit of sim time (the world's ``time_units``) the newest chunk records."""
        return self._units()["time_units"]

    def _units(self) -> dict[str, Any]:
        """Field, signal and time units, read from chunk headers once: the newest chunk,
        plus for a field it lacks the newest chunk holding it (usually one header in all).
        A chunk whose header cannot be read gives none (it is listed in ``unreadable``)."""
        if self._unit_cache is None:
            fields: dict[str, str] = {}
            found: dict[str, Any] = {"signal_units": {}, "time_units": None}
            wanted = set(self.fields)
            for n, ref in enumerate(reversed(self.chunks)):
                if not (n == 0 or wanted & set(ref.fields)):
                    continue
                try:
                    ident = self._file(ref).header.identity
                except LensError as exc:
                    self.unreadable.append(f"{ref.name}: {str(exc).splitlines()[0]}")
                    continue
                if n == 0:
                    found = {"signal_units": ident.signal_units, "time_units": ident.time_units}
                for name in wanted & set(ref.fields):
                    if name in ident.field_units:
                        fields[name] = ident.field_units[name]
                wanted -= set(ref.fields)
                if not wanted:
                    break
            self._unit_cache = {"field_units": fields, **found}
        return self._unit_cache

    @property
    def stride(self) -> int:
        """The capture stride: the manifest's, else the first chunk header's, else 1."""
        stride = (self.manifest or {}).get("stride")
        if isinstance(stride, int) and not isinstance(stride, bool) and stride >= 1:
            return stride
        for ref in self.chunks[:1]:
            stride = ref.stride or self._file(ref).header.identity.stride
        return stride if isinstance(stride, int) and stride >= 1 else 1

    @property
    def gaps(self) -> list[LensGap]:
        """Every range of capture ticks no file holds, whatever the cause, in tick order.

        Derived from the files (holes between the chunks' tick ranges, capture ticks a
        chunk's range holds but its frames do not) and merged with the causes the
        manifest recorded (see :mod:`continuum.lens.gaps`), so it holds after a SIGKILL
        that left the manifest behind the files. Reads only the ticks array of a chunk
        holding fewer frames than its range's capture ticks, or one a recorded gap meets.
        A chunk whose ticks cannot be read counts as holding none (and is listed in
        :attr:`unreadable`).
        """
        if self._gaps is None:
            refs = self.chunks

            def ticks_of(k: int) -> np.ndarray:
                try:
                    return self._file(refs[k]).ticks()
                except LensError as exc:
                    self.unreadable.append(f"{refs[k].name}: {str(exc).splitlines()[0]}")
                    return np.array([], dtype=np.int64)

            recorded = manifest_gaps((self.manifest or {}).get("gaps"))
            spans = [(r.start, r.end) for r in refs]
            derived = derive_gaps(self.stride, spans, [r.frames for r in refs], ticks_of, recorded)
            pruned = [tuple(e["tick_range"]) for e in self.pruned]
            self._gaps = without(derived, pruned, self.stride) if pruned else derived
        return self._gaps

    def gaps_between(self, lo: float, hi: float) -> list[LensGap]:
        """The gaps with a capture tick strictly between ticks ``lo`` and ``hi``."""
        return [g for g in self.gaps if g.start < hi and g.end - 1 > lo]

    def _gap_at(self, tick: float) -> LensGap | None:
        return next((g for g in self.gaps if g.start <= tick < g.end), None)

    @property
    def topology(self) -> CubedSphere | None:
        spec = self._identity().topology
        if not spec:
            return None
        if self._grid is None or self._grid[0] is not spec:  # parsed once per identity
            self._grid = (spec, topology_from_spec(spec))
        return self._grid[1]

    @property
    def fields(self) -> list[str]:
        return sorted({f for r in self.chunks for f in r.fields})

    @property
    def by_sample(self) -> list[BySampleFile]:
        """The run's current by-sample copies (:mod:`continuum.lens.by_sample`), opened
        on first use; a stale or unreadable one is skipped (the chunks answer instead)."""
        if self._copies is None:
            self._copies = []
            chunks = [(r.name, r.start, r.end, self._checksum(r)) for r in self.chunks]
            listed = [] if self.only is not None else by_sample.listed(self.run_dir)
            for path, span in listed:
                try:
                    copy = BySampleFile(path, reads=self.reads)
                except LensError as exc:
                    self.unreadable.append(f"{path.name}: {str(exc).splitlines()[0]}")
                    continue
                if by_sample.current(copy, span, chunks):
                    self._copies.append(copy)
                else:
                    copy.close()
        return self._copies

    def _checksum(self, ref: ChunkRef) -> str | None:
        """A chunk's payload checksum (None if it cannot be read now: gone, say, pruned
        since the directory was listed — no copy matches it then)."""
        if ref.checksum:
            return ref.checksum
        try:
            return self._file(ref).header.checksum
        except LensError:
            return None

    def _past_damage(self, answer: Callable[[], _T]) -> _T:
        """``answer()``, again without any copy that turned out damaged: a copy is
        derived data, so its damage costs speed and one warning, never the answer."""
        while True:
            try:
                return answer()
            except _DamagedCopy as damaged:
                log.warning("%s; answering from the chunks (rebuild it: %s)", damaged, _REBUILD)
                if self._copies is not None:
                    self._copies = [c for c in self._copies if c is not damaged.copy]
                damaged.copy.close()

    def _copy_of(self, ref: ChunkRef, name: str) -> BySampleFile | None:
        """The current by-sample copy holding ``ref``'s frames of field ``name``."""
        for copy in self.by_sample:
            lo, hi = copy.tick_range
            if lo <= ref.start and ref.end <= hi and name in copy.doc.field_configs:
                return copy
        return None

    def _file(self, ref: ChunkRef) -> ChunkFile:
        chunk = self._files.get(ref.name)
        if chunk is None:
            if len(self._files) >= _OPEN_FILES:
                self._files.pop(next(iter(self._files))).close()
            chunk = self._files[ref.name] = ChunkFile(ref.path, reads=self.reads)
        return chunk

    def _check_field(self, name: str) -> None:
        if name not in self.fields:
            have = ", ".join(self.fields) or "none"
            raise LensError(f"no field {name!r} in {self.run_dir}; captured fields: {have}")

    def _field_keys(self, ref: ChunkRef, name: str) -> _Keys | None:
        """The frames of ``name`` in chunk ``ref`` (None if it holds none); cached."""
        key = (ref.name, name)
        if key not in self._keys:
            self._keys[key] = None
            if name in ref.fields:
                chunk = self._file(ref)
                rows = chunk.rows(name)
                ticks, times = chunk.ticks(), chunk.sim_times()
                self._keys[key] = _Keys(ticks[rows], times[rows], rows, chunk.config(name))
        return self._keys[key]

    def config(self, name: str) -> FieldConfig:
        """How ``name`` is sampled (from the first chunk holding it)."""
        self._check_field(name)
        for ref in self.chunks:
            if (keys := self._field_keys(ref, name)) is not None:
                return keys.config
        raise LensError(f"no chunk of {self.run_dir} holds field {name!r}")

    def field_ticks(self, name: str) -> np.ndarray:
        """Every captured tick of ``name`` (opens every chunk holding it; duplicates once)."""
        return self._field_columns(name)[0]

    def field_times(self, name: str) -> np.ndarray:
        """The sim times of :meth:`field_ticks` (a duplicated tick's from the first chunk)."""
        return self._field_columns(name)[1]

    def _field_columns(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        self._check_field(name)
        parts = [k for r in self.chunks if (k := self._field_keys(r, name)) is not None]
        if not parts:
            return np.array([], dtype=np.int64), np.array([], dtype=np.float64)
        ticks, first = np.unique(np.concatenate([k.ticks for k in parts]), return_index=True)
        return ticks, np.concatenate([k.times for k in parts])[first]

    @property
    def signals(self) -> dict[str, str]:
        """Global signals the chunks record: name -> ``scalar`` or ``vec3`` (every chunk's
        header is read; a chunk that cannot be read is listed in :attr:`unreadable`)."""
        found: dict[str, str] = {}
        for ref in self.chunks:
            try:
                found.update(self._file(ref).header.signals)
            except LensError as exc:
                self.unreadable.append(f"{ref.name}: {str(exc).splitlines()[0]}")
        return dict(sorted(found.items()))

    def signal_history(
        self, name: str, *, start: int | None = None, stop: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(ticks, values) of global signal ``name`` at every captured tick in ``[start,
        stop]`` that recorded it: values (n,) for a scalar, (n, 3) for a vec3. Each chunk's
        small signal array is read whole; a tick two chunks hold is taken from the first."""
        parts: list[tuple[np.ndarray, np.ndarray]] = []
        for ref in self.chunks:
            if not span_meets(ref.start, ref.end, start, stop):
                continue
            chunk = self._file(ref)
            if name not in chunk.header.signals:
                continue
            ticks, values = chunk.ticks(), chunk.signal(name)
            keep = tick_mask(ticks, start, stop) & ~np.isnan(values).all(axis=1)
            parts.append((ticks[keep], values[keep]))
        if not parts:
            have = ", ".join(self.signals) or "none"
            raise LensError(f"no signal {name!r} in {self.run_dir}; recorded signals: {have}")
        ticks, first = np.unique(np.concatenate([t for t, _ in parts]), return_index=True)
        values = np.concatenate([v for _, v in parts])[first]
        return ticks, values[:, 0] if values.shape[1] == 1 else values

    # -- locating frames ------------------------------------------------------------------

    def _frame(self, name: str, tick: int) -> tuple[ChunkRef, int] | None:
        """(chunk, index among the chunk's frames of ``name``) of the frame at ``tick``."""
        for ref in self.chunks:
            if ref.start <= tick < ref.end and (keys := self._field_keys(ref, name)):
                i = int(np.searchsorted(keys.ticks, tick))
                if i < len(keys.ticks) and keys.ticks[i] == tick:
                    return ref, i
        return None

    def _neighbour(
        self, name: str, t: float, by_time: bool, before: bool
    ) -> tuple[int, float] | None:
        """(tick, tick or sim time) of the captured frame of ``name`` nearest ``t`` on one
        side (inclusive)."""
        refs = self.chunks[::-1] if before else self.chunks
        for ref in refs:
            if not _may_hold(ref, t, by_time, before):
                continue
            keys = self._field_keys(ref, name)
            if keys is None or not len(keys.ticks):
                continue
            axis = keys.times if by_time else keys.ticks
            i = int(np.searchsorted(axis, t, side="right" if before else "left")) - before
            if 0 <= i < len(axis):
                return int(keys.ticks[i]), axis[i]
        return None

    def _bracket(
        self, name: str, t: float, by_time: bool, across_gaps: bool = False
    ) -> tuple[tuple[int, int], float]:
        """Captured ticks (k0, k1) around tick or time ``t`` and the weight of k1.

        Two frames with a gap between them are not blended unless ``across_gaps``: the
        ticks in between were meant to be captured and are not, so a blend would present
        a guess as observed data (a LensError names the gap and the frames around it).
        """
        self._check_field(name)
        k0 = self._neighbour(name, t, by_time, before=True)
        k1 = self._neighbour(name, t, by_time, before=False)
        what = "sim time" if by_time else "tick"
        if k0 is None or k1 is None:
            gap = None if by_time else self._gap_at(t)
            inside = f"; it falls in a lens gap {gap.text}" if gap else ""
            raise LensError(
                f"{what} {t:g} is outside the captured frames of {name!r} in {self.run_dir}"
                f"{inside}; {self._extent_text(name, by_time)}"
            )
        both = (k0[0], k1[0])
        keys = np.array([k0[1]] if both[0] == both[1] else [k0[1], k1[1]])
        i0, i1, w = bracket(keys, t, f"field {name!r} ({what})")
        got = (both[i0], both[i1])
        if w and not across_gaps and (gaps := self.gaps_between(*got)):
            raise LensError(_across_text(what, t, got, gaps, None if by_time else self._gap_at(t)))
        return got, w

    def _extent_text(self, name: str, by_time: bool) -> str:
        refs = [r for r in self.chunks if name in r.fields and r.frames]
        if not refs:
            return "it has no frames"
        if by_time:
            return f"sim time {refs[0].first_sim_time:g}..{refs[-1].last_sim_time:g}"
        return f"ticks {refs[0].first_tick}..{refs[-1].last_tick} ({len(refs)} chunks)"

    # -- queries --------------------------------------------------------------------------

    def _located(self, name: str, tick: int) -> tuple[ChunkFile, _Keys, int]:
        """The open chunk holding the frame of ``name`` at ``tick``, its keys and index."""
        found = self._frame(name, tick)
        keys = None if found is None else self._field_keys(found[0], name)
        if found is None or keys is None:
            raise LensError(
                f"field {name!r} has no frame at tick {tick}; {self._extent_text(name, False)}"
                f"{self._near_text(name, tick)}"
            )
        return self._file(found[0]), keys, found[1]

    def at(self, name: str, tick: int, *, rule: str | None = None) -> Reconstruction:
        """Field ``name`` at captured ``tick``, reading only the chunk that holds it."""
        self._check_field(name)
        chunk, keys, i = self._located(name, tick)
        values = chunk.frame(name, i)
        positions = chunk.positions(name)
        if keys.config.positions == POINTS and positions is not None:
            positions = positions[i]
        elif keys.config.positions == CELLS:
            positions = self._topology_for(name).centres
        return Reconstruction(
            name,
            tick,
            float(keys.times[i]),
            keys.config,
            positions,
            values,
            self.topology,
            rule,
            units=chunk.units(name),
            time_units=chunk.time_units,
        )

    def frame_values(self, name: str, tick: int) -> np.ndarray:
        """The samples of ``name`` at captured ``tick`` alone, (m,) or (m, 3): what :meth:`at`
        holds, without building positions (a cell-centred field drawn by cell index needs
        none, and the centres of a 256-cell face cost more than the frame)."""
        self._check_field(name)
        chunk, _, i = self._located(name, tick)
        return chunk.frame(name, i)

    def _near_text(self, name: str, tick: int) -> str:
        near = [
            str(k[0])
            for before in (True, False)
            if (k := self._neighbour(name, tick, False, before)) is not None
        ]
        gap = self._gap_at(tick)
        inside = f"; it falls in a lens gap {gap.text}" if gap else ""
        return f"{inside}; nearest captured: {', '.join(near)}" if near else inside

    def _topology_for(self, name: str) -> CubedSphere:
        topology = self.topology
        if topology is None:
            raise LensError(f"field {name!r} is cell-centred but the lens has no topology spec")
        return topology

    def query(
        self,
        name: str,
        position: object,
        time: float | None = None,
        *,
        tick: float | None = None,
        rule: str | None = None,
        across_gaps: bool = False,
    ) -> PointValue:
        """Value at one position at sim ``time`` (or ``tick``), interpolated between frames.

        Only the chunk(s) holding the bracketing frames are opened, and for cell-centred
        fields only the values tile holding the position's cell is decoded. Refuses to
        interpolate across a lens gap unless ``across_gaps`` (see :meth:`_bracket`).
        """
        t, by_time = moment(time, tick)
        (k0, k1), w = self._bracket(name, t, by_time, across_gaps)
        config = self._located(name, k0)[1].config
        used = check_rule(name, config, rule)
        point = unit_points(position)[0]

        def sample(k: int) -> np.ndarray:
            return self._point_sample(name, k, used, point)

        value = interpolate(config.kind, sample, k0, k1, w)
        return PointValue(float(value) if config.kind == "scalar" else value, used, (k0, k1), w)

    def query_batch(
        self,
        name: str,
        positions: object,
        time: float | None = None,
        *,
        tick: float | None = None,
        rule: str | None = None,
        across_gaps: bool = False,
    ) -> PointValues:
        """Values at (n, 3) positions at sim ``time`` (or ``tick``): the bracketing frames
        are read whole (one chunk each). Refuses to interpolate across a lens gap unless
        ``across_gaps``."""
        t, by_time = moment(time, tick)
        (k0, k1), w = self._bracket(name, t, by_time, across_gaps)

        def frame(k: int) -> Reconstruction:
            return self.at(name, k, rule=rule)

        values, used = sample_between(frame, k0, k1, w, positions)
        return PointValues(values, used, (k0, k1), w)

    def _point_sample(self, name: str, tick: int, rule: str, point: np.ndarray) -> np.ndarray:
        """The value at one unit ``point`` in the frame at ``tick``, reading one tile."""
        chunk, keys, i = self._located(name, tick)
        config = keys.config
        if config.positions == POINTS:
            j = int(nearest_brute(_points(chunk, name)[i], point[0]))
            return np.asarray(chunk.values(name)[i, j])
        j = self._sample_index(name, config, rule, point)
        return chunk.value(name, i, j)

    def _sample_index(self, name: str, config: FieldConfig, rule: str, point: np.ndarray) -> int:
        if config.positions == GLOBAL:
            return 0
        return int(cell_indices(self._topology_for(name), rule, point)[0])

    def history(
        self,
        name: str,
        position: object,
        *,
        start: int | None = None,
        stop: int | None = None,
        rule: str | None = None,
        across_gaps: bool = False,
    ) -> FieldHistory:
        """One value per captured tick in ``[start, stop]`` at ``position``.

        Per chunk, cell-centred fields decode only the tile holding the position's cell.

        A window holding a lens gap is refused unless ``across_gaps``: the rows would
        skip ticks the lens was meant to capture without a word, and whoever plots or
        differentiates them interpolates across the hole. With ``across_gaps`` the
        history's ``gaps`` lists the gaps in the window.

        A by-sample copy found damaged is dropped (one warning) and its chunks answer.
        """
        return self._past_damage(
            lambda: self._history(name, position, start, stop, rule, across_gaps)
        )

    def _history(
        self,
        name: str,
        position: object,
        start: int | None,
        stop: int | None,
        rule: str | None,
        across_gaps: bool,
    ) -> FieldHistory:
        self._check_field(name)
        gaps = in_window(self.gaps, start, stop)
        if gaps and not across_gaps:
            raise LensError(_window_text(name, start, stop, gaps))
        point = unit_points(position)[0]
        parts, used_rule, copied = [], None, set()
        for ref in self.chunks:
            if name not in ref.fields or not span_meets(ref.start, ref.end, start, stop):
                continue
            copy = self._copy_of(ref, name)  # the chunk is not even opened
            if copy is not None:  # one decoded frame of the copy serves all its chunks
                used_rule = check_rule(name, copy.config(name), rule)
                if copy.path not in copied:
                    copied.add(copy.path)
                    j = self._sample_index(name, copy.config(name), used_rule, point)

                    def part(c: BySampleFile, j: int = j) -> _Part:
                        return _copy_part(c, name, start, stop, c.history(name, j))

                    parts.append(_read_copy(copy, part))
                continue
            keys = self._field_keys(ref, name)
            if keys is None:
                continue
            used_rule = check_rule(name, keys.config, rule)
            sel = np.flatnonzero(tick_mask(keys.ticks, start, stop))
            if len(sel):
                values = self._history_values(ref, name, keys.config, used_rule, point)[sel]
                parts.append((keys.ticks[sel], keys.times[sel], values))
        ticks, times, values = self._merged(name, parts, start, stop)
        return FieldHistory(name, str(used_rule), ticks, times, values, tuple(gaps))

    def _history_values(
        self, ref: ChunkRef, name: str, config: FieldConfig, rule: str, point: np.ndarray
    ) -> np.ndarray:
        chunk = self._file(ref)
        if config.positions == POINTS:
            idx = nearest_brute(_points(chunk, name), point[0])
            return np.take_along_axis(chunk.values(name), _expand(idx, config), axis=1)[:, 0]
        j = self._sample_index(name, config, rule, point)
        return chunk.values(name, np.array([j]))[:, 0]

    # -- regions --------------------------------------------------------------------------

    def reduce(
        self,
        name: str,
        how: str = "mean",
        region: Region | None = None,
        *,
        start: int | None = None,
        stop: int | None = None,
        across_gaps: bool = False,
    ) -> FieldHistory:
        """The ``mean`` or ``sum`` of field ``name`` over ``region`` (default: every
        sample) at each captured tick in ``[start, stop]``: one value per tick (vectors
        component-wise), as ``FieldHistory`` with rule ``mean``/``sum``.

        The region becomes sample runs before anything is read (:mod:`.region`); spans a
        current by-sample copy covers decode only the sample groups of those runs, others
        only the tiles they touch. NaN propagates (a NaN sample makes that tick's mean
        NaN), as the values are, unlike SQL's ``AVG``, which skips NULL. Cell-centred and
        global fields only; a window holding a lens gap is refused unless ``across_gaps``.
        A by-sample copy found damaged is dropped (one warning) and its chunks answer.
        """
        return self._past_damage(lambda: self._reduce(name, how, region, start, stop, across_gaps))

    def _reduce(
        self,
        name: str,
        how: str,
        region: Region | None,
        start: int | None,
        stop: int | None,
        across_gaps: bool,
    ) -> FieldHistory:
        if how not in ("mean", "sum"):
            raise LensError(f"reduce: how must be 'mean' or 'sum', not {how!r}")
        self._check_field(name)
        gaps = in_window(self.gaps, start, stop)
        if gaps and not across_gaps:
            raise LensError(_window_text(name, start, stop, gaps))
        config = self.config(name)
        cells = self._region_cells(name, config, region or Region())
        spans = runs(cells)
        parts, copied = [], set()
        for ref in self.chunks:
            if name not in ref.fields or not span_meets(ref.start, ref.end, start, stop):
                continue
            copy = self._copy_of(ref, name)
            if copy is not None:
                if copy.path not in copied:
                    copied.add(copy.path)
                    parts.append(
                        _read_copy(
                            copy, lambda c: _copy_part(c, name, start, stop, c.sums(name, spans))
                        )
                    )
                continue
            keys = self._field_keys(ref, name)
            if keys is None:
                continue
            sel = np.flatnonzero(tick_mask(keys.ticks, start, stop))
            if len(sel):
                sums = self._file(ref).sums(name, spans)[sel]
                parts.append((keys.ticks[sel], keys.times[sel], sums))
        ticks, times, values = self._merged(name, parts, start, stop)
        if how == "mean":
            values = values / max(len(cells), 1)
        return FieldHistory(name, how, ticks, times, values, tuple(gaps))

    def _merged(
        self,
        name: str,
        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
        start: int | None,
        stop: int | None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The parts of a window's answer merged (:func:`_merged`), or why there are none."""
        if not parts:
            raise LensError(
                f"field {name!r} has no frames in [{start}, {stop}]; "
                f"{self._extent_text(name, False)}"
            )
        return _merged(parts)

    def _region_cells(self, name: str, config: FieldConfig, region: Region) -> np.ndarray:
        if config.positions == POINTS:
            raise LensError(f"field {name!r} has point samples: reduce over cells or globals")
        if config.positions == GLOBAL:
            return np.zeros(1, np.int64)
        cells = region.cells(self._topology_for(name))
        if not len(cells):
            raise LensError(f"the region {region} holds no cell of field {name!r}")
        return cells

    # -- whole frames ---------------------------------------------------------------------

    def load(
        self,
        fields: list[str] | None = None,
        *,
        start: int | None = None,
        stop: int | None = None,
        on_chunk: Callable[[int, int], None] | None = None,
    ) -> FieldLens:
        """Frames of ``fields`` (default all) with ticks in [start, stop], merged by tick.
        ``on_chunk(done, total)``: called before the first chunk is read and after each."""
        for name in fields or []:
            self._check_field(name)
        refs = [ref for ref in self.chunks if span_meets(ref.start, ref.end, start, stop)]
        datas = []
        for done, ref in enumerate(refs):
            if on_chunk is not None:
                on_chunk(done, len(refs))
            datas.append(_slice(self._read(ref, fields), start, stop))
        if on_chunk is not None:
            on_chunk(len(refs), len(refs))
        return FieldLens.from_chunks(datas, self.identity)

    def _read(self, ref: ChunkRef, fields: list[str] | None) -> ChunkData:
        chunk = self._file(ref)
        if fields is None:
            return chunk.read_all()
        data = ChunkData(chunk.ticks(), chunk.sim_times())
        for name in fields:
            if name in chunk.header.fields:
                data.fields[name] = FieldSeries(
                    chunk.config(name), chunk.rows(name), chunk.positions(name), chunk.values(name)
                )
        return data

    def compact(self, on_chunk: Callable[[int, int], None] | None = None) -> ContainerInfo:
        """Write every frame of the run into the full snapshot (all in memory);
        ``on_chunk(done, total)`` follows the chunks read (:meth:`load`)."""
        info = self.load(on_chunk=on_chunk).save_snapshot(layout.lens_full_path(self.run_dir))
        if self.manifest is not None:
            manifest = LensManifest(self.run_dir, self.manifest)
            manifest.update(full=chunk_entry(header_of(info)))
        return info

    def summary(self) -> dict[str, Any]:
        """What ``continuum lens load DIR`` prints: fields, tick range, frames, sizes."""
        ident = self._identity()
        refs = self.chunks
        full = layout.lens_full_path(self.run_dir)
        gaps = self.gaps
        return {
            "path": shown(self.run_dir),  # an s3:// lens dir as its URL
            "run_id": ident.run_id,
            "world": ident.world,
            "seed": ident.seed,
            "topology": ident.topology,
            "chunks": len(refs),
            "frames": sum(r.frames for r in refs),
            "tick_range": [refs[0].start, max(r.end for r in refs)] if refs else None,
            "first_tick": min(_known(r.first_tick for r in refs if r.frames), default=None),
            "last_tick": max(_known(r.last_tick for r in refs if r.frames), default=None),
            "fields": self.fields,
            # each field's and signal's unit (those declaring one) and sim time's
            "units": self._units()["field_units"],
            "signal_units": self._units()["signal_units"],
            "time_units": self.time_units,
            "bytes": sum(r.bytes for r in refs),
            "raw_bytes": sum(r.raw_bytes or 0 for r in refs),
            "stride": self.stride,
            "gaps": [g.to_json() for g in gaps],
            "missing_ticks": sum(g.ticks for g in gaps),
            "missing_chunks": self.missing,
            "pruned_chunks": self.pruned,
            "unreadable_chunks": self.unreadable,
            "superseded_chunks": self.superseded,
            "dropped_frames": (self.manifest or {}).get("dropped_frames"),
            "full_file": str(full) if full.is_file() else None,
            # the current by-sample copies (stale ones are not listed: they answer nothing)
            "by_sample_files": [c.path.name for c in self.by_sample],
            "by_sample_bytes": sum(c.path.stat().st_size for c in self.by_sample),
        }


_ACROSS = "pass --across-gaps (Python: across_gaps=True) to interpolate across it"


def _across_text(
    what: str, t: float, frames: tuple[int, int], gaps: list[LensGap], inside: LensGap | None
) -> str:
    """Why a query between captured ``frames`` is refused, in one line."""
    k0, k1 = frames
    if inside is not None:
        return (
            f"{what} {t:g} falls in a lens gap {inside.text}; the nearest captured frames "
            f"are {k0} and {k1}; {_ACROSS}"
        )
    more = f" (and {len(gaps) - 1} more)" if len(gaps) > 1 else ""
    return (
        f"{what} {t:g} lies between the captured frames {k0} and {k1}, across a lens gap "
        f"{gaps[0].text}{more}; {_ACROSS}"
    )


def _window_text(name: str, start: int | None, stop: int | None, gaps: list[LensGap]) -> str:
    """Why a history over a window holding gaps is refused, in one line."""
    window = f"ticks [{'start' if start is None else start}, {'end' if stop is None else stop}]"
    more = f" and {len(gaps) - 1} more" if len(gaps) > 1 else ""
    missing = sum(g.ticks for g in gaps)
    return (
        f"the history of {name!r} over {window} crosses lens gap {gaps[0].text}{more} "
        f"({missing} capture ticks missing); pass --across-gaps (Python: across_gaps=True) "
        "for the captured ticks around them, or choose --from/--to outside them"
    )


def _merged(
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ticks, times, values) of several parts in tick order, a tick held twice once
    (equal ticks keep part order: the first chunk wins)."""
    ticks = np.concatenate([p[0] for p in parts])
    order = np.argsort(ticks, kind="stable")
    keep = order[np.r_[True, np.diff(ticks[order]) > 0]]
    ticks, times, values = (np.concatenate([p[k] for p in parts])[keep] for k in range(3))
    return ticks, times, values


_Part = tuple[np.ndarray, np.ndarray, np.ndarray]  # ticks, sim times, values


class _DamagedCopy(Exception):
    """Internal: a by-sample copy failed its checks while being read."""

    def __init__(self, copy: BySampleFile, error: LensCorruptError) -> None:
        super().__init__(str(error).splitlines()[0])
        self.copy = copy


_REBUILD = "continuum lens compact --by-sample"


def _read_copy(copy: BySampleFile, read: Callable[[BySampleFile], _Part]) -> _Part:
    try:
        return read(copy)
    except LensCorruptError as exc:
        raise _DamagedCopy(copy, exc) from None


def _copy_part(
    copy: BySampleFile, name: str, start: int | None, stop: int | None, values: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ticks, times, values) of a by-sample copy's frames of ``name`` in the window."""
    rows = copy.rows(name)
    ticks, times = copy.ticks()[rows], copy.sim_times()[rows]
    sel = tick_mask(ticks, start, stop)
    return ticks[sel], times[sel], values[sel]


def _known(values: Iterable[int | None]) -> list[int]:
    return [v for v in values if v is not None]


def _points(chunk: ChunkFile, name: str) -> np.ndarray:
    """The (F_f, m, 3) positions of a point-sample field."""
    positions = chunk.positions(name)
    if positions is None:
        raise LensError(f"{chunk.path}: field {name!r} has no sample positions")
    return positions


def _may_hold(ref: ChunkRef, t: float, by_time: bool, before: bool) -> bool:
    """Whether chunk ``ref`` can hold a frame at or before (after) ``t``."""
    if not ref.frames:
        return False
    if by_time:
        first, last = ref.first_sim_time, ref.last_sim_time
        if first is None or last is None:
            return True  # unknown: look inside
        return first <= t if before else last >= t
    return ref.start <= t if before else ref.end > t


def _pruned(manifest: dict[str, Any] | None, present: set[str]) -> list[dict[str, Any]]:
    """The chunks the manifest records as pruned by retention, by tick (not damage: see
    :func:`continuum.lens.manifest.record_pruned`); a file there again is not pruned."""
    out = []
    for e in (manifest or {}).get("pruned") or []:
        span = e.get("tick_range") if isinstance(e, dict) else None
        if isinstance(span, list) and len(span) == 2 and str(e.get("name")) not in present:
            out.append({"name": str(e.get("name")), "tick_range": [span[0], span[1]]})
    return sorted(out, key=lambda e: e["tick_range"])


def _expand(idx: np.ndarray, config: FieldConfig) -> np.ndarray:
    return idx.reshape(-1, 1, 1) if config.kind == "vec3" else idx.reshape(-1, 1)


def _slice(data: ChunkData, start: int | None, stop: int | None) -> ChunkData:
    """The frames of ``data`` with ticks in [start, stop]."""
    keep = tick_mask(data.ticks, start, stop)
    if keep.all():
        return data
    new_row = np.cumsum(keep) - 1
    out = ChunkData(data.ticks[keep], data.sim_times[keep])
    for name, fs in data.fields.items():
        sel = keep[fs.rows]
        pos = fs.positions
        if fs.config.positions == POINTS and pos is not None:
            pos = pos[sel]
        values = np.asarray(fs.values)[sel]
        out.fields[name] = FieldSeries(fs.config, new_row[fs.rows[sel]], pos, values)
    out.signals = {n: v[keep] for n, v in data.signals.items()}
    return out


def _ref_from_entry(path: Path, e: dict[str, Any]) -> ChunkRef:
    start, end = (int(v) for v in e["tick_range"])
    return ChunkRef(
        path.name,
        path,
        start,
        end,
        int(e.get("frames", 0)),
        e.get("first_tick"),
        e.get("last_tick"),
        e.get("first_sim_time"),
        e.get("last_sim_time"),
        tuple(e.get("fields", ())),
        int(e["bytes"]),
        e.get("raw_bytes"),
        e.get("checksum"),
    )


def _ref_from_header(path: Path) -> ChunkRef:
    with ChunkFile(path) as chunk:
        h = chunk.header
    return ChunkRef(
        path.name,
        path,
        int(h.tick_range[0]),
        int(h.tick_range[1]),
        h.frames,
        h.first_tick,
        h.last_tick,
        h.first_sim_time,
        h.last_sim_time,
        tuple(h.fields),
        h.disk_bytes,
        h.raw_bytes,
        h.checksum,
        h.identity.stride,
    )


def _check_window(ref: ChunkRef, window: tuple[int, int]) -> None:
    """A file's tick range must lie inside the window its name gives: a chunk is named by
    its window ``[kC, (k+1)C)`` (older pieces by their own range, which lies inside it
    too); a range outside it is a renamed or forged file, refused rather than guessed."""
    if not (window[0] <= ref.start <= ref.end <= window[1]):
        raise LensError(
            f"its tick range [{ref.start}, {ref.end}) lies outside the window "
            f"[{window[0]}, {window[1]}) its name gives; move the file out of the run "
            "directory (or back to its own name)"
        )


def drop_superseded(refs: list[ChunkRef]) -> tuple[list[ChunkRef], list[str]]:
    """(the files read, sorted by range; the names of those another file's range contains).

    A crash between writing a merged window file and removing the pieces it merged leaves
    both: the file whose range contains the other's holds its frames too, and wins. Of two
    files with the same range the first by name wins. Files that overlap without one
    containing the other are both kept (the first holding a tick wins, see the module
    docstring)."""
    order = sorted(refs, key=lambda r: (r.start, -r.end, r.name))
    kept: list[ChunkRef] = []
    superseded: list[str] = []
    reach = None  # the widest range kept so far that may contain later ones
    for ref in order:
        if reach is not None and reach.start <= ref.start and ref.end <= reach.end:
            superseded.append(ref.name)
            continue
        kept.append(ref)
        if reach is None or ref.end > reach.end:
            reach = ref
    return sorted(kept, key=lambda r: (r.start, r.end, r.name)), sorted(superseded)
