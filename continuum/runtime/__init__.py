"""Runtime: the causal State and the deterministic tick loop.

Owns stepping a compiled world forward and evaluating fields on request. It
must not touch disk, the catalog or compression: checkpoint and lens writers
observe the loop from outside and receive immutable snapshots.
"""

from continuum.runtime.ids import new_run_id
from continuum.runtime.simulation import FieldFrame, Simulation, TickObserver
from continuum.runtime.state import State

__all__ = ["FieldFrame", "Simulation", "State", "TickObserver", "new_run_id"]
