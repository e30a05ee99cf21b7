"""The control channel of a live run: a private socket for status, checkpoint, flush, stop.

Owns: the socket's protocol, its server (threads beside the tick loop, which only takes
queued commands between ticks) and the client used by ``continuum ctl`` and the inspector.
Must not import: anything but the standard library, :mod:`continuum.layout` and
:mod:`continuum.errors` (a live run's socket loads nothing heavy).
"""
