"""Runtime: the causal State and the deterministic tick loop.

Owns stepping a compiled world forward and evaluating fields on request. It
must not touch disk, the catalog or compression: checkpoint and lens writers
observe the loop from outside and receive immutable snapshots. It may import
world, topology, layout and errors; never blobs, checkpoint, lens, catalog,
sql or runner. Run ids are :func:`continuum.layout.new_run_id`'s.
"""

from continuum.runtime.simulation import FieldFrame, Simulation, TickObserver
from continuum.runtime.state import State

__all__ = ["FieldFrame", "Simulation", "State", "TickObserver"]
