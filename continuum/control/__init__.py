"""The control channel of a live run: a private Unix socket for status, checkpoint, flush, stop.

Owns: the socket's protocol, its server (threads beside the tick loop, which only takes
queued commands between ticks) and the client used by ``continuum ctl`` and the inspector.
Must not import: anything but the standard library, :mod:`continuum.layout` and
:mod:`continuum.errors` (a live run's socket loads nothing heavy).
"""

from continuum.control.client import live_status, probe, remove_stale_socket, request
from continuum.control.directory import check_private, control_path_for, private_dir
from continuum.control.protocol import COMMANDS, LOOP_COMMANDS
from continuum.control.server import PENDING_AFTER, Command, ControlServer
from continuum.errors import (
    ControlError,
    ControlPermissionError,
    ControlTimeoutError,
    NotLiveError,
    StaleSocketError,
)

__all__ = [
    "COMMANDS",
    "LOOP_COMMANDS",
    "PENDING_AFTER",
    "Command",
    "ControlError",
    "ControlPermissionError",
    "ControlServer",
    "ControlTimeoutError",
    "NotLiveError",
    "StaleSocketError",
    "check_private",
    "control_path_for",
    "live_status",
    "private_dir",
    "probe",
    "remove_stale_socket",
    "request",
]
