"""Render one reconstructed frame on an equirectangular lat/lon map.

matplotlib is the optional extra ``continuum[plot]``, imported only here and only when
a plot is asked for; without it the error says how to install it. Figures are built
with ``matplotlib.figure.Figure`` (no pyplot global state, no display needed).

Cell-centred and global fields are sampled on a ``width x width/2`` lat/lon grid of
pixel centres under the reconstruction's rule (so the map shows the cells themselves
with the containing rule); vec3 fields are shown by magnitude. Point samples (plates)
are drawn where they are, coloured by value or magnitude, with their tangent (east,
north) components as arrows for vec3 fields.

Labels carry the reconstruction's units (the world's, recorded in the chunk header): the
colour bar ``atmosphere.temperature (K)``, the title's sim time ``4.06e+08 yr``. Without
a declared unit the label is the name alone: no unit is guessed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from continuum.errors import LensError
from continuum.lens.reconstruct import POINTS, Reconstruction


def _figure_class() -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise LensError(
            "plotting needs matplotlib, an optional extra: pip install 'continuum[plot]'"
        ) from None
    return Figure


def lat_lon_grid(width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lat, lon) in radians of pixel centres, north up, and their (h, w, 3) unit vectors."""
    height = width // 2
    lon = -np.pi + (np.arange(width) + 0.5) * (2 * np.pi / width)
    lat = np.pi / 2 - (np.arange(height) + 0.5) * (np.pi / height)
    lon_g, lat_g = np.meshgrid(lon, lat)
    xyz = np.stack(
        [np.cos(lat_g) * np.cos(lon_g), np.cos(lat_g) * np.sin(lon_g), np.sin(lat_g)], axis=-1
    )
    return lat, lon, xyz


#: The figure's size in inches; ``width`` pixels are ``width / FIGURE_INCHES[0]`` dots per
#: inch, so a map looks the same at every width, only sharper.
FIGURE_INCHES = (12.0, 6.6)


def render_map(recon: Reconstruction, output: Path, *, width: int = 1440) -> Path:
    """Write ``recon`` as a map to ``output`` (format from its extension), ``width`` pixels
    wide (a PNG exactly; SVG and PDF at that size in pixels at their dpi). The layout is
    constrained to the figure rather than cropped to its contents (``bbox_inches="tight"``
    would change the width by however much the labels need)."""
    dpi = width / FIGURE_INCHES[0]
    figure = _figure_class()(figsize=FIGURE_INCHES, dpi=dpi, layout="constrained")
    ax = figure.add_subplot(1, 1, 1)
    vector = recon.config.kind == "vec3"
    label = _labelled(f"|{recon.field}|" if vector else recon.field, recon.units)
    if recon.config.positions == POINTS:
        artist = _draw_points(ax, recon, vector)
    else:
        _, _, xyz = lat_lon_grid(width)
        values = recon.sample_batch(xyz.reshape(-1, 3))
        if vector:
            values = np.linalg.norm(values, axis=-1)
        image = values.reshape(xyz.shape[:2])
        artist = ax.imshow(image, extent=(-180, 180, -90, 90), origin="upper", cmap="viridis")
    figure.colorbar(artist, ax=ax, label=label, shrink=0.8)
    ax.set_xlim(-180, 180)
    ax.set_ylim(-90, 90)
    ax.set_xlabel("longitude (deg)")
    ax.set_ylabel("latitude (deg)")
    ax.set_title(f"{recon.field} at tick {recon.tick} ({sim_time_text(recon)}), {recon.rule} rule")
    try:
        figure.savefig(output, dpi=dpi)
    except (OSError, ValueError) as exc:
        raise LensError(f"cannot write plot {output}: {exc}") from None
    return output


def _labelled(name: str, units: str | None) -> str:
    """``name (units)``, or ``name`` when no unit is declared."""
    return f"{name} ({units})" if units else name


def sim_time_text(recon: Reconstruction) -> str:
    """``sim time 4.06e+08 yr``: the frame's sim time with its unit, when declared."""
    unit = f" {recon.time_units}" if recon.time_units else ""
    return f"sim time {recon.sim_time:g}{unit}"


def _draw_points(ax: Any, recon: Reconstruction, vector: bool) -> Any:
    """Scatter point samples at their lat/lon; arrows for vec3 tangent components."""
    assert recon.positions is not None
    p = recon.positions / np.linalg.norm(recon.positions, axis=1, keepdims=True)
    lat, lon = np.arcsin(np.clip(p[:, 2], -1, 1)), np.arctan2(p[:, 1], p[:, 0])
    values = np.linalg.norm(recon.values, axis=-1) if vector else recon.values
    artist = ax.scatter(np.degrees(lon), np.degrees(lat), c=values, s=60, cmap="viridis")
    if vector:
        east = np.stack([-np.sin(lon), np.cos(lon), np.zeros_like(lon)], axis=1)
        north = np.stack(
            [-np.sin(lat) * np.cos(lon), -np.sin(lat) * np.sin(lon), np.cos(lat)], axis=1
        )
        u, v = (recon.values * east).sum(1), (recon.values * north).sum(1)
        ax.quiver(np.degrees(lon), np.degrees(lat), u, v, color="black", width=0.003)
    ax.grid(True, alpha=0.3)
    return artist
