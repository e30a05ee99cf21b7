"""The one exception hierarchy of Continuum.

Every error a user can cause is a ``ContinuumError``; the CLI prints its message
as a single line and exits non-zero, so messages say what was expected, what
was found and, where there is one, what to type next.

    ContinuumError
    ├── WorldError            a world or scenario that cannot be loaded
    │   ├── WorldNotFoundError (also FileNotFoundError)
    │   └── ExpressionError   an expression outside the safe language, or mistyped
    ├── SimulationError       a run that cannot proceed (bad state, NaN guard...)
    ├── BlobError             a blob file that is truncated, corrupt or foreign
    ├── CheckpointError       checkpoint write, discovery or validation failures
    │   ├── CheckpointNotFoundError (also FileNotFoundError)
    │   ├── CheckpointCorruptError (also BlobError)
    │   └── ResumeMismatchError   world/era/stratum/schema differ from the checkpoint
    ├── LensError             lens capture, chunk files and queries
    │   └── LensCorruptError (also BlobError)
    ├── CatalogError          catalog unreachable, schema too new, unknown run...
    └── QueryError            SQL over field history
"""

from __future__ import annotations


class ContinuumError(Exception):
    """Base of every error Continuum raises on purpose."""


class WorldError(ContinuumError, ValueError):
    """A world directory or scenario that cannot be loaded."""


class WorldNotFoundError(WorldError, FileNotFoundError):
    """The world path or name does not resolve to a world directory."""


class ExpressionError(WorldError):
    """An expression that is not in the safe language or does not type-check."""


class SimulationError(ContinuumError, RuntimeError):
    """The tick loop cannot go on."""


class BlobError(ContinuumError, ValueError):
    """A blob file (.ckpt, .lens) that is truncated, corrupt or not ours."""


class CheckpointError(ContinuumError):
    """Checkpoint writing, discovery or validation failed."""


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
    """No (intact) checkpoint where one was asked for."""


class CheckpointCorruptError(CheckpointError, BlobError):
    """A checkpoint file failed its structural or checksum checks."""


class ResumeMismatchError(CheckpointError):
    """The checkpoint does not fit the world it is resumed under."""


class LensError(ContinuumError):
    """Lens capture, chunk files or field queries failed."""


class LensCorruptError(LensError, BlobError):
    """A lens chunk failed its structural or checksum checks."""


class CatalogError(ContinuumError):
    """The run catalog is unreachable, too new, or lacks what was asked for."""


class QueryError(ContinuumError):
    """SQL over field history failed or was refused."""
